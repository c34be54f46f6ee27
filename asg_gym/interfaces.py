"""The parts an ASG env is assembled from, as protocols: a source of batches and an optimizee.

The env depends on these, never on a concrete class (as dm_control's ``Environment`` depends on
a ``Task``): the classification and segmentation optimizees, a test's stub, or a user's own
optimizee plug in alike. Data flows one way: action → scales → :meth:`Optimizee.train_step` →
:class:`StepStats` → observation and reward.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

Batch = tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]  # images, labels, sample ids (or None)


@dataclass(frozen=True)
class LossTerms:
    """Loss L = L_XE + λ·L_KL (Eq. 2) of one minibatch, as Python floats."""

    total: float
    xe: float
    kl: float

    def is_finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.total, self.xe, self.kl))

    @staticmethod
    def mean(window: Sequence[LossTerms]) -> LossTerms:
        """Term-wise mean over the SGD steps of one decision window."""
        n = len(window)
        return LossTerms(sum(t.total for t in window) / n, sum(t.xe for t in window) / n,
                         sum(t.kl for t in window) / n)


@dataclass(frozen=True)
class StepStats:
    """What the optimizee reports after one SGD step: everything the observation and info need."""

    loss: LossTerms
    lrs: tuple[float, ...]  # the learning rate of each coordinate for this step
    head_mean: float  # mean / std of the weights of θ_n's output layer (observation features 3, 4)
    head_std: float


class BatchSource(Protocol):
    """Where minibatches of labelled source (synthetic) images come from."""

    @property
    def num_samples(self) -> int: ...

    @property
    def cacheable(self) -> bool:
        """True when a sample id always maps to the same image (no random augmentation)."""
        ...

    def reset(self, seed: int) -> None: ...

    def next_batch(self) -> Batch: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Optimizee(Protocol):
    """A network trained by per-coordinate SGD on a proxy-guided loss; knows nothing of RL.

    Algorithm 1's order: :meth:`start` computes L_0 and its gradients at θ_0; each
    :meth:`train_step` first updates θ with the pending gradients at the given scales, then
    computes the loss and gradients of the next batch.
    """

    coordinate_names: tuple[str, ...]

    def prepare(self, source: BatchSource) -> None:
        """Once, before the first episode: e.g. regulariser statistics, a teacher cache sized to the source."""
        ...

    def reset(self, seed: int) -> None:
        """Pretrained weights restored from memory, new layers and a fresh optimizer from ``seed``."""
        ...

    def start(self, batch: Batch) -> StepStats:
        """L_0 at θ_0 on ``batch``, and its gradients (the first update will apply them)."""
        ...

    def train_step(self, scales: Sequence[float], batch: Batch) -> StepStats:
        """One SGD update at ``scale_c · base_lr`` per coordinate, then the loss of ``batch``."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (not views of live tensors) for an exact resume, pending gradients included."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
