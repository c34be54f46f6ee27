"""Lifelong-learning regularisers: the baselines proxy guidance is compared with (Table 2).

Each keeps the fine-tuned backbone θ_s close to the pretrained one in a different way:

* ``weight_l2``: vanilla L2 distance of θ_s to its pretrained values ("L2-SP").
* ``feature_l2``: L2 distance of the pooled last-stage features to the frozen model's features
  on the same images (feature-level distillation, as ROAD, Chen et al. 2018).
* ``si``: Synaptic Intelligence (Zenke et al. 2017), an importance-weighted L2 distance.

The penalty enters the loss as ``L = L_XE + λ·L_KL + weight·penalty``.
"""

from __future__ import annotations

import copy
import functools
import operator
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from asg_gym.interfaces import Batch

REGULARISERS = ("weight_l2", "feature_l2", "si")


class Regulariser:
    """Base class: ``prepare`` once with the networks it reads, then ``penalty`` on every minibatch.

    It sees tensors and modules only: the student's features θ_s (trained), the frozen teacher's
    features and ImageNet head, and a source of batches for data-driven estimates.
    """

    name = "none"

    def __init__(self, weight: float) -> None:
        if weight <= 0:
            raise ValueError(f"regulariser weight must be > 0, got {weight}")
        self.weight = float(weight)
        self._student: nn.Module | None = None
        self._teacher: nn.Module | None = None
        self._anchor: list[torch.Tensor] = []

    def prepare(self, student: nn.Module, teacher: nn.Module, teacher_head: nn.Module,
                next_batch: Callable[[], Batch]) -> None:
        """Remember the pretrained θ_s (the anchor) and the modules the penalty reads."""
        self._student, self._teacher = student, teacher
        self._anchor = [p.detach().clone() for p in student.parameters()]

    def penalty(self, images: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """The penalty on a minibatch: ``images`` as the student saw them, ``pooled`` its pooled features."""
        raise NotImplementedError

    def _distances(self) -> list[torch.Tensor]:
        """(θ_k − θ_k⁰)² per backbone tensor."""
        if self._student is None:
            raise RuntimeError(f"{type(self).__name__}.prepare() must run before penalty()")
        return [(p - a) ** 2 for p, a in zip(self._student.parameters(), self._anchor, strict=True)]


class WeightL2(Regulariser):
    """Σ_k (θ_k − θ_k⁰)² over the backbone parameters."""

    name = "weight_l2"

    def penalty(self, images: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        return _sum(d.sum() for d in self._distances())


class FeatureL2(Regulariser):
    """Batch mean of ‖f_s(x) − f_o(x)‖² on pooled last-stage features (ROAD-style distillation)."""

    name = "feature_l2"

    def penalty(self, images: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        if self._teacher is None:
            raise RuntimeError("FeatureL2.prepare() must run before penalty()")
        with torch.no_grad():
            teacher = self._teacher(images).mean(dim=(2, 3))
        return ((pooled.float() - teacher.float()) ** 2).sum(dim=1).mean()


class SynapticIntelligence(Regulariser):
    """Σ_k Ω_k (θ_k − θ_k⁰)², with SI importances Ω_k of the *old* (ImageNet) task.

    SI measures, along a training trajectory of the old task, how much each parameter's motion
    reduced the old-task loss: ω_k = −Σ_t g_k(t)·Δθ_k(t) and Ω_k = max(ω_k, 0) / (Δ_k² + ξ).
    The ImageNet trajectory of the pretrained weights is not available, so we replay a short
    one: ``steps`` SGD steps on the old task from θ⁰, on the source images labelled with the
    frozen teacher's top-1 ImageNet class (no target images are used). The replay runs on a
    copy; the student's weights are untouched.
    """

    name = "si"

    def __init__(self, weight: float, steps: int = 20, lr: float = 1e-3, xi: float = 1e-3) -> None:
        super().__init__(weight)
        self.steps, self.lr, self.xi = steps, lr, xi
        self.importance: list[torch.Tensor] = []

    def prepare(self, student: nn.Module, teacher: nn.Module, teacher_head: nn.Module,
                next_batch: Callable[[], Batch]) -> None:
        super().prepare(student, teacher, teacher_head, next_batch)
        features = copy.deepcopy(teacher).requires_grad_(True)
        params = list(features.parameters())
        omega = [torch.zeros_like(p) for p in params]
        start = [p.detach().clone() for p in params]
        sgd = torch.optim.SGD(params, lr=self.lr)
        for _ in range(self.steps):
            images = next_batch()[0]
            with torch.no_grad():
                pseudo_labels = teacher_head(teacher(images).mean(dim=(2, 3))).argmax(dim=1)
            sgd.zero_grad(set_to_none=True)
            F.cross_entropy(teacher_head(features(images).mean(dim=(2, 3))), pseudo_labels).backward()
            before = [p.detach().clone() for p in params]
            grads = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in params]
            sgd.step()
            for w, g, p, b in zip(omega, grads, params, before, strict=True):
                w.sub_(g * (p.detach() - b))
        self.importance = [
            w.clamp(min=0) / ((p.detach() - s) ** 2 + self.xi) for w, p, s in zip(omega, params, start, strict=True)
        ]

    def penalty(self, images: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        return _sum((o * d).sum() for o, d in zip(self.importance, self._distances(), strict=True))


def _sum(terms: Iterable[torch.Tensor]) -> torch.Tensor:
    """Left-to-right sum of per-tensor terms (a fixed order keeps results bitwise reproducible)."""
    return functools.reduce(operator.add, terms)


def build_regulariser(name: str | None, weight: float) -> Regulariser | None:
    """``None``/``"none"`` → no regulariser; otherwise one of :data:`REGULARISERS`."""
    if name in (None, "none"):
        return None
    classes = {cls.name: cls for cls in (WeightL2, FeatureL2, SynapticIntelligence)}
    if name not in classes:
        raise ValueError(f"unknown regulariser {name!r}; choose one of {REGULARISERS} or None")
    return classes[name](weight)
