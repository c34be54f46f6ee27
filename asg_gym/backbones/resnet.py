"""torchvision ResNets (18, 50, 101) split into θ_s, θ_o and the paper's 6 backbone coordinates.

Weights come from torchvision's local cache only (:mod:`asg_gym.backbones.torchvision_weights`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from asg_gym.backbones.base import Backbone
from asg_gym.backbones.torchvision_weights import DEFAULT_WEIGHTS, IMAGENET_MEAN, IMAGENET_STD, load_into

ARCHITECTURES = ("resnet18", "resnet50", "resnet101")


def build_resnet(arch: str, weights: str | Path | None = DEFAULT_WEIGHTS, seed: int = 0) -> Backbone:
    """A torchvision ResNet as θ_s (conv1 … layer4), θ_o (``fc``) and 6 coordinates.

    ``weights``: a torchvision weight name (``"IMAGENET1K_V1"``, alias ``"imagenet"``) loaded
    from torchvision's cache, a path to a state dict of the torchvision model, or ``None``
    (random init drawn from ``seed``, for tests). Coordinates follow the paper: a new one
    whenever the resolution drops, with conv1 and bn1 on their own (C = 6 + the new head).
    """
    import torchvision.models as models

    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown ResNet {arch!r}; choose one of {ARCHITECTURES}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # weights=None: the same random network on every build
        model = getattr(models, arch)(weights=None)
    if weights is not None:
        load_into(model, arch, weights)
    features = nn.Sequential(
        model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2, model.layer3, model.layer4
    )
    names = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")
    return Backbone(
        name=arch,
        features=features,
        imagenet_head=model.fc,
        feature_dim=model.fc.in_features,
        coordinates=[(name, [getattr(model, name)]) for name in names],
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )

