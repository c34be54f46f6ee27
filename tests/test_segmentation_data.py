"""GTA5 and Cityscapes data: label mapping, errors, seeded augmentation, resume, evaluation scale.

Everything runs on generated 32x48 fixtures (:mod:`tests.seg_fixtures`), on the CPU.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from asg_gym.data.driving import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_LABELS,
    GTA5_LABELS,
    IGNORE_INDEX,
    SegmentationLoaderSource,
    cityscapes_dataset,
    gta5_dataset,
    to_train_ids,
)
from asg_gym.data.loaders import LoaderBatches
from asg_gym.errors import DatasetError
from tests.seg_fixtures import GTA5_VALUES, PALETTE, make_cityscapes, make_gta5

CPU = torch.device("cpu")
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
CROP = (24, 40)  # smaller than 32x48 but wider than 48 x 0.75 = 36: crops and pads both happen


@pytest.fixture(scope="module")
def gta5_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_gta5(tmp_path_factory.mktemp("gta5"))


@pytest.fixture(scope="module")
def cityscapes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cityscapes(tmp_path_factory.mktemp("cityscapes"))


def copy_of(root: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(root, tmp_path / root.name))


def message(excinfo: pytest.ExceptionInfo) -> str:
    return str(excinfo.value)


# ----------------------------------------------------------------------------------- labels
def test_gta5_ids_map_to_the_19_train_ids_and_everything_else_to_ignore() -> None:
    expected = [255] * 34
    for train_id, label_id in enumerate([7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]):
        expected[label_id] = train_id
    assert to_train_ids(torch.arange(34), GTA5_LABELS.table).tolist() == expected
    assert to_train_ids(torch.tensor([255]), GTA5_LABELS.table).tolist() == [IGNORE_INDEX]
    with pytest.raises(ValueError, match=r"\[34, 200\]"):
        to_train_ids(torch.tensor([[7, 34], [200, 255]]), GTA5_LABELS.table)
    assert to_train_ids(torch.arange(19), CITYSCAPES_LABELS.table).tolist() == list(range(19))
    with pytest.raises(ValueError, match=r"\[19\]"):
        to_train_ids(torch.tensor([19, 255]), CITYSCAPES_LABELS.table)
    assert len(CITYSCAPES_CLASSES) == 19 and CITYSCAPES_CLASSES[13] == "car" and CITYSCAPES_CLASSES[-1] == "bicycle"


def test_samples_are_uint8_images_and_mapped_int64_labels(gta5_root: Path) -> None:
    dataset = gta5_dataset(gta5_root, crop_size=None)
    assert len(dataset) == 4 and dataset[0][2] == 0
    image, label, index = dataset[3]
    assert image.dtype == torch.uint8 and image.shape == (3, 32, 48) and index == 3
    raw = torch.from_numpy(np.array(Image.open(gta5_root / "labels" / "00004.png"))).long()
    assert label.dtype == torch.int64 and torch.equal(label, GTA5_LABELS.table[raw])
    assert set(label.unique().tolist()) <= {0, 1, 2, 8, 10, 13, IGNORE_INDEX} and IGNORE_INDEX in label


def test_root_from_environment_and_split_file(gta5_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.setenv("ASG_GTA5_ROOT", str(gta5_root))
    split = tmp_path / "split.txt"
    split.write_text("00003\n\n00001.png\n")
    assert [r.image.name for r in gta5_dataset(split=split).records] == ["00003.png", "00001.png"]
    split.write_text("00001.png\n00009.png\n")
    with pytest.raises(DatasetError, match=r"line 2: .*00009\.png does not exist"):
        gta5_dataset(split=split)


# ----------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("build", "env_var", "how_to_get"), [
    (gta5_dataset, "ASG_GTA5_ROOT", "from_games"),
    (cityscapes_dataset, "ASG_CITYSCAPES_ROOT", "createTrainIdLabelImgs"),
])
def test_missing_root(build, env_var: str, how_to_get: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatasetError) as excinfo:
        build(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in message(excinfo) and how_to_get in message(excinfo)
    monkeypatch.delenv(env_var, raising=False)
    with pytest.raises(DatasetError) as excinfo:
        build()
    assert env_var in message(excinfo) and how_to_get in message(excinfo)


def test_missing_folder_and_missing_label_file(gta5_root: Path, cityscapes_root: Path, tmp_path: Path) -> None:
    gta5 = copy_of(gta5_root, tmp_path)
    (gta5 / "labels" / "00002.png").unlink()
    with pytest.raises(DatasetError) as excinfo:
        gta5_dataset(gta5)
    image, label = gta5 / "images" / "00002.png", gta5 / "labels" / "00002.png"
    assert f"image {image} has no label file {label}" in message(excinfo)
    shutil.rmtree(gta5 / "labels")
    with pytest.raises(DatasetError, match=r"missing folder .*labels\. Expected the GTA5 layout"):
        gta5_dataset(gta5)

    cityscapes = copy_of(cityscapes_root, tmp_path)
    label = cityscapes / "gtFine/val/lindau/lindau_000000_000001_gtFine_labelTrainIds.png"
    label.unlink()  # the *_labelIds.png beside it must not stand in for it
    with pytest.raises(DatasetError) as excinfo:
        cityscapes_dataset(cityscapes)
    assert str(label) in message(excinfo) and "lindau_000000_000001_leftImg8bit.png" in message(excinfo)
    assert "createTrainIdLabelImgs" in message(excinfo)


def overwrite_label(path: Path, value: int) -> None:
    raw = np.array(Image.open(path))
    raw[0, 0] = value
    Image.fromarray(raw).save(path)


@pytest.mark.parametrize(("which", "value", "expected"), [
    ("gta5", 40, "unexpected label values [40]; expected Cityscapes label ids 0-33, or 255"),
    ("cityscapes", 26, "unexpected label values [26]; expected train ids 0-18, or 255"),
])
def test_unexpected_label_value_fails_when_loaded(which: str, value: int, expected: str, gta5_root: Path,
                                                  cityscapes_root: Path, tmp_path: Path) -> None:
    if which == "gta5":
        root = copy_of(gta5_root, tmp_path)
        label = root / "labels" / "00002.png"
        build = gta5_dataset
    else:
        root = copy_of(cityscapes_root, tmp_path)
        label = root / "gtFine/val/frankfurt/frankfurt_000000_000002_gtFine_labelTrainIds.png"
        build = cityscapes_dataset
    overwrite_label(label, value)
    dataset = build(root, crop_size=None) if which == "gta5" else build(root)  # eager checks pass
    dataset[0]
    with pytest.raises(DatasetError) as excinfo:
        dataset[1]
    assert f"label {label}: {expected}" in message(excinfo)


def test_corrupt_image_size_mismatch_and_colour_label(gta5_root: Path, tmp_path: Path) -> None:
    root = copy_of(gta5_root, tmp_path)
    image = root / "images" / "00001.png"
    image.write_bytes(image.read_bytes()[:60])  # a truncated download
    Image.open(root / "labels" / "00002.png").resize((40, 32)).save(root / "labels" / "00002.png")
    Image.open(root / "images" / "00003.png").save(root / "labels" / "00003.png")  # RGB, not ids
    dataset = gta5_dataset(root, crop_size=None)
    with pytest.raises(DatasetError) as excinfo:
        dataset[0]
    assert str(image) in message(excinfo) and "corrupt" in message(excinfo)
    with pytest.raises(DatasetError) as excinfo:
        dataset[1]
    assert f"{root / 'images' / '00002.png'} is 48x32 but its label {root / 'labels' / '00002.png'} is 40x32" \
        in message(excinfo)
    with pytest.raises(DatasetError, match=r"00003\.png is a RGB image; expected a single-channel"):
        dataset[2]


# ------------------------------------------------------------------------------ augmentation
def decoded_train_ids(image: torch.Tensor) -> torch.Tensor:
    """Train ids read off the pixel colours: the nearest fixture colour, mapped like its raw value."""
    colours = torch.from_numpy(PALETTE[list(GTA5_VALUES)]).float()  # (V, 3)
    distance = torch.cdist(image.permute(1, 2, 0).reshape(-1, 3).float(), colours)
    raw = torch.tensor(GTA5_VALUES)[distance.argmin(1)]
    return GTA5_LABELS.table[raw].reshape(image.shape[1:])


def test_augmentation_is_seeded_has_the_crop_size_and_keeps_labels_on_their_pixels(gta5_root: Path) -> None:
    dataset = gta5_dataset(gta5_root, crop_size=CROP)
    flipped_agreement = []
    for seed in range(12):
        image, label, index = dataset[(seed % 4, seed)]
        assert image.shape == (3, *CROP) and label.shape == CROP and index == seed % 4
        assert all(torch.equal(a, b) for a, b in zip((image, label), dataset[(seed % 4, seed)][:2], strict=True))
        real = (image != 0).any(0)  # padding is black / ignore
        assert (label[~real] == IGNORE_INDEX).all()
        # Bilinear blends colours at block edges; away from them the colour tells the label.
        assert (decoded_train_ids(image) == label)[real].double().mean() > 0.85
        flipped_agreement.append(float((decoded_train_ids(image) == label.flip(-1))[real].double().mean()))
    assert np.mean(flipped_agreement) < 0.6  # the check above would catch a misaligned flip
    crops = {tuple(dataset[(0, seed)][1].flatten().tolist()) for seed in range(6)}
    assert len(crops) > 3  # scale, offset and flip really vary with the seed


def test_crop_larger_than_the_image_pads_with_zero_and_ignore(gta5_root: Path) -> None:
    image, label, _ = gta5_dataset(gta5_root, crop_size=(48, 64))[(0, 5)]
    assert image.shape == (3, 48, 64)
    assert (image[:, 40:] == 0).all() and (label[40:] == IGNORE_INDEX).all()  # 32 x 1.25 = 40 rows at most
    # At least 24 x 36 (0.75 x 32x48) real pixels; the flip may move the padded columns to the left.
    assert ((image[:, :24] != 0).any(0).sum(1) >= 36).all()
    assert (label[(image == 0).all(0)] == IGNORE_INDEX).all()


def collect(source: SegmentationLoaderSource, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    batches = []
    for _ in range(count):
        images, labels, keys = source.next_batch()
        assert keys is None and images.dtype == torch.float32 and labels.dtype == torch.int64
        batches.append((images, labels))
    return batches


def test_source_batches_do_not_depend_on_workers_and_resume_exactly(gta5_root: Path) -> None:
    dataset = gta5_dataset(gta5_root, crop_size=CROP)
    inline, worker = (SegmentationLoaderSource(dataset, 2, MEAN, STD, CPU, num_workers=n) for n in (0, 1))
    assert inline.num_samples == 4 and not inline.cacheable
    inline.reset(3)
    worker.reset(3)
    reference = collect(inline, 5)  # 5 batches of 2 from 4 images: crosses two passes
    assert reference[0][0].shape == (2, 3, *CROP) and reference[0][1].shape == (2, *CROP)
    for (images, labels), (other_images, other_labels) in zip(reference, collect(worker, 5), strict=True):
        assert torch.equal(images, other_images) and torch.equal(labels, other_labels)
    worker.close()
    inline.reset(4)  # another episode seed: other images or other crops
    assert not torch.equal(collect(inline, 1)[0][1], reference[0][1])

    inline.reset(3)
    collect(inline, 2)
    state = inline.state_dict()
    assert state == {"seed": 3, "batches": 2}
    inline.reset(99)
    collect(inline, 1)
    inline.load_state_dict(state)
    for (images, labels), (resumed_images, resumed_labels) in zip(reference[2:], collect(inline, 3), strict=True):
        assert torch.equal(images, resumed_images) and torch.equal(labels, resumed_labels)


def test_source_without_augmentation_gives_cache_keys(gta5_root: Path) -> None:
    source = SegmentationLoaderSource(gta5_dataset(gta5_root, crop_size=None), 2, MEAN, STD, CPU)
    source.reset(0)
    images, labels, keys = source.next_batch()
    assert source.cacheable and keys is not None and sorted(keys.tolist()) != []
    assert images.shape == (2, 3, 32, 48) and labels.shape == (2, 32, 48)


# -------------------------------------------------------------------------------- evaluation
def test_cityscapes_val_at_the_evaluation_scale(cityscapes_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASG_CITYSCAPES_ROOT", str(cityscapes_root))
    full = cityscapes_dataset()
    assert [r.image.parent.name for r in full.records] == ["frankfurt", "frankfurt", "lindau"]
    assert full[0][0].shape == (3, 32, 48)
    small = cityscapes_dataset(eval_size=(16, 24), limit=2)
    assert len(small) == 2
    raw = Image.open(full.records[1].label)
    expected = torch.from_numpy(np.array(raw.resize((24, 16), Image.Resampling.NEAREST))).long()
    batches = list(LoaderBatches(small, 2, MEAN, STD, CPU)())
    assert len(batches) == 1
    images, labels = batches[0]
    assert images.shape == (2, 3, 16, 24) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and torch.equal(labels[1], expected)
    with pytest.raises(ValueError, match=r"eval_size|resize"):
        cityscapes_dataset(eval_size=(16,))
