"""GTA5 → Cityscapes semantic segmentation: the paper's synthetic-to-real segmentation task.

The source is GTA5 (Richter et al., "Playing for Data", 2016): rendered frames whose labels are
Cityscapes label ids. The target is the Cityscapes ``val`` split, on which the paper reports the
mIoU over the 19 Cityscapes training classes. Layouts::

    <GTA5 root>/images/00001.png   <GTA5 root>/labels/00001.png          (label ids 0…33)
    <Cityscapes root>/leftImg8bit/val/<city>/<name>_leftImg8bit.png
    <Cityscapes root>/gtFine/val/<city>/<name>_gtFine_labelTrainIds.png   (train ids 0…18, 255)

Roots come from ``data_root=`` or ``ASG_GTA5_ROOT`` / ``ASG_CITYSCAPES_ROOT``. Construction checks
that every image has its label file (one directory listing per folder); the pixels of a label are
checked when that sample is loaded, since checking them all up front would read the whole data set.

Source augmentation (the paper's): random scale in [0.75, 1.25], random crop (padded with 0 /
ignore where the scaled image is smaller), random horizontal flip. Its randomness comes from a
per-sample *augmentation seed* that :class:`SegmentationLoaderSource` computes in the main process
from the episode seed and the sample's position in the stream, so batches depend on the seed only,
never on the number of DataLoader workers, and a checkpoint resumes them exactly.

Evaluation batches of the target: ``LoaderBatches(cityscapes_dataset(eval_size=(512, 1024)), …)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from asg_gym.data.loaders import EpochBatchSampler, LoaderSource
from asg_gym.data.roots import resolve_root
from asg_gym.errors import DatasetError
from asg_gym.segmentation.metrics import IGNORE_INDEX

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)
GTA5_ROOT_ENV = "ASG_GTA5_ROOT"
CITYSCAPES_ROOT_ENV = "ASG_CITYSCAPES_ROOT"
# Cityscapes label id → train id of the 19 evaluated classes; every other id is ignored.
ID_TO_TRAIN_ID = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
                  26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
LABEL_MODES = ("L", "P", "I", "I;16")  # single-channel PNGs; "P" (GTA5's) stores the id as palette index

GTA5_HELP = (
    "Expected the GTA5 layout: <root>/images/00001.png … and <root>/labels/00001.png … with the same file "
    "names, the labels being the Cityscapes label ids 0-33 that GTA5 ships. Download the image and label "
    "archives from https://download.visinf.tu-darmstadt.de/data/from_games/, extract every images part into "
    f"<root>/images and every labels part into <root>/labels, and pass data_root= or set {GTA5_ROOT_ENV}."
)
CITYSCAPES_HELP = (
    "Expected the Cityscapes layout: <root>/leftImg8bit/val/<city>/<name>_leftImg8bit.png and "
    "<root>/gtFine/val/<city>/<name>_gtFine_labelTrainIds.png (train ids 0-18, 255 = ignore). Download "
    "leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from https://www.cityscapes-dataset.com, extract "
    "both into <root>, then create the *_labelTrainIds.png files with cityscapesScripts "
    "(pip install cityscapesscripts; CITYSCAPES_DATASET=<root> python -m "
    "cityscapesscripts.preparation.createTrainIdLabelImgs), and pass data_root= or set "
    f"{CITYSCAPES_ROOT_ENV}."
)


class LabelFormat(NamedTuple):
    """How a data set stores labels: raw value → train id (-1: not allowed), and its description."""

    table: torch.Tensor
    expected: str


def label_table(ids: range, to_train_id: Mapping[int, int]) -> torch.Tensor:
    """Lookup of the 256 raw values: ``to_train_id``, else ignore for ``ids`` and 255, else -1."""
    table = torch.full((256,), -1, dtype=torch.int64)
    table[list(ids)] = IGNORE_INDEX
    table[IGNORE_INDEX] = IGNORE_INDEX
    for raw, train_id in to_train_id.items():
        table[raw] = train_id
    return table


GTA5_LABELS = LabelFormat(label_table(range(34), ID_TO_TRAIN_ID), "Cityscapes label ids 0-33, or 255")
CITYSCAPES_LABELS = LabelFormat(label_table(range(19), {i: i for i in range(19)}),
                                "train ids 0-18, or 255 (ignore); *_labelIds.png files hold ids 0-33 instead")


def to_train_ids(raw: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Map raw label values through ``table``; ``ValueError`` listing any value it does not allow."""
    raw = raw.long()
    mapped = table[raw.clamp(0, 255)]
    bad = (mapped < 0) | (raw < 0) | (raw > 255)
    if bad.any():
        values = torch.unique(raw[bad]).tolist()
        raise ValueError(f"unexpected label values {values[:10]}{' …' if len(values) > 10 else ''}")
    return mapped


