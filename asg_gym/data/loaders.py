"""Seeded minibatches from an on-disk image dataset, decoded by DataLoader workers.

:class:`LoaderSource` is the :class:`~asg_gym.envs.transfer.BatchSource` of the file-based
envs. Its order is the same as :class:`~asg_gym.data.tensor_source.TensorSource`'s (a fresh
seeded permutation per pass, last partial batch dropped) and is computed in the main process,
so it depends on the seed only, never on the number of workers or how far they prefetched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from asg_gym.data.tensor_source import normalize

MAX_DEFAULT_WORKERS = 16


def default_num_workers() -> int:
    """Every usable core but one (left to the training loop) decodes, up to 16.

    From ``experiments/bench/bench_pipeline.py`` (``results/bench_pipeline/``): a worker decoded about
    180 VisDA-17 renderings/s (224-px crops) or 6 GTA5 frames/s (1914×1052 PNG → 512² crops) on
    a loaded 2-core machine (about 290 and 10 per idle core, from the stage costs), while a bare
    training step on one A100 is estimated to consume ~1,300 images/s (ResNet-101, mixed precision)
    or ~90 (FCN-VGG16 at 512 px): 5–15 workers, more on newer GPUs. Idle workers cost only memory
    (4 prefetched batches each); a starved GPU costs the whole step. Even on 2 cores, 1 worker beat
    decoding in the main process (181 vs 84 VisDA images/s).
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, min(MAX_DEFAULT_WORKERS, usable - 1))


def loader_options(device: torch.device, num_workers: int, pin_memory: bool | None = None) -> dict[str, Any]:
    """DataLoader settings: persistent workers; pinned memory (``None``: when the batches go to CUDA)."""
    pin = device.type == "cuda" if pin_memory is None else pin_memory
    options: dict[str, Any] = {"num_workers": num_workers, "pin_memory": pin}
    if num_workers > 0:
        options.update(persistent_workers=True, prefetch_factor=4)
    return options


class EpochBatchSampler(Sampler[list[int]]):
    """An endless sequence of batches: one seeded permutation per pass over the data.

    ``skip`` batches are dropped from the start (only indices are drawn, no image is loaded),
    which is how a checkpoint resumes the order exactly.
    """

    def __init__(self, num_samples: int, batch_size: int) -> None:
        self.num_samples, self.batch_size = num_samples, batch_size
        self.seed, self.skip = 0, 0

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed)
        produced = 0
        while True:
            order = torch.randperm(self.num_samples, generator=generator)
            for start in range(0, self.num_samples - self.batch_size + 1, self.batch_size):
                if produced >= self.skip:
                    yield order[start : start + self.batch_size].tolist()
                produced += 1


class LoaderSource:
    """Cycles through seeded permutations of ``dataset``; yields ``(images, labels, keys)``.

    ``dataset[i]`` must be ``(uint8 (3, S, S), label, i)``. Images arrive normalised on
    ``device`` (copied with ``non_blocking`` from pinned memory on CUDA). ``keys`` are the
    dataset indices, for the teacher cache, or ``None`` when ``augment`` makes them meaningless.
    ``pin_memory``: ``None`` pins exactly when ``device`` is CUDA (where it matters); a bool forces it.
    """

    def __init__(self, dataset: Dataset, batch_size: int, mean: Sequence[float], std: Sequence[float],
                 device: torch.device, augment: bool = False, num_workers: int = 0,
                 pin_memory: bool | None = None) -> None:
        size = len(dataset)  # type: ignore[arg-type]  # torch types Dataset without __len__
        if not 0 < batch_size <= size:
            raise ValueError(f"batch_size must be in 1…{size} (the source size), got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.mean, self.std = tuple(mean), tuple(std)
        self.device = device
        self.augment = augment
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self._sampler = EpochBatchSampler(size, batch_size)
        self._loader: DataLoader | None = None
        self._batches: Iterator[Any] | None = None
        self._consumed = 0

    @property
    def num_samples(self) -> int:
        return self._sampler.num_samples

    @property
    def cacheable(self) -> bool:
        """Whether a sample id always maps to the same input (no random augmentation)."""
        return not self.augment

    def reset(self, seed: int) -> None:
        self._sampler.seed, self._sampler.skip = seed, 0
        self._consumed = 0
        self._batches = None  # started lazily, so a reset followed by load_state_dict loads nothing twice

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if self._batches is None:
            if self._loader is None:
                self._loader = DataLoader(self.dataset, batch_sampler=self._sampler,
                                          **loader_options(self.device, self.num_workers, self.pin_memory))
            self._batches = iter(self._loader)  # persistent workers: restarts them, dropping stale prefetches
        images, labels, keys = next(self._batches)
        self._consumed += 1
        images = normalize(images.to(self.device, non_blocking=True), self.mean, self.std)
        return images, labels.to(self.device, non_blocking=True), None if self.augment else keys

    def state_dict(self) -> dict[str, int]:
        """Seed and batches consumed: enough to continue the same order (augmentation excepted)."""
        return {"seed": self._sampler.seed, "batches": self._consumed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.reset(int(state["seed"]))
        self._sampler.skip = self._consumed = int(state["batches"])

    def close(self) -> None:
        """Stop the worker processes (they restart on the next batch)."""
        self._batches = None
        self._loader = None


class LoaderBatches:
    """Fixed-order evaluation batches ``(normalised images on device, labels)`` of a dataset."""

    def __init__(self, dataset: Dataset, batch_size: int, mean: Sequence[float], std: Sequence[float],
                 device: torch.device, num_workers: int = 0) -> None:
        self.dataset, self.batch_size = dataset, batch_size
        self.mean, self.std = tuple(mean), tuple(std)
        self.device, self.num_workers = device, num_workers
        self._loader: DataLoader | None = None

    def __call__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self._loader is None:
            self._loader = DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False,
                                      **loader_options(self.device, self.num_workers))
        for images, labels, _ in self._loader:
            images = normalize(images.to(self.device, non_blocking=True), self.mean, self.std)
            yield images, labels.to(self.device, non_blocking=True)

    def close(self) -> None:
        self._loader = None
