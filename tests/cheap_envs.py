"""The cheap configuration of every registered id, and what its env contract looks like.

Tests reach these through the fixtures of ``tests/conftest.py`` (``cheap_env``,
``digits_kwargs``, ``digitseg_kwargs``); :class:`CheapEnv` is imported for type hints only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator

import asg_gym  # noqa: F401  (registers the ids)


def digits_kwargs() -> dict[str, Any]:
    """Toy backbone, 32-px images, a small rendered source set: fast and offline."""
    return {"backbone": "toy", "image_size": 32, "num_source_images": 256, "eval_size": 100, "total_steps": 6,
            "eval_every": 3, "batch_size": 16, "device": "cpu"}


def digitseg_kwargs() -> dict[str, Any]:
    """Toy FCN, 32-px scenes, a small rendered source set: fast and offline."""
    return {"network": "fcn_toy", "weights": None, "scene_size": 32, "num_source_scenes": 64, "eval_size": 8,
            "batch_size": 4, "total_steps": 4, "eval_every": 2, "patch_size": 1, "device": "cpu"}


def gta5_kwargs(roots: tuple[Path, Path]) -> dict[str, Any]:
    """Toy FCN on fixture folders of 6 GTA5 and 3 Cityscapes images (32x32 crops, 32x48 evaluation)."""
    return {"network": "fcn_toy", "weights": None, "data_root": roots[0], "cityscapes_root": roots[1],
            "crop_size": (32, 32), "eval_size": (32, 48), "batch_size": 2, "total_steps": 4, "eval_every": 2,
            "patch_size": 1, "num_workers": 0, "device": "cpu"}


def visda_kwargs(root: Path) -> dict[str, Any]:
    """ResNet-18 with random weights at 32 px on a fixture folder of 36 + 24 images."""
    return {"backbone": "resnet18", "weights": None, "data_root": root, "image_size": 32, "batch_size": 4,
            "total_steps": 4, "eval_every": 2, "num_workers": 0, "device": "cpu", "eval_batch_size": 16}


@dataclasses.dataclass(frozen=True)
class CheapEnv:
    """One registered id in a cheap configuration, and what its env contract looks like."""

    env_id: str
    kwargs: dict[str, Any]
    head: str  # the name of the last coordinate, the new task head θ_n
    scores: tuple[str, ...]  # info keys of the target evaluation, each in [0, 1]; the first is the target metric
    embedded: bool  # ships its data: ``data_root`` is ignored with a warning
    bad_kwargs: tuple[tuple[dict[str, Any], str], ...]  # own keywords the env refuses, and the error's pattern

    @property
    def target_metric(self) -> str:
        return self.scores[0]

    def make(self, **overrides: Any) -> gym.Env:
        """``gym.make`` (with Gymnasium's wrappers, the env checker included)."""
        return gym.make(self.env_id, **{**self.kwargs, **overrides})

    def make_unwrapped(self, **overrides: Any) -> Any:
        """The env class itself, without wrappers (what the checkers want)."""
        creator = load_env_creator(gym.spec(self.env_id).entry_point)
        return creator(**{**self.kwargs, **overrides})


def cheap_env_for(env_id: str, fixture: Callable[[str], Any]) -> CheapEnv:
    """``env_id`` in its cheap configuration; ``fixture(name)`` gives the data folders (GTA5, VisDA)."""
    if env_id == "ASG-Digits-v0":
        return CheapEnv(env_id, digits_kwargs(), "new_head",
                        ("target_accuracy", "target_mean_class_accuracy", "old_task_agreement"), embedded=True,
                        bad_kwargs=(({"backbone": "resnet9000"}, "backbone"), ({"eval_size": 10**6}, "eval_size"),
                                    ({"target": "svhn"}, "real digit set"), ({"image_size": 8}, "image_size")))
    if env_id in ("ASG-DigitsOnPhotos-v1", "ASG-DigitsOnPhotos-v0"):
        return CheapEnv(env_id, digits_kwargs(), "new_head",
                        ("target_accuracy", "target_mean_class_accuracy", "old_task_agreement"), embedded=True,
                        bad_kwargs=(({"eval_size": 4001}, "1…4000 for the test split"),
                                    ({"target_split": "train"}, "target_split"), ({"image_size": 8}, "image_size")))
    if env_id == "ASG-DigitSeg-v0":
        return CheapEnv(env_id, digitseg_kwargs(), "head",
                        ("target_miou", "target_pixel_accuracy", "old_task_agreement"), embedded=True,
                        bad_kwargs=(({"network": "fcn_nope"}, "segmentation network"),
                                    ({"scene_size": 16}, "scene_size"), ({"max_digits": 0}, "max_digits")))
    if env_id == "ASG-GTA5-v0":
        return CheapEnv(env_id, gta5_kwargs(fixture("gta5_roots")), "head",
                        ("target_miou", "target_pixel_accuracy", "old_task_agreement", "target_iou_road"),
                        embedded=False, bad_kwargs=(({"network": "fcn_nope"}, "segmentation network"),))
    if env_id == "ASG-VisDA-v0":
        return CheapEnv(env_id, visda_kwargs(fixture("visda_root")), "new_head",
                        ("target_mean_class_accuracy", "target_accuracy", "old_task_agreement",
                         "target_accuracy_truck"),
                        embedded=False, bad_kwargs=(({"image_size": 16}, "image_size"),
                                                    ({"fraction": 0.0}, "fraction"),
                                                    ({"backbone": "resnet9000"}, "backbone")))
    raise ValueError(f"no cheap configuration of {env_id!r}")
