"""Backbones: ImageNet classifiers split into θ_s (features), θ_o (ImageNet head) and coordinates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from asg_gym.backbones.base import Backbone
from asg_gym.backbones.efficientnet_lite import VARIANTS as EFFICIENTNET_LITE_VARIANTS  # cheap: timm loads on build

BackboneBuilder = Callable[..., Backbone]


def _efficientnet_lite(variant: int) -> BackboneBuilder:
    def build(weights: str | Path | None) -> Backbone:
        from asg_gym.backbones.efficientnet_lite import build_efficientnet_lite

        return build_efficientnet_lite(variant, weights)

    return build


def _toy(weights: str | Path | None) -> Backbone:
    from asg_gym.backbones.toy import build_toy

    return build_toy(None if weights is None else str(weights))


def _resnet(arch: str) -> BackboneBuilder:
    def build(weights: str | Path | None) -> Backbone:
        from asg_gym.backbones.resnet import build_resnet

        return build_resnet(arch, weights)

    return build


# Builders import their module on first use, so `import asg_gym` stays cheap.
BACKBONES: dict[str, BackboneBuilder] = {
    **{f"efficientnet_lite{variant}": _efficientnet_lite(variant) for variant in EFFICIENTNET_LITE_VARIANTS},
    "toy": _toy,
    **{arch: _resnet(arch) for arch in ("resnet18", "resnet50", "resnet101")},
}


def register_backbone(name: str, builder: BackboneBuilder) -> None:
    """Make ``build_backbone(name, weights)`` available for a user-defined backbone."""
    BACKBONES[name] = builder


def build_backbone(name: str, weights: str | Path | None) -> Backbone:
    """Build a registered backbone; ``weights`` is a name (e.g. ``"imagenet"``), a path, or ``None``."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    return BACKBONES[name](weights)


__all__ = ["BACKBONES", "Backbone", "build_backbone", "register_backbone"]
