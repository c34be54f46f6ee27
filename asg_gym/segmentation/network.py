"""Segmentation networks split the way dense proxy guidance needs them.

An FCN here is a pretrained *encoder* (θ_s) that yields feature maps at output strides 8, 16
and 32 — the last is the "conv5" map that Eq. 5 crops patches from — and a *decoder* that fuses
them into per-pixel logits. The decoder holds the new layers θ_n and, for FCN-VGG16, the
pretrained conv6/conv7 (VGG's fc6/fc7 made convolutional). θ_o, the frozen ImageNet classifier,
maps a conv5 patch to ImageNet logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from asg_gym.backbones.base import Backbone, partition_parameters


class StagedEncoder(nn.Module):
    """Runs ``stages`` in order and returns the outputs of the stages listed in ``taps``."""

    def __init__(self, stages: Sequence[nn.Module], taps: Sequence[int]) -> None:
        super().__init__()
        if list(taps) != sorted(taps) or not taps or taps[-1] >= len(stages):
            raise ValueError(f"taps must be increasing stage indices below {len(stages)}, got {list(taps)}")
        self.stages = nn.ModuleList(stages)
        self.taps = tuple(taps)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        maps, x = [], images
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index in self.taps:
                maps.append(x)
            if index == self.taps[-1]:
                break  # stages after the last tap are not needed
        return maps


class FCNDecoder(nn.Module):
    """FCN-8s-style skip fusion: project each map, upsample to stride 8, sum, classify, upsample.

    ``pre`` transforms the deepest map first (FCN-VGG16's conv6/conv7). The new layers θ_n are
    ``projections`` and ``classifier``; upsampling is bilinear and parameter-free.
    """

    def __init__(self, channels: Sequence[int], num_classes: int, hidden: int = 128, pre: nn.Module | None = None
                 ) -> None:
        super().__init__()
        self.pre = pre
        self.projections = nn.ModuleList(nn.Conv2d(c, hidden, kernel_size=1) for c in channels)
        self.classifier = nn.Conv2d(hidden, num_classes, kernel_size=1)

    def forward(self, maps: Sequence[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        maps = list(maps)
        if self.pre is not None:
            maps[-1] = self.pre(maps[-1])
        finest = maps[0].shape[-2:]
        fused = self.projections[0](maps[0])
        for projection, fmap in zip(self.projections[1:], maps[1:], strict=True):
            fused = fused + F.interpolate(projection(fmap), size=finest, mode="bilinear", align_corners=False)
        logits = self.classifier(F.relu(fused))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


class PooledClassifier(nn.Module):
    """θ_o on a feature-map patch: average-pool to ``pool`` × ``pool`` cells, flatten, classify."""

    def __init__(self, classifier: nn.Module, pool: int = 1) -> None:
        super().__init__()
        self.pool = pool
        self.classifier = classifier

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        pooled = fmap.mean(dim=(2, 3)) if self.pool == 1 else F.adaptive_avg_pool2d(fmap, self.pool).flatten(1)
        return self.classifier(pooled)


@dataclass
class SegmentationNetwork:
    """An FCN cut into the parts the method names.

    ``encoder``: image → ``[stride-8, stride-16, conv5]`` maps (θ_s up to conv5).
    ``decoder``: ``(maps, (H, W))`` → per-pixel logits ``(B, num_classes, H, W)``.
    ``new_layers``: the freshly initialised part of the decoder (θ_n), re-drawn every episode.
    ``head_output``: θ_n's last layer; its weight statistics enter the observation.
    ``imagenet_head``: θ_o, conv5 patch ``(B, C, h, w)`` → ImageNet logits; frozen.
    ``coordinates``: ``(name, modules)`` in input-to-output order; together they hold every
    parameter of encoder and decoder exactly once, θ_n last.
    """

    name: str
    encoder: nn.Module
    decoder: nn.Module
    new_layers: nn.Module
    head_output: nn.Conv2d
    imagenet_head: nn.Module
    coordinates: list[tuple[str, list[nn.Module]]]
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def coordinate_parameters(self) -> list[tuple[str, list[nn.Parameter]]]:
        """Parameters per coordinate; checks that they partition encoder + decoder."""
        return partition_parameters(self.name, nn.ModuleList([self.encoder, self.decoder]), self.coordinates)


def fcn_from_backbone(backbone: Backbone, stages: Sequence[nn.Module], taps: Sequence[int],
                      channels: Sequence[int], num_classes: int, hidden: int = 128, head_name: str = "head"
                      ) -> SegmentationNetwork:
    """An FCN on a classification :class:`~asg_gym.backbones.Backbone`.

    ``stages`` run ``backbone.features`` in order; the encoder taps the stride-8, stride-16 and
    conv5 outputs (``taps``, with ``channels``). θ_o pools the conv5 patch globally, as the
    classifier was trained; the coordinates are the backbone's plus the new head.
    """
    decoder = FCNDecoder(channels, num_classes, hidden)
    return SegmentationNetwork(
        name=f"fcn_{backbone.name}",
        encoder=StagedEncoder(stages, taps),
        decoder=decoder,
        new_layers=decoder,
        head_output=decoder.classifier,
        imagenet_head=PooledClassifier(backbone.imagenet_head),
        coordinates=[*backbone.coordinates, (head_name, [decoder])],
        num_classes=num_classes,
        mean=backbone.mean,
        std=backbone.std,
    )
