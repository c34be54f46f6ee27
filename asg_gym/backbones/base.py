"""The split of an ImageNet classifier that proxy guidance needs."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def partition_parameters(name: str, network: nn.Module, coordinates: list[tuple[str, list[nn.Module]]]
                         ) -> list[tuple[str, list[nn.Parameter]]]:
    """``(coordinate, parameters)`` pairs; every parameter of ``network`` must be in exactly one."""
    groups = [(coordinate, [p for m in modules for p in m.parameters()]) for coordinate, modules in coordinates]
    seen = [id(p) for _, params in groups for p in params]
    if len(seen) != len(set(seen)) or set(seen) != {id(p) for p in network.parameters()}:
        raise ValueError(
            f"coordinates of {name!r} must cover every trainable parameter exactly once; "
            "fix the grouping in its builder"
        )
    return groups


@dataclass
class Backbone:
    """An ImageNet-pretrained classifier cut into the parts the method names.

    ``features`` is θ_s: image → last-stage ("conv5") feature map ``(B, feature_dim, h, w)``.
    ``imagenet_head`` is θ_o: globally pooled features → ImageNet logits. Proxy guidance applies
    θ_o to the *current* features of the student (Eq. 4), so both parts must be separable.

    ``coordinates`` lists the optimization coordinates of θ_s in input-to-output order, as
    ``(name, modules)``; every trainable parameter of ``features`` belongs to exactly one of them.
    The new task head is appended as the last coordinate by the optimizee.
    """

    name: str
    features: nn.Module
    imagenet_head: nn.Linear
    feature_dim: int
    coordinates: list[tuple[str, list[nn.Module]]]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def coordinate_parameters(self) -> list[tuple[str, list[nn.Parameter]]]:
        """Parameters per coordinate; checks that the coordinates partition ``features``."""
        return partition_parameters(self.name, self.features, self.coordinates)

    def to(self, device: torch.device) -> Backbone:
        self.features.to(device)
        self.imagenet_head.to(device)
        return self
