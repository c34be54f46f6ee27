"""ASG-VisDA-v0, its data checks, ResNet weight loading and the plain trainer, on a tiny fixture.

The fixture is a VisDA-17-shaped folder of small real PNG/JPEG files (``visda_root``, see
``tests/visda_fixtures.py``); the network is resnet18 with random weights at 32 px, so nothing
is downloaded and a step is cheap.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import torch

import asg_gym  # noqa: F401  (registers the ids)
from asg_gym.backbones import build_backbone
from asg_gym.data.image_files import ImageFileDataset, ImageRecord, stratified_subset
from asg_gym.data.visda import VisDAEvaluation, imagenet_val_dataset, visda_split
from asg_gym.envs.visda import VisDAEnv
from asg_gym.errors import DatasetError, MissingWeightsError
from tests.visda_fixtures import SIZE, solid_image

TINY_VISDA = {"backbone": "resnet18", "weights": None, "image_size": SIZE, "batch_size": 4, "total_steps": 3,
              "eval_every": 2, "num_workers": 0, "device": "cpu", "eval_batch_size": 16}
TINY_DIGITS = '{"backbone": "toy", "image_size": 32, "num_source_images": 256, "eval_size": 100, "device": "cpu"}'


pytestmark = pytest.mark.usefixtures("one_thread")  # ResNet convs: one thread is about ten times faster here


def make_env(root: Path, **overrides) -> gym.Env:
    return gym.make("ASG-VisDA-v0", data_root=str(root), **{**TINY_VISDA, **overrides})


# --------------------------------------------------------------------------------------- env
def test_env_steps_and_reports_visda_metrics(visda_root: Path) -> None:
    env = make_env(visda_root)
    assert env.unwrapped.coordinate_names == ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "new_head")
    assert env.action_space == gym.spaces.MultiDiscrete([11] * 7)
    obs, info = env.reset(seed=0)
    assert obs.shape == (12,) and info["loss_kl"] == pytest.approx(0.0, abs=1e-6)
    for t in range(3):
        obs, reward, terminated, truncated, info = env.step([1] * 6 + [10])
        assert not terminated and truncated == (t == 2) and type(reward) is float
    for key in ("target_accuracy", "target_mean_class_accuracy", "old_task_agreement", "target_accuracy_truck"):
        assert 0.0 <= info[key] <= 1.0
    env.close()


def test_gymnasium_and_sb3_check_env_without_warnings(visda_root: Path) -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = VisDAEnv(data_root=visda_root, **TINY_VISDA)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=True)
    env.close()


def test_fraction_eval_size_and_data_root_from_environment(visda_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASG_VISDA_ROOT", str(visda_root))
    env = VisDAEnv(**{**TINY_VISDA, "total_steps": None}, fraction=0.5, eval_size=12)
    assert env.source.num_samples == 18 and env.total_steps == 18 // 4  # one pass over the subset
    assert set(torch.bincount(env.source.dataset.labels).tolist()) == {1, 2}  # every class kept
    evaluation = env.evaluation.func  # the env holds functools.partial(VisDAEvaluation, optimizee)
    assert torch.bincount(evaluation.target.dataset.labels).tolist() == [1] * 12  # stratified
    env.close()


def test_stratified_subset_is_proportional_and_seeded() -> None:
    labels = torch.tensor([0] * 60 + [1] * 30 + [2] * 10)
    chosen = stratified_subset(labels, 10, seed=3)
    assert torch.bincount(labels[chosen]).tolist() == [6, 3, 1]
    assert torch.equal(chosen, stratified_subset(labels, 10, seed=3))


# ------------------------------------------------------------------------------ data errors
def broken_copy(tmp_path: Path, visda_root: Path) -> Path:
    shutil.copytree(visda_root, tmp_path / "visda")
    return tmp_path / "visda"


def assert_clear(excinfo: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(excinfo.value)
    for fragment in (*fragments, "image_list.txt", "VisDA 2017"):  # what, where, how to get it
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_missing_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatasetError) as excinfo:
        VisDAEnv(data_root=tmp_path / "nowhere", **TINY_VISDA)
    assert_clear(excinfo, str(tmp_path / "nowhere"))
    monkeypatch.delenv("ASG_VISDA_ROOT", raising=False)
    with pytest.raises(DatasetError) as excinfo:
        VisDAEnv(**TINY_VISDA)
    assert_clear(excinfo, "ASG_VISDA_ROOT")


def test_missing_image_list(tmp_path: Path, visda_root: Path) -> None:
    root = broken_copy(tmp_path, visda_root)
    (root / "validation" / "image_list.txt").unlink()
    with pytest.raises(DatasetError) as excinfo:
        VisDAEnv(data_root=root, **TINY_VISDA)
    assert_clear(excinfo, str(root / "validation" / "image_list.txt"))


@pytest.mark.parametrize(
    ("line", "fragments"),
    [
        ("aeroplane/img_0.png", ["line 37", "expected '<relative/path.jpg> <label>'"]),
        ("aeroplane/img_0.png 12", ["line 37", "label 12 is out of range 0…11"]),
        ("aeroplane/gone.png 0", ["line 37", "aeroplane/gone.png does not exist"]),
    ],
)
def test_bad_list_lines(tmp_path: Path, visda_root: Path, line: str, fragments: list[str]) -> None:
    root = broken_copy(tmp_path, visda_root)
    with (root / "train" / "image_list.txt").open("a") as f:
        f.write(line + "\n")
    with pytest.raises(DatasetError) as excinfo:
        VisDAEnv(data_root=root, **TINY_VISDA)
    assert_clear(excinfo, str(root / "train" / "image_list.txt"), *fragments)


def test_corrupt_image_names_the_file(tmp_path: Path, visda_root: Path) -> None:
    root = broken_copy(tmp_path, visda_root)
    corrupt = root / "validation" / "bus" / "img_1.jpg"
    corrupt.write_bytes(corrupt.read_bytes()[:40])  # a truncated download
    dataset = visda_split(root, "validation", SIZE)
    with pytest.raises(DatasetError) as excinfo:
        [dataset[i] for i in range(len(dataset))]
    assert_clear(excinfo, str(corrupt), "line 6")


# ---------------------------------------------------------------------------------- weights
def test_missing_torchvision_weights_are_never_downloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError) as excinfo:
        build_backbone("resnet18", "IMAGENET1K_V1")  # registered by asg_gym.envs.visda's import
    message = str(excinfo.value)
    assert "resnet18-f37072fd.pth" in message and str(tmp_path / "hub" / "checkpoints") in message
    assert not any(tmp_path.rglob("*.pth"))


def test_resnet_weights_from_cache_and_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    state = torchvision.models.resnet18(weights=None).state_dict()
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save({k: v + 1 for k, v in state.items()}, tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth")
    torch.save({k: v + 2 for k, v in state.items()}, tmp_path / "mine.pth")
    cached, local = build_backbone("resnet18", "IMAGENET1K_V1"), build_backbone("resnet18", tmp_path / "mine.pth")
    assert torch.equal(cached.imagenet_head.weight, state["fc.weight"] + 1)
    assert torch.equal(local.features[0].weight, state["conv1.weight"] + 2)
    assert cached.feature_dim == 512 and cached.mean == (0.485, 0.456, 0.406)
    with pytest.raises(MissingWeightsError, match="no torchvision weights named 'IMAGENET9K'"):
        build_backbone("resnet18", "IMAGENET9K")


# ------------------------------------------------------------------------------- evaluation
class DecodingOptimizee:
    """A stand-in whose predictions are read off the pixels, so every metric is known by hand.

    The left quarter's red value encodes the predicted class k (red = 20k + 10) and its green
    value the confidence: logit = (green - 40) / 5 for class k, 0 elsewhere. The ImageNet head
    (1000 classes) predicts k; the "teacher" always predicts class 0.
    """

    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def _decode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m, s = torch.tensor(self.mean).view(1, 3, 1, 1), torch.tensor(self.std).view(1, 3, 1, 1)
        pixels = ((images * s + m) * 255)[:, :, :, : SIZE // 4].mean(dim=(2, 3))
        return ((pixels[:, 0] - 10) / 20).round().long().clamp(0, 11), (pixels[:, 1] - 40) / 5

    def predict(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, confidence = self._decode(images)
        new, old = torch.zeros(len(k), 12), torch.zeros(len(k), 1000)
        new[torch.arange(len(k)), k] = confidence
        old[torch.arange(len(k)), k] = 1.0
        return new, old

    def teacher_logits(self, images: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(images), 1000)
        logits[:, 0] = 1.0
        return logits


def records(tmp_path: Path, rows: list[tuple[int, tuple, tuple]]) -> list[ImageRecord]:
    out = []
    for i, (label, left, right) in enumerate(rows):
        path = tmp_path / f"{i}.png"
        solid_image(left, right).save(path)
        out.append(ImageRecord(path, label, f"row {i}"))
    return out


def test_evaluation_metrics_match_hand_computed_values(tmp_path: Path) -> None:
    red = lambda k: 20 * k + 10  # noqa: E731
    # label, left colour (predicted class, confidence), right colour (what a flip shows on the left)
    rows = [
        (0, (red(0), 45, 0), (red(0), 45, 0)),   # class 0: right
        (0, (red(0), 45, 0), (red(0), 45, 0)),   # class 0: right
        (0, (red(1), 45, 0), (red(0), 90, 0)),   # class 0: wrong; flipped strongly right → right with TTA
        (1, (red(1), 45, 0), (red(1), 45, 0)),   # class 1: right
        (2, (red(0), 45, 0), (red(0), 45, 0)),   # class 2: wrong (says 0, the teacher's answer)
    ]
    target = ImageFileDataset(records(tmp_path, rows), SIZE)
    stub: Any = DecodingOptimizee()
    plain = VisDAEvaluation(target, stub.mean, stub.std, torch.device("cpu"), batch_size=2)(stub)
    assert plain["target_accuracy"] == pytest.approx(3 / 5)
    assert plain["target_accuracy_aeroplane"] == pytest.approx(2 / 3)
    assert plain["target_accuracy_bicycle"] == 1.0 and plain["target_accuracy_bus"] == 0.0
    assert plain["target_mean_class_accuracy"] == pytest.approx((2 / 3 + 1 + 0) / 3)  # absent classes skipped
    assert plain["old_task_agreement"] == pytest.approx(3 / 5)  # ImageNet head says 0 on three images
    tta = VisDAEvaluation(target, stub.mean, stub.std, torch.device("cpu"), flip_tta=True)(stub)
    assert tta["target_accuracy"] == pytest.approx(4 / 5)
    assert tta["target_mean_class_accuracy"] == pytest.approx((1 + 1 + 0) / 3)


def test_imagenet_top1_from_an_image_folder(tmp_path: Path) -> None:
    for wnid in range(1000):
        (tmp_path / f"n{wnid:08d}").mkdir()
    for cls, predicted in [(0, 0), (1, 1), (1, 5), (3, 3)]:  # 3 of 4 right
        solid_image((20 * predicted + 10, 45, 0)).save(tmp_path / f"n{cls:08d}" / f"x{predicted}.JPEG")
    stub: Any = DecodingOptimizee()
    imagenet = imagenet_val_dataset(tmp_path, 1000, SIZE)
    target = ImageFileDataset(records(tmp_path, [(0, (10, 45, 0), (10, 45, 0))]), SIZE)
    result = VisDAEvaluation(target, stub.mean, stub.std, torch.device("cpu"), imagenet=imagenet)(stub)
    assert result["old_task_accuracy"] == pytest.approx(3 / 4)
    shutil.rmtree(tmp_path / "n00000000")  # 999 class folders: not ImageNet's layout
    with pytest.raises(DatasetError, match=r"999 class folders.*WordNet id"):
        imagenet_val_dataset(tmp_path, 1000, SIZE)


# ---------------------------------------------------------------------------------- trainer
def train(out: Path, epochs: int, *extra: str) -> dict:
    from experiments.paper.train_transfer import main

    return main(["--epochs", str(epochs), "--steps-per-epoch", "3", "--out", str(out), "--no-progress", *extra])


def test_trainer_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    from asg_gym.checkpoint import load_checkpoint

    kwargs = ["--env-kwargs", TINY_DIGITS]
    full = train(tmp_path / "full", 3, "--no-tensorboard", *kwargs)
    train(tmp_path / "part", 2, *kwargs)
    resumed = train(tmp_path / "part", 3, "--resume", *kwargs)
    a, b = (load_checkpoint(tmp_path / run / "checkpoint.pt", "train_transfer")["env"] for run in ("full", "part"))
    for key, value in a["optimizee"]["student"].items():  # θ_s and θ_n
        assert torch.equal(value, b["optimizee"]["student"][key]), f"{key} differs after resume"
    assert a["optimizee"]["optimizer"]["state"].keys() == b["optimizee"]["optimizer"]["state"].keys()
    assert full["train_loss"] == resumed["train_loss"] and full["target_accuracy"] == resumed["target_accuracy"]
    assert len((tmp_path / "part" / "metrics.csv").read_text().splitlines()) == 1 + 3
    assert any((tmp_path / "part" / "tb").iterdir())
    with pytest.raises(SystemExit, match=r"settings changed.*lam"):
        train(tmp_path / "part", 4, "--resume", "--lam", "0.5", *kwargs)


def test_trainer_smoke_on_visda_fixture(tmp_path: Path, visda_root: Path) -> None:
    row = train(tmp_path / "visda", 1, "--env", "ASG-VisDA-v0", "--scales", "0", "0", "0", "0", "0", "0.1", "1",
                "--no-tensorboard", "--env-kwargs", json.dumps({
                    "data_root": str(visda_root), "backbone": "resnet18", "weights": None, "image_size": 32,
                    "batch_size": 4, "num_workers": 0, "device": "cpu", "flip_tta": True}))
    assert row["epoch"] == 1 and 0 <= row["target_mean_class_accuracy"] <= 1
    assert "target_accuracy_truck" in (tmp_path / "visda" / "metrics.csv").read_text().splitlines()[0]


# ------------------------------------------------------------------- loaders and precision
def test_loader_source_order_is_seeded_worker_independent_and_resumable(visda_root: Path) -> None:
    from asg_gym.data.loaders import LoaderSource

    dataset = visda_split(visda_root, "train", SIZE)
    mean, std, cpu = (0.5,) * 3, (0.5,) * 3, torch.device("cpu")
    inline, workers = (LoaderSource(dataset, 8, mean, std, cpu, num_workers=n) for n in (0, 2))
    inline.reset(7)
    workers.reset(7)
    first = [inline.next_batch() for _ in range(6)]  # 6 batches of 8 from 36 images: crosses a pass
    for images, labels, keys in first[:3]:
        other_images, other_labels, other_keys = workers.next_batch()
        assert torch.equal(keys, other_keys) and torch.equal(images, other_images)
        assert torch.equal(labels, other_labels)
        assert torch.equal(labels, dataset.labels[keys])
    state = workers.state_dict()
    workers.reset(99)
    workers.next_batch()
    workers.load_state_dict(state)
    assert all(torch.equal(workers.next_batch()[2], keys) for _, _, keys in first[3:])
    workers.close()


def test_corrupt_image_in_a_worker_process_names_the_file(tmp_path: Path, visda_root: Path) -> None:
    root = broken_copy(tmp_path, visda_root)
    corrupt = root / "validation" / "car" / "img_0.jpg"
    corrupt.write_bytes(b"not a jpeg")
    target = visda_split(root, "validation", SIZE)
    evaluation = VisDAEvaluation(target, (0.5,) * 3, (0.5,) * 3, torch.device("cpu"), num_workers=1)
    with pytest.raises(DatasetError) as excinfo:
        evaluation(DecodingOptimizee())  # type: ignore[arg-type]  (a stand-in optimizee)
    assert_clear(excinfo, str(corrupt), "line 7")
    evaluation.close()


def test_channels_last_and_bf16_autocast_keep_float32_losses() -> None:
    from asg_gym.optimizee import ClassificationOptimizee

    images, labels = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    losses = []
    for options in ({}, {"channels_last": True}, {"channels_last": True, "autocast_dtype": torch.bfloat16}):
        optimizee = ClassificationOptimizee(build_backbone("toy", None), 12, **options)
        optimizee.reset(0)
        terms = optimizee.forward_backward(images, labels)
        assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in optimizee.new_head.parameters())
        assert optimizee.predict(images)[0].dtype == torch.float32
        losses.append(terms.xe)
    assert losses[1] == pytest.approx(losses[0], rel=1e-5) and losses[2] == pytest.approx(losses[0], rel=2e-2)
    with pytest.raises(ValueError, match="bfloat16"):
        ClassificationOptimizee(build_backbone("toy", None), 12, autocast_dtype=torch.float16)