def resolve_gta5_root(data_root: str | Path | None = None) -> Path:
    """``data_root``, else ``$ASG_GTA5_ROOT``; it must be an existing folder."""
    return resolve_root(data_root, GTA5_ROOT_ENV, "GTA5", GTA5_HELP)


def resolve_cityscapes_root(data_root: str | Path | None = None) -> Path:
    """``data_root``, else ``$ASG_CITYSCAPES_ROOT``; it must be an existing folder."""
    return resolve_root(data_root, CITYSCAPES_ROOT_ENV, "Cityscapes", CITYSCAPES_HELP)


@dataclass(frozen=True)
class SegmentationRecord:
    """One image and its label image."""

    image: Path
    label: Path


def _folder(path: Path, help_text: str) -> set[str]:
    """File names in ``path`` (one listing: GTA5 has ~25k files per folder)."""
    if not path.is_dir():
        raise DatasetError(f"missing folder {path}. {help_text}")
    return {entry.name for entry in os.scandir(path) if not entry.is_dir()}


def _paired(image: Path, label: Path, labels: set[str], help_text: str) -> SegmentationRecord:
    if label.name not in labels:
        raise DatasetError(f"image {image} has no label file {label}. {help_text}")
    return SegmentationRecord(image, label)


def read_gta5(root: Path, split: str | Path | None = None) -> list[SegmentationRecord]:
    """All ``images/*.png`` sorted by name, or the names listed in the text file ``split``."""
    images, labels = _folder(root / "images", GTA5_HELP), _folder(root / "labels", GTA5_HELP)
    if split is None:
        names = sorted(name for name in images if name.lower().endswith(".png"))
    else:
        split = Path(split)
        if not split.is_file():
            raise DatasetError(f"split file {split} does not exist; expected one image name (00001.png) per line.")
        names = []
        for number, line in enumerate(split.read_text(encoding="utf-8").splitlines(), start=1):
            entry = line.strip()
            if not entry:
                continue
            name = entry if Path(entry).suffix else entry + ".png"
            if name not in images:
                raise DatasetError(f"{split} line {number}: {root / 'images' / name} does not exist. {GTA5_HELP}")
            names.append(name)
    if not names:
        raise DatasetError(f"no .png images found in {root / 'images'}. {GTA5_HELP}")
    return [_paired(root / "images" / n, root / "labels" / n, labels, GTA5_HELP) for n in names]


def read_cityscapes(root: Path, split: str = "val") -> list[SegmentationRecord]:
    """``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` sorted by city and name, with their train-id labels."""
    image_root, label_root = root / "leftImg8bit" / split, root / "gtFine" / split
    for folder in (image_root, label_root):
        _folder(folder, CITYSCAPES_HELP)
    records = []
    for city in sorted(entry.name for entry in os.scandir(image_root) if entry.is_dir()):
        labels = _folder(label_root / city, CITYSCAPES_HELP)
        for name in sorted(_folder(image_root / city, CITYSCAPES_HELP)):
            if name.endswith("_leftImg8bit.png"):
                label = label_root / city / name.replace("_leftImg8bit.png", "_gtFine_labelTrainIds.png")
                records.append(_paired(image_root / city / name, label, labels, CITYSCAPES_HELP))
    if not records:
        raise DatasetError(f"no *_leftImg8bit.png images found under {image_root}/<city>/. {CITYSCAPES_HELP}")
    return records


def _pair(value: Sequence[int] | None, name: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"{name} must be (height, width) in pixels, got {value!r}")
    return int(value[0]), int(value[1])


