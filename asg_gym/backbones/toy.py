"""A tiny stand-in for an ImageNet CNN, for fast tests.

Same shape of problem as the real backbones (6 backbone coordinates at strides 2…32, a frozen
"old task" head on the last-stage features) but a few thousand parameters and deterministic
random weights, so the teacher equals the student at reset exactly as with real weights.
"""

from __future__ import annotations

import torch
from torch import nn

from asg_gym.backbones.base import Backbone

TOY_OLD_CLASSES = 16


def _conv_bn(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


def build_toy(weights: str | None = None, seed: int = 0) -> Backbone:
    """A 6-coordinate CNN; ``weights`` is ignored beyond ``None``/``"random"`` (nothing to load)."""
    if weights not in (None, "random", "imagenet"):
        raise ValueError(f"the toy backbone has no weight files; got weights={weights!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        stage_s2 = nn.Sequential(nn.BatchNorm2d(8), nn.ReLU(), _conv_bn(8, 8, 1))
        stage_s4 = _conv_bn(8, 16, 2)
        stage_s8 = _conv_bn(16, 16, 2)
        stage_s16 = _conv_bn(16, 32, 2)
        stage_s32 = _conv_bn(32, 32, 2)
        head = nn.Linear(32, TOY_OLD_CLASSES)
    features = nn.Sequential(stem, stage_s2, stage_s4, stage_s8, stage_s16, stage_s32)
    names = ["stem", "stage_s2", "stage_s4", "stage_s8", "stage_s16", "stage_s32"]
    return Backbone(
        name="toy",
        features=features,
        imagenet_head=head,
        feature_dim=32,
        coordinates=[(n, [m]) for n, m in zip(names, features, strict=True)],
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    )
