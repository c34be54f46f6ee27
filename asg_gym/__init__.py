"""asg-gym: Automated Synthetic-to-Real Generalization (ICML 2020) as Gymnasium environments."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gymnasium.envs.registration import register, registry

__version__ = "0.3.0"  # CHANGELOG.md: what each release changed

# Registered by string entry point so that importing asg_gym stays cheap.
_ENVS = {
    "ASG-Digits-v0": "asg_gym.envs.digits:DigitsEnv",
    "ASG-DigitsOnPhotos-v1": "asg_gym.envs.digits_on_photos:DigitsOnPhotosEnv",
    "ASG-DigitsOnPhotos-v0": "asg_gym.envs.digits_on_photos:DigitsOnPhotosV0Env",  # base LR 1e-2
    "ASG-VisDA-v0": "asg_gym.envs.visda:VisDAEnv",
    "ASG-DigitSeg-v0": "asg_gym.envs.digit_seg:DigitSegEnv",
    "ASG-GTA5-v0": "asg_gym.envs.gta5:GTA5Env",
    "ASG-Mixture-v0": "asg_gym.envs.mixture:TaskMixture",  # episodes drawn from several of the above
}

for _env_id, _entry_point in _ENVS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry_point, disable_env_checker=False)

# The public parts the envs are built from (optimizees, data, schedules, checkpoints), imported on first use
# (PEP 562): importing asg_gym, as gymnasium's registration does, must not import torch. name -> (module, name
# there); the TYPE_CHECKING block below says the same for type checkers (tests/test_layout.py keeps them equal).
_LAZY: dict[str, tuple[str, str]] = {
    "DIGIT_SEG_DEFAULTS": ("asg_gym.envs.digit_seg", "DEFAULTS"),  # each env module has its DEFAULTS
    **{name: (module, name) for module, names in {
        "asg_gym.backbones": ("build_backbone",),
        "asg_gym.backbones.torchvision_weights": ("IMAGENET_MEAN", "IMAGENET_STD"),
        "asg_gym.checkpoint": ("load_checkpoint", "save_checkpoint"),
        "asg_gym.data.digit_scenes": ("BACKGROUND", "real_scenes", "synthetic_scenes"),
        "asg_gym.data.driving": ("ID_TO_TRAIN_ID", "SegmentationLoaderSource", "gta5_dataset"),
        "asg_gym.data.loaders": ("MAX_DEFAULT_WORKERS", "LoaderSource", "default_num_workers"),
        "asg_gym.data.visda": ("VISDA_CLASSES", "visda_split"),
        "asg_gym.envs.digit_seg": ("TARGET_SCENES_SEED",),
        "asg_gym.evaluation": ("TensorBatches",),
        "asg_gym.optimizee": ("ClassificationOptimizee", "CoordinateSGD", "build_new_head"),
        "asg_gym.schedules": ("REFERENCE_POLY_POWER", "REFERENCE_WARMUP_ITERS", "LRSchedule"),
        "asg_gym.segmentation.evaluation": ("SegmentationEvaluation",),
        "asg_gym.segmentation.metrics": ("IGNORE_INDEX",),
        "asg_gym.segmentation.models": ("build_segmentation_network",),
        "asg_gym.segmentation.optimizee": ("SegmentationOptimizee",),
    }.items() for name in names},
}

if TYPE_CHECKING:
    from asg_gym.backbones import build_backbone
    from asg_gym.backbones.torchvision_weights import IMAGENET_MEAN, IMAGENET_STD
    from asg_gym.checkpoint import load_checkpoint, save_checkpoint
    from asg_gym.data.digit_scenes import BACKGROUND, real_scenes, synthetic_scenes
    from asg_gym.data.driving import ID_TO_TRAIN_ID, SegmentationLoaderSource, gta5_dataset
    from asg_gym.data.loaders import MAX_DEFAULT_WORKERS, LoaderSource, default_num_workers
    from asg_gym.data.visda import VISDA_CLASSES, visda_split
    from asg_gym.envs.digit_seg import DEFAULTS as DIGIT_SEG_DEFAULTS
    from asg_gym.envs.digit_seg import TARGET_SCENES_SEED
    from asg_gym.evaluation import TensorBatches
    from asg_gym.optimizee import ClassificationOptimizee, CoordinateSGD, build_new_head
    from asg_gym.schedules import REFERENCE_POLY_POWER, REFERENCE_WARMUP_ITERS, LRSchedule
    from asg_gym.segmentation.evaluation import SegmentationEvaluation
    from asg_gym.segmentation.metrics import IGNORE_INDEX
    from asg_gym.segmentation.models import build_segmentation_network
    from asg_gym.segmentation.optimizee import SegmentationOptimizee


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'asg_gym' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # once: later look-ups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "BACKGROUND",
    "DIGIT_SEG_DEFAULTS",
    "ID_TO_TRAIN_ID",
    "IGNORE_INDEX",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MAX_DEFAULT_WORKERS",
    "REFERENCE_POLY_POWER",
    "REFERENCE_WARMUP_ITERS",
    "TARGET_SCENES_SEED",
    "VISDA_CLASSES",
    "ClassificationOptimizee",
    "CoordinateSGD",
    "LRSchedule",
    "LoaderSource",
    "SegmentationEvaluation",
    "SegmentationLoaderSource",
    "SegmentationOptimizee",
    "TensorBatches",
    "__version__",
    "build_backbone",
    "build_new_head",
    "build_segmentation_network",
    "default_num_workers",
    "gta5_dataset",
    "load_checkpoint",
    "real_scenes",
    "save_checkpoint",
    "synthetic_scenes",
    "visda_split",
]