class SegmentationDataset(Dataset):
    """``dataset[key] = (uint8 image (3, H, W), int64 train ids (H, W), index)``.

    ``key`` is an index, or ``(index, augmentation_seed)`` when ``crop_size`` turns on the source
    augmentation (scale, crop, flip drawn from ``torch.Generator().manual_seed(augmentation_seed)``).

    Args:
        records: image/label pairs in a fixed order; the index is the position here.
        labels: how label values map to train ids (:data:`GTA5_LABELS`, :data:`CITYSCAPES_LABELS`).
        help_text: appended to errors: what the data should look like and how to get it.
        resize: ``(h, w)`` each sample is first resized to (image bilinear, label nearest), e.g. the
            evaluation scale; ``None`` keeps the file's size.
        crop_size: ``(h, w)`` of the random crop; ``None`` turns augmentation off.
        scale_range: range of the random rescaling factor (the paper's [0.75, 1.25]).
    """

    def __init__(self, records: Sequence[SegmentationRecord], labels: LabelFormat, help_text: str = "", *,
                 resize: Sequence[int] | None = None, crop_size: Sequence[int] | None = None,
                 scale_range: tuple[float, float] = (0.75, 1.25)) -> None:
        if not records:
            raise DatasetError(f"no images to load. {help_text}".strip())
        if not 0 < scale_range[0] <= scale_range[1]:
            raise ValueError(f"scale_range must be (low, high) with 0 < low <= high, got {scale_range!r}")
        self.records, self.labels, self.help_text = list(records), labels, help_text
        self.resize, self.crop_size = _pair(resize, "resize"), _pair(crop_size, "crop_size")
        self.scale_range = scale_range

    @property
    def augment(self) -> bool:
        return self.crop_size is not None

    def __len__(self) -> int:
        return len(self.records)

    def load(self, index: int) -> tuple[PILImage, torch.Tensor]:
        """The RGB PIL image and its train ids at full size; bad files raise a DatasetError naming them."""
        from PIL import Image

        record = self.records[index]
        try:
            with Image.open(record.image) as file:
                image = file.convert("RGB")
            with Image.open(record.label) as file:
                mode, raw = file.mode, torch.from_numpy(np.array(file).astype(np.int64))
        except (OSError, SyntaxError, ValueError) as exc:
            raise DatasetError(f"cannot read {record.image} or its label {record.label}: {exc}. The file is missing "
                               f"or corrupt; re-extract it. {self.help_text}") from exc
        if mode not in LABEL_MODES:
            raise DatasetError(f"label {record.label} is a {mode} image; expected a single-channel image of "
                               f"{self.labels.expected} (not a colour visualisation). {self.help_text}")
        if raw.shape != (image.height, image.width):
            raise DatasetError(
                f"image {record.image} is {image.width}x{image.height} but its label {record.label} is "
                f"{raw.shape[1]}x{raw.shape[0]}; re-extract the pair, or leave it out with a split file."
            )
        try:
            return image, to_train_ids(raw, self.labels.table)
        except ValueError as exc:
            raise DatasetError(f"label {record.label}: {exc}; expected {self.labels.expected}. {self.help_text}"
                               ) from exc

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, int]:
        index, seed = key if isinstance(key, tuple) else (int(key), None)
        image, label = self.load(index)
        height, width = self.resize or tuple(label.shape)
        if self.crop_size is None:
            return (*_resized(image, label, (height, width)), index)
        if seed is None:
            raise ValueError("an augmenting dataset takes (index, augmentation_seed): use SegmentationLoaderSource")
        generator = torch.Generator().manual_seed(seed)
        low, high = self.scale_range
        scale = low + (high - low) * float(torch.rand((), generator=generator))
        pixels, label = _resized(image, label, (max(1, round(height * scale)), max(1, round(width * scale))))
        return (*_crop_and_flip(pixels, label, self.crop_size, generator), index)


