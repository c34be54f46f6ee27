"""Minibatches from an in-memory uint8 image tensor, in a seeded order."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch


@functools.lru_cache(maxsize=16)
def _channel_stats(mean: tuple[float, ...], std: tuple[float, ...], device: torch.device
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    # Built once per device: the env step must not copy constants to the GPU every batch.
    return (torch.tensor(mean, device=device).view(1, 3, 1, 1), torch.tensor(std, device=device).view(1, 3, 1, 1))


def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 ``(B, 3, H, W)`` → float32, scaled to [0, 1] and normalised per channel."""
    m, s = _channel_stats(tuple(mean), tuple(std), images.device)
    return (images.float().div_(255.0) - m).div_(s)


class TensorSource:
    """Cycles through seeded permutations of ``images``; yields ``(images, labels, keys)``.

    ``keys`` are the sample ids (for the teacher cache); they are ``None`` with ``augment=True``
    because then the same id no longer means the same pixels.

    Args:
        images: uint8 ``(N, 3, H, W)``; labels: int64 ``(N,)``.
        batch_size: images per SGD step (the last partial batch of an epoch is dropped).
        mean, std: the backbone's input normalisation.
        augment: random translation (±1/8 of the size) and contrast jitter, drawn from the seed.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        device: torch.device,
        augment: bool = False,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 images of shape (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        if not 0 < batch_size <= len(images):
            raise ValueError(f"batch_size must be in 1…{len(images)} (the source size), got {batch_size}")
        self.images = images.to(device)
        self.labels = labels.to(device)
        self.batch_size = batch_size
        self.mean, self.std = tuple(mean), tuple(std)
        self.augment = augment
        self.device = device
        self._generator = torch.Generator()
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0

    @property
    def num_samples(self) -> int:
        return len(self.images)

    @property
    def cacheable(self) -> bool:
        """Whether a sample id always maps to the same input (no random augmentation)."""
        return not self.augment

    def reset(self, seed: int) -> None:
        self._generator.manual_seed(seed)
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if self._cursor + self.batch_size > len(self._order):
            self._order = torch.randperm(self.num_samples, generator=self._generator)
            self._cursor = 0
        keys = self._order[self._cursor : self._cursor + self.batch_size]
        self._cursor += self.batch_size
        index = keys.to(self.device)
        images = self.images[index]
        if self.augment:
            images = self._augment(images)
        return normalize(images, self.mean, self.std), self.labels[index], None if self.augment else keys

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """Generator state, current permutation and position: continues the same order exactly."""
        return {"generator": self._generator.get_state(), "order": self._order.clone(), "cursor": self._cursor}

    def load_state_dict(self, state: dict[str, torch.Tensor | int]) -> None:
        generator, order = state["generator"], state["order"]
        assert isinstance(generator, torch.Tensor) and isinstance(order, torch.Tensor)
        self._generator.set_state(generator)
        self._order = order.clone()
        self._cursor = int(state["cursor"])

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        size = images.shape[-1]
        shift = max(1, size // 8)
        dx, dy = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=self._generator))
        images = torch.roll(images, shifts=(dy, dx), dims=(2, 3))
        contrast = 0.6 + 0.8 * torch.rand(len(images), 1, 1, 1, generator=self._generator).to(images.device)
        centred = images.float() - images.float().mean(dim=(1, 2, 3), keepdim=True)
        return (centred * contrast + images.float().mean(dim=(1, 2, 3), keepdim=True)).clamp_(0, 255).to(torch.uint8)
