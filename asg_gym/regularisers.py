"""Lifelong-learning regularisers: the baselines proxy guidance is compared with (Table 2).

Each keeps the fine-tuned backbone θ_s close to the pretrained one in a different way:

* ``weight_l2``: vanilla L2 distance of θ_s to its pretrained values ("L2-SP").
* ``feature_l2``: L2 distance of the pooled last-stage features to the frozen model's features
  on the same images (feature-level distillation, as ROAD, Chen et al. 2018).
* ``si``: Synaptic Intelligence (Zenke et al. 2017), an importance-weighted L2 distance.

The penalty enters the loss as ``L = L_XE + λ·L_KL + weight·penalty``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from asg_gym.optimizee import Optimizee

Batches = Callable[[], tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]
REGULARISERS = ("weight_l2", "feature_l2", "si")


class Regulariser:
    """Base class: ``prepare`` once per optimizee, then ``penalty`` on every minibatch."""

    name = "none"

    def __init__(self, weight: float) -> None:
        if weight <= 0:
            raise ValueError(f"regulariser weight must be > 0, got {weight}")
        self.weight = float(weight)
        self._anchor: list[torch.Tensor] = []

    def prepare(self, optimizee: Optimizee, next_batch: Batches) -> None:
        """Remember the pretrained θ_s (the anchor). ``next_batch`` feeds data-driven estimates."""
        self._anchor = [p.detach().clone() for p in optimizee.backbone_parameters()]

    def penalty(self, optimizee: Optimizee, images: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class WeightL2(Regulariser):
    """Σ_k (θ_k − θ_k⁰)² over the backbone parameters."""

    name = "weight_l2"

    def penalty(self, optimizee: Optimizee, images: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        params = optimizee.backbone_parameters()
        return sum(((p - a) ** 2).sum() for p, a in zip(params, self._anchor))  # type: ignore[return-value]


class FeatureL2(Regulariser):
    """Batch mean of ‖f_s(x) − f_o(x)‖² on pooled last-stage features (ROAD-style distillation)."""

    name = "feature_l2"

    def penalty(self, optimizee: Optimizee, images: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            teacher = optimizee.teacher_features(images).mean(dim=(2, 3))
        return ((pooled.float() - teacher.float()) ** 2).sum(dim=1).mean()


class SynapticIntelligence(Regulariser):
    """Σ_k Ω_k (θ_k − θ_k⁰)², with SI importances Ω_k of the *old* (ImageNet) task.

    SI measures, along a training trajectory of the old task, how much each parameter's motion
    reduced the old-task loss: ω_k = −Σ_t g_k(t)·Δθ_k(t) and Ω_k = max(ω_k, 0) / (Δ_k² + ξ).
    The ImageNet trajectory of the pretrained weights is not available, so we replay a short
    one: ``steps`` SGD steps on the old task from θ⁰, on the source images labelled with the
    frozen teacher's top-1 ImageNet class (no target images are used). The replay runs on a
    copy; the optimizee's weights are untouched.
    """

    name = "si"

    def __init__(self, weight: float, steps: int = 20, lr: float = 1e-3, xi: float = 1e-3) -> None:
        super().__init__(weight)
        self.steps, self.lr, self.xi = steps, lr, xi
        self.importance: list[torch.Tensor] = []

    def prepare(self, optimizee: Optimizee, next_batch: Batches) -> None:
        super().prepare(optimizee, next_batch)
        import copy

        features = copy.deepcopy(optimizee.teacher_features).requires_grad_(True)
        head = optimizee.teacher_head
        params = [p for p in features.parameters()]
        omega = [torch.zeros_like(p) for p in params]
        start = [p.detach().clone() for p in params]
        sgd = torch.optim.SGD(params, lr=self.lr)
        for _ in range(self.steps):
            images = next_batch()[0]
            with torch.no_grad():
                pseudo_labels = optimizee.teacher_logits(images).argmax(dim=1)
            sgd.zero_grad(set_to_none=True)
            F.cross_entropy(head(features(images).mean(dim=(2, 3))), pseudo_labels).backward()
            before = [p.detach().clone() for p in params]
            grads = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in params]
            sgd.step()
            for w, g, p, b in zip(omega, grads, params, before):
                w.sub_(g * (p.detach() - b))
        self.importance = [
            w.clamp(min=0) / ((p.detach() - s) ** 2 + self.xi) for w, p, s in zip(omega, params, start)
        ]

    def penalty(self, optimizee: Optimizee, images: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        params = optimizee.backbone_parameters()
        return sum((o * (p - a) ** 2).sum() for o, p, a in zip(self.importance, params, self._anchor))  # type: ignore[return-value]


def build_regulariser(name: str | None, weight: float) -> Regulariser | None:
    """``None``/``"none"`` → no regulariser; otherwise one of :data:`REGULARISERS`."""
    if name in (None, "none"):
        return None
    classes = {cls.name: cls for cls in (WeightL2, FeatureL2, SynapticIntelligence)}
    if name not in classes:
        raise ValueError(f"unknown regulariser {name!r}; choose one of {REGULARISERS} or None")
    return classes[name](weight)