def _resized(image: PILImage, label: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """PIL image + train ids → uint8 ``(3, h, w)`` + int64 ``(h, w)`` (image bilinear, label nearest)."""
    from PIL import Image

    if (image.height, image.width) != size:
        image = image.resize(size[::-1], Image.Resampling.BILINEAR)
        # PIL for both, so that image and label share one pixel-centre convention.
        ids = Image.fromarray(label.to(torch.uint8).numpy()).resize(size[::-1], Image.Resampling.NEAREST)
        label = torch.from_numpy(np.array(ids)).long()
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous(), label


def _crop_and_flip(image: torch.Tensor, label: torch.Tensor, crop: tuple[int, int], generator: torch.Generator
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ``crop`` (padding bottom/right with 0 / ignore first if needed), then a coin-flip mirror."""
    pad_h, pad_w = max(0, crop[0] - label.shape[0]), max(0, crop[1] - label.shape[1])
    if pad_h or pad_w:
        image = F.pad(image, (0, pad_w, 0, pad_h), value=0)
        label = F.pad(label, (0, pad_w, 0, pad_h), value=IGNORE_INDEX)
    top = int(torch.randint(label.shape[0] - crop[0] + 1, (), generator=generator))
    left = int(torch.randint(label.shape[1] - crop[1] + 1, (), generator=generator))
    rows, columns = slice(top, top + crop[0]), slice(left, left + crop[1])
    image, label = image[:, rows, columns], label[rows, columns]
    if float(torch.rand((), generator=generator)) < 0.5:
        image, label = image.flip(-1), label.flip(-1)
    return image.contiguous(), label.contiguous()


def gta5_dataset(data_root: str | Path | None = None, *, split: str | Path | None = None,
                 crop_size: Sequence[int] | None = (512, 512), scale_range: tuple[float, float] = (0.75, 1.25),
                 resize: Sequence[int] | None = None) -> SegmentationDataset:
    """The GTA5 source set, augmented for training unless ``crop_size=None``."""
    records = read_gta5(resolve_gta5_root(data_root), split)
    return SegmentationDataset(records, GTA5_LABELS, GTA5_HELP, resize=resize, crop_size=crop_size,
                               scale_range=scale_range)


def cityscapes_dataset(data_root: str | Path | None = None, *, split: str = "val",
                       eval_size: Sequence[int] | None = None, limit: int | None = None) -> SegmentationDataset:
    """The Cityscapes target set at ``eval_size`` (default: the files' 1024x2048); ``limit``: the first k images."""
    records = read_cityscapes(resolve_cityscapes_root(data_root), split)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be a positive number of images, got {limit}")
        records = records[:limit]
    return SegmentationDataset(records, CITYSCAPES_LABELS, CITYSCAPES_HELP, resize=eval_size)


_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def augmentation_seed(seed: int, sample: int) -> int:
    """Seed of the ``sample``-th sample drawn in the episode ``seed``: a hash of both, so neighbours differ.

    32 bits, because torch's CPU generator only uses the low 32 bits of a seed.
    """
    return _splitmix64(_splitmix64(seed & _MASK64) ^ sample) & 0xFFFFFFFF


class AugmentedBatchSampler(EpochBatchSampler):
    """:class:`EpochBatchSampler`'s batches, each index paired with its augmentation seed."""

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:  # type: ignore[override]  # (index, seed) pairs, on purpose
        for number, batch in enumerate(super().__iter__(), start=self.skip):
            first = number * self.batch_size
            yield [(index, augmentation_seed(self.seed, first + k)) for k, index in enumerate(batch)]


class SegmentationLoaderSource(LoaderSource):
    """The :class:`~asg_gym.envs.transfer.BatchSource` of a segmentation source set.

    ``next_batch()`` gives normalised images ``(B, 3, h, w)`` and int64 train ids ``(B, h, w)`` on
    ``device``, and the sample indices as keys unless the dataset augments (then ``None``: the
    same index no longer means the same pixels). The order and the augmentation follow from the
    seed given to ``reset``; ``state_dict`` (seed, batches consumed) resumes both exactly.
    Without augmentation every image must have one size (set the dataset's ``resize``).
    """

    def __init__(self, dataset: SegmentationDataset, batch_size: int, mean: Sequence[float], std: Sequence[float],
                 device: torch.device, num_workers: int = 0, pin_memory: bool | None = None) -> None:
        super().__init__(dataset, batch_size, mean, std, device, augment=dataset.augment, num_workers=num_workers,
                         pin_memory=pin_memory)
        if dataset.augment:
            self._sampler = AugmentedBatchSampler(len(dataset), batch_size)
