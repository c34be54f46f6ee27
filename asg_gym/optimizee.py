"""Optimizees: ImageNet-pretrained CNNs fine-tuned on synthetic images with proxy guidance.

They know nothing of reinforcement learning. The env (or a plain trainer) drives them through
the :class:`~asg_gym.interfaces.Optimizee` protocol: scales in, loss statistics out.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from asg_gym.backbones.base import Backbone
from asg_gym.interfaces import Batch, BatchSource, LossTerms, StepStats
from asg_gym.proxy_guidance import proxy_guidance_kl
from asg_gym.regularisers import Regulariser
from asg_gym.sgd import MOMENTUM_STYLES, MomentumStyle, build_sgd

NEW_HEAD = "new_head"


def build_new_head(feature_dim: int, num_classes: int, hidden: int) -> nn.Sequential:
    """θ_n: Linear → ReLU → Linear on pooled last-stage features (as the reference code)."""
    return nn.Sequential(nn.Linear(feature_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


class CoordinateSGD:
    """Per-coordinate SGD over a student network: the machinery every optimizee shares.

    Implements the :class:`~asg_gym.interfaces.Optimizee` protocol around one abstract method,
    :meth:`forward_backward`. Subclasses build the student, then call :meth:`_init_coordinates`
    with its coordinates (``(name, parameters)`` in input-to-output order, the new task head
    last), the module that holds every trainable parameter, the freshly initialised layers
    (re-drawn from the seed at each reset), and the head's output layer (its weight statistics
    enter the observation).
    """

    def __init__(
        self,
        *,
        lam: float,
        base_lr: float,
        momentum: float,
        weight_decay: float,
        device: torch.device | str,
        channels_last: bool,
        autocast_dtype: torch.dtype | None,
        cache_teacher: bool,
        momentum_style: MomentumStyle = "torch",
    ) -> None:
        if lam < 0 or base_lr <= 0:
            raise ValueError(f"need lam >= 0 and base_lr > 0, got lam={lam}, base_lr={base_lr}")
        if momentum_style not in MOMENTUM_STYLES:
            raise ValueError(f"momentum_style must be one of {MOMENTUM_STYLES}, got {momentum_style!r}")
        if autocast_dtype not in (None, torch.bfloat16):
            raise ValueError(
                f"autocast_dtype must be None or torch.bfloat16, got {autocast_dtype} (float16 would need "
                "loss scaling, which the optimizee does not do)"
            )
        self.channels_last = bool(channels_last)
        self.autocast_dtype = autocast_dtype
        self.device = torch.device(device)
        self.lam = float(lam)
        self.base_lr = float(base_lr)
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.cache_teacher = bool(cache_teacher)
        self.momentum_style = momentum_style
        self.lr_multiplier = 1.0  # a trainer's schedule on top of the scales (experiments/paper/train_transfer.py)
        self.optimizer: torch.optim.Optimizer | None = None

    def _init_coordinates(self, groups: list[tuple[str, list[nn.Parameter]]], student: nn.Module,
                          new_layers: nn.Module, head_output: nn.Linear | nn.Conv2d) -> None:
        self._groups = groups
        self.coordinate_names: tuple[str, ...] = tuple(name for name, _ in groups)
        self._student, self._new_layers, self._head_output = student, new_layers, head_output
        # reset() restores the student from memory, never from disk.
        self._initial_state = {k: v.detach().clone() for k, v in student.state_dict().items()}

    @property
    def num_coordinates(self) -> int:
        return len(self._groups)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for _, params in self._groups for p in params]

    # ------------------------------------------------------------------ Optimizee protocol
    def prepare(self, source: BatchSource) -> None:
        """Size the teacher cache to the source when a sample id always maps to the same image."""
        if self.cache_teacher and source.cacheable:
            self.enable_teacher_cache(source.num_samples)

    def reset(self, seed: int) -> None:
        """Restore the pretrained weights, draw fresh new layers from ``seed``, start a new SGD."""
        with torch.no_grad():
            self._student.load_state_dict(self._initial_state)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for layer in self._new_layers.modules():
                if isinstance(layer, (nn.Linear, nn.Conv2d)):
                    layer.reset_parameters()
        self.optimizer = build_sgd(
            self.momentum_style,
            [{"params": params, "lr": self.base_lr, "name": name} for name, params in self._groups],
            lr=self.base_lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
        )
        self.zero_grad()

    def start(self, batch: Batch) -> StepStats:
        return self._stats(self.forward_backward(*batch))

    def train_step(self, scales: Sequence[float], batch: Batch) -> StepStats:
        self.set_scales(scales)
        self.sgd_step()  # Algorithm 1: update with the gradients of the previous batch's loss
        return self._stats(self.forward_backward(*batch))

    def state_dict(self) -> dict[str, Any]:
        """Weights, optimizer and pending gradients, copied (a snapshot, not views of live tensors)."""
        optimizer = self._require_optimizer()
        gradients = [None if p.grad is None else p.grad.detach().clone() for p in self.trainable_parameters()]
        return copy.deepcopy({"student": self._student.state_dict(), "optimizer": optimizer.state_dict(),
                              "gradients": gradients})

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a snapshot, which stays untouched (it may be loaded again)."""
        optimizer = self._require_optimizer()
        state = copy.deepcopy(state)  # torch's Optimizer.load_state_dict adopts same-device tensors as they are
        self._student.load_state_dict(state["student"])
        optimizer.load_state_dict(state["optimizer"])
        for param, grad in zip(self.trainable_parameters(), state["gradients"], strict=True):
            param.grad = None if grad is None else grad.to(param.device)

    # ------------------------------------------------------------------ the parts of a step
    def forward_backward(self, images: torch.Tensor, labels: torch.Tensor, keys: torch.Tensor | None = None
                         ) -> LossTerms:
        """Loss of one minibatch at the current weights, and its gradients (kept for the next step)."""
        raise NotImplementedError

    def enable_teacher_cache(self, num_samples: int) -> None:
        """Cache the frozen teacher's outputs for sample ids ``0 … num_samples-1``.

        A batch with any sample not cached yet runs the teacher on the whole batch, as without the
        cache (so never more often), and keeps the new samples' rows. Run on the new samples alone,
        a cached output depended on how many there were (CPU kernels round differently at another
        batch size), so an episode depended on the episodes run before it in the same env, and a
        resumed training run on where it resumed. A cached output now has the bits of the uncached
        one wherever a sample's output does not depend on the other samples of a batch of the same
        size (so on the CPU kernels measured; ``tests/test_resume.py`` checks it).
        """
        raise NotImplementedError

    def set_scales(self, scales: Sequence[float]) -> list[float]:
        """η_c = scale_c · η_base (· ``lr_multiplier``, 1 unless a schedule sets it); returns the learning rates."""
        optimizer = self._require_optimizer()
        if len(scales) != self.num_coordinates:
            raise ValueError(f"expected {self.num_coordinates} scales (one per coordinate), got {len(scales)}")
        lrs = [float(s) * self.base_lr * self.lr_multiplier for s in scales]
        for group, lr in zip(optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        return lrs

    def zero_grad(self) -> None:
        for p in self.trainable_parameters():
            p.grad = None

    def sgd_step(self) -> None:
        """One SGD update from the gradients of the last ``forward_backward``."""
        optimizer = self._require_optimizer()
        if any(p.grad is not None for p in self._new_layers.parameters()):
            optimizer.step()

    def _backward(self, total: torch.Tensor, xe: torch.Tensor, kl: torch.Tensor) -> LossTerms:
        """The loss terms as floats; gradients only when all are finite (a NaN must not reach θ)."""
        terms = LossTerms(*torch.stack([total.detach(), xe.detach(), kl.detach()]).tolist())
        if terms.is_finite():
            total.backward()
        return terms

    @torch.no_grad()
    def _stats(self, loss: LossTerms) -> StepStats:
        """The step's report: its loss, the learning rates, and mean/std of θ_n's output weights."""
        std, mean = torch.std_mean(self._head_output.weight)
        lrs = tuple(float(group["lr"]) for group in self._require_optimizer().param_groups)
        return StepStats(loss, lrs, float(mean), float(std))

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def _autocast(self) -> contextlib.AbstractContextManager:
        # Mixed precision for the CNN forward only; the losses stay float32 (callers cast logits).
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def _require_optimizer(self) -> torch.optim.Optimizer:
        if self.optimizer is None:
            raise RuntimeError("call reset(seed) before training")
        return self.optimizer


class ClassificationOptimizee(CoordinateSGD):
    """Student θ_s + frozen θ_o + new head θ_n, a frozen teacher M_o, and per-coordinate SGD.

    BatchNorm layers stay in eval mode throughout (frozen statistics, as the reference code), so
    student and teacher compute the same function at reset and L_KL is exactly 0 there.

    Args:
        backbone: the pretrained network, split by :class:`~asg_gym.backbones.Backbone`.
        num_classes: classes of the new (synthetic → real) task.
        lam: λ, the weight of the proxy-guidance term. λ = 0 still *reports* L_KL.
        base_lr: η_base; coordinate c trains at ``scale[c] * base_lr``.
        momentum, weight_decay: SGD settings (paper: 0.9, 5e-4).
        head_hidden: hidden width of θ_n (reference: 512).
        device: where all tensors live.
        channels_last: keep the CNNs and their inputs in channels-last memory format.
        cache_teacher: cache the teacher's log-probabilities per source sample id when the source
            has no random augmentation (set up by :meth:`prepare`).
        momentum_style: ``"torch"`` or ``"reference"`` update rule (:mod:`asg_gym.sgd`).
        regulariser: an optional lifelong-learning penalty on θ_s (Table 2 baselines), added to L.
        autocast_dtype: run the forward passes under ``torch.autocast`` with this dtype
            (``torch.bfloat16``); losses are always computed in float32. ``None``: plain float32.
    """

    def __init__(
        self,
        backbone: Backbone,
        num_classes: int,
        *,
        lam: float = 0.1,
        base_lr: float = 1e-4,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        head_hidden: int = 512,
        device: torch.device | str = "cpu",
        channels_last: bool = False,
        autocast_dtype: torch.dtype | None = None,
        cache_teacher: bool = True,
        momentum_style: MomentumStyle = "torch",
        regulariser: Regulariser | None = None,
    ) -> None:
        super().__init__(lam=lam, base_lr=base_lr, momentum=momentum, weight_decay=weight_decay, device=device,
                         channels_last=channels_last, autocast_dtype=autocast_dtype, cache_teacher=cache_teacher,
                         momentum_style=momentum_style)
        self.regulariser = regulariser
        self.num_classes = int(num_classes)
        self.backbone = backbone.to(self.device)
        self.features = backbone.features.eval()
        self.imagenet_head = backbone.imagenet_head.eval().requires_grad_(False)
        self.teacher_features = copy.deepcopy(self.features).requires_grad_(False)
        self.teacher_head = copy.deepcopy(self.imagenet_head)
        self.new_head = build_new_head(backbone.feature_dim, num_classes, head_hidden).to(self.device)
        if self.channels_last:
            self.features.to(memory_format=torch.channels_last)
            self.teacher_features.to(memory_format=torch.channels_last)

        groups = [*backbone.coordinate_parameters(), (NEW_HEAD, list(self.new_head.parameters()))]
        student = nn.ModuleDict({"features": self.features, "new_head": self.new_head})
        output = self.new_head[-1]
        assert isinstance(output, nn.Linear)
        self._init_coordinates(groups, student, self.new_head, head_output=output)
        self._teacher_cache: torch.Tensor | None = None
        self._teacher_cached: torch.Tensor | None = None

    def prepare(self, source: BatchSource) -> None:
        if self.regulariser is not None:  # anchors θ_s⁰ (and SI importances) before any update
            self.regulariser.prepare(self.features, self.teacher_features, self.teacher_head, source.next_batch)
        super().prepare(source)

    def forward_backward(
        self, images: torch.Tensor, labels: torch.Tensor, keys: torch.Tensor | None = None
    ) -> LossTerms:
        """Loss of one minibatch at the current weights, and its gradients (kept for the next step).

        ``keys`` (sample ids) let the teacher's log-probabilities be cached: without random
        augmentation they are a pure function of the image. Non-finite losses are returned but
        not back-propagated.
        """
        self.zero_grad()
        images = self._prepare(images)
        with self._autocast():
            pooled = self.features(images).mean(dim=(2, 3))
            new_logits, old_logits = self.new_head(pooled), self.imagenet_head(pooled)
        xe = F.cross_entropy(new_logits.float(), labels)
        kl = proxy_guidance_kl(old_logits, self.teacher_log_probs(images, keys))
        total = xe + self.lam * kl if self.lam > 0 else xe
        if self.regulariser is not None:
            total = total + self.regulariser.weight * self.regulariser.penalty(images, pooled)
        return self._backward(total, xe, kl)

    # ----------------------------------------------------------------------------- teacher
    def enable_teacher_cache(self, num_samples: int) -> None:
        """Cache teacher log-probabilities for sample ids ``0 … num_samples-1``."""
        classes = self.teacher_head.out_features
        if self._teacher_cache is None or self._teacher_cache.shape[0] != num_samples:
            self._teacher_cache = torch.empty(num_samples, classes, device=self.device)
            self._teacher_cached = torch.zeros(num_samples, dtype=torch.bool, device=self.device)

    @torch.no_grad()
    def teacher_logits(self, images: torch.Tensor) -> torch.Tensor:
        """M_o(x): the frozen ImageNet model's logits (float32)."""
        with self._autocast():
            logits = self.teacher_head(self.teacher_features(self._prepare(images)).mean(dim=(2, 3)))
        return logits.float()

    @torch.no_grad()
    def teacher_log_probs(self, images: torch.Tensor, keys: torch.Tensor | None = None) -> torch.Tensor:
        if keys is None or self._teacher_cache is None:
            return F.log_softmax(self.teacher_logits(images).float(), dim=1)
        assert self._teacher_cached is not None
        keys = keys.to(self.device)
        missing = ~self._teacher_cached[keys]
        if bool(missing.any()):  # the whole batch: see CoordinateSGD.enable_teacher_cache
            self._teacher_cache[keys[missing]] = F.log_softmax(self.teacher_logits(images).float(), dim=1)[missing]
            self._teacher_cached[keys[missing]] = True
        return self._teacher_cache[keys]

    # ----------------------------------------------------------------------------- readouts
    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(new-task logits, ImageNet-head logits) of the student (float32), without gradients."""
        with self._autocast():
            pooled = self.features(self._prepare(images)).mean(dim=(2, 3))
            new_logits, old_logits = self.new_head(pooled), self.imagenet_head(pooled)
        return new_logits.float(), old_logits.float()
