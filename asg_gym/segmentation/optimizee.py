"""The segmentation optimizee: an FCN fine-tuned on synthetic scenes with dense proxy guidance."""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from asg_gym.interfaces import LossTerms
from asg_gym.optimizee import CoordinateSGD
from asg_gym.proxy_guidance import (
    GUIDANCE_FORMS,
    GuidanceForm,
    cap_guidance,
    dense_proxy_guidance_kl,
    patch_corners,
    whole_map_proxy_guidance_kl,
)
from asg_gym.segmentation.metrics import IGNORE_INDEX
from asg_gym.segmentation.network import SegmentationNetwork
from asg_gym.sgd import MomentumStyle


class SegmentationOptimizee(CoordinateSGD):
    """Student FCN (θ_s + θ_n), frozen θ_o, a frozen teacher encoder, and per-coordinate SGD.

    The loss is L = L_XE + λ·L_KL with L_XE the per-pixel cross-entropy (label 255 ignored) and
    L_KL the dense proxy guidance of Eq. 5: ``num_patches`` random ``patch_size``-cell patches of
    the conv5 map, the same for student and teacher, drawn from a generator seeded at reset.
    BatchNorm and dropout stay in eval mode, so L_KL is exactly 0 at reset.

    Args:
        network: the FCN, see :class:`~asg_gym.segmentation.network.SegmentationNetwork`.
        lam: λ (paper: 75 for segmentation). λ = 0 still *reports* L_KL.
        base_lr: η_base (paper: 1e-3).
        num_patches, patch_size: N patches per image and their side in conv5 cells.
        guidance: ``"patches"`` (Eq. 5) or ``"whole_map"`` (the released code: θ_o on the whole
            pooled conv5 map; ``num_patches`` and ``patch_size`` are then unused).
        kl_cap: cap λ·L_KL at this value as the released code does (9 there), by rescaling λ
            (:func:`~asg_gym.proxy_guidance.cap_guidance`); ``None``: no cap. The total loss, and
            so the env's reward, use the capped term; ``loss_kl`` reports the raw L_KL.
        momentum, weight_decay, device, channels_last, autocast_dtype, cache_teacher: as for
            :class:`~asg_gym.optimizee.ClassificationOptimizee` (the cache holds conv5 maps).
    """

    def __init__(
        self,
        network: SegmentationNetwork,
        *,
        lam: float = 75.0,
        base_lr: float = 1e-3,
        num_patches: int = 4,
        patch_size: int = 7,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        device: torch.device | str = "cpu",
        channels_last: bool = False,
        autocast_dtype: torch.dtype | None = None,
        cache_teacher: bool = True,
        momentum_style: MomentumStyle = "torch",
        guidance: GuidanceForm = "patches",
        kl_cap: float | None = None,
    ) -> None:
        super().__init__(lam=lam, base_lr=base_lr, momentum=momentum, weight_decay=weight_decay, device=device,
                         channels_last=channels_last, autocast_dtype=autocast_dtype, cache_teacher=cache_teacher,
                         momentum_style=momentum_style)
        if num_patches < 1 or patch_size < 1:
            raise ValueError(f"need num_patches >= 1 and patch_size >= 1, got {num_patches} and {patch_size}")
        if guidance not in GUIDANCE_FORMS:
            raise ValueError(f"guidance must be one of {GUIDANCE_FORMS}, got {guidance!r}")
        if kl_cap is not None and not kl_cap > 0:
            raise ValueError(f"kl_cap must be a positive number or None (no cap), got {kl_cap}")
        self.num_patches, self.patch_size = int(num_patches), int(patch_size)
        self.guidance: GuidanceForm = guidance
        self.kl_cap = None if kl_cap is None else float(kl_cap)
        self.num_classes = network.num_classes
        self.network = network
        self.features = network.encoder.to(self.device).eval()  # θ_s: image → stride-8/16/conv5 maps
        self.decoder = network.decoder.to(self.device).eval()
        self.imagenet_head = network.imagenet_head.to(self.device).eval().requires_grad_(False)
        self.teacher_features = copy.deepcopy(self.features).requires_grad_(False)
        if self.channels_last:
            for module in (self.features, self.decoder, self.teacher_features):
                module.to(memory_format=torch.channels_last)
        student = nn.ModuleDict({"encoder": self.features, "decoder": self.decoder})
        self._init_coordinates(network.coordinate_parameters(), student, network.new_layers, network.head_output)
        self._patches = torch.Generator()
        self._cache_size = 0
        self._teacher_cache: torch.Tensor | None = None
        self._teacher_cached: torch.Tensor | None = None

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self._patches.manual_seed(seed)

    def forward_backward(self, images: torch.Tensor, labels: torch.Tensor, keys: torch.Tensor | None = None
                         ) -> LossTerms:
        """Loss of one minibatch (labels ``(B, H, W)``, 255 = ignore) and its gradients."""
        self.zero_grad()
        images = self._prepare(images)
        with self._autocast():
            maps = self.features(images)
            logits = self.decoder(maps, images.shape[-2:])
        valid = (labels != IGNORE_INDEX).sum().clamp(min=1)
        # Sum over valid pixels / their count: a crop that is all "ignore" gives 0, not NaN.
        xe = F.cross_entropy(logits.float(), labels, ignore_index=IGNORE_INDEX, reduction="sum") / valid
        conv5 = maps[-1].float()  # θ_o runs in float32, like the loss
        kl = self._guidance(conv5, self.teacher_map(images, keys))
        total = xe + cap_guidance(self.lam * kl, self.kl_cap) if self.lam > 0 else xe
        return self._backward(total, xe, kl)

    def _guidance(self, conv5: torch.Tensor, teacher_conv5: torch.Tensor) -> torch.Tensor:
        """L_KL: Eq. 5 on patches (drawing them from the seeded generator), or the whole-map form."""
        if self.guidance == "whole_map":
            return whole_map_proxy_guidance_kl(conv5, teacher_conv5, self.imagenet_head)
        height, width = conv5.shape[-2:]
        side, corners = patch_corners((height, width), self.num_patches, self.patch_size, self._patches)
        return dense_proxy_guidance_kl(conv5, teacher_conv5, self.imagenet_head, side, corners)

    # ----------------------------------------------------------------------------- teacher
    def enable_teacher_cache(self, num_samples: int) -> None:
        """Cache the teacher's conv5 maps for sample ids ``0 … num_samples-1`` (allocated lazily)."""
        self._cache_size = num_samples
        self._teacher_cache = None
        self._teacher_cached = torch.zeros(num_samples, dtype=torch.bool, device=self.device)

    @torch.no_grad()
    def teacher_map(self, images: torch.Tensor, keys: torch.Tensor | None = None) -> torch.Tensor:
        """The frozen teacher's conv5 map (float32), cached per sample id when keys are given."""
        if keys is None or self._teacher_cached is None:
            return self._teacher_conv5(images)
        keys = keys.to(self.device)
        missing = ~self._teacher_cached[keys]
        if bool(missing.any()):  # the whole batch: see CoordinateSGD.enable_teacher_cache
            fresh = self._teacher_conv5(images)[missing]
            if self._teacher_cache is None:  # the map's shape is known only now
                self._teacher_cache = torch.empty(self._cache_size, *fresh.shape[1:], device=self.device)
            self._teacher_cache[keys[missing]] = fresh
            self._teacher_cached[keys[missing]] = True
        assert self._teacher_cache is not None
        return self._teacher_cache[keys]

    @torch.no_grad()
    def teacher_logits(self, images: torch.Tensor) -> torch.Tensor:
        """M_o(x): the frozen ImageNet model's image-level logits (float32)."""
        return self.imagenet_head(self._teacher_conv5(images)).float()

    def _teacher_conv5(self, images: torch.Tensor) -> torch.Tensor:
        with self._autocast():
            return self.teacher_features(self._prepare(images))[-1].float()

    # ----------------------------------------------------------------------------- readouts
    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-pixel logits ``(B, K, H, W)``, image-level ImageNet logits) of the student, float32."""
        images = self._prepare(images)
        with self._autocast():
            maps = self.features(images)
            logits = self.decoder(maps, images.shape[-2:])
            old_logits = self.imagenet_head(maps[-1])
        return logits.float(), old_logits.float()

    def state_dict(self) -> dict[str, Any]:
        """Weights, optimizer, and the patch generator (so a resume crops the same patches)."""
        return {**super().state_dict(), "patches": self._patches.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._patches.set_state(state["patches"])
