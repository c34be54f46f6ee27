"""Target-domain evaluation: real-image accuracy of the new head, and old-task retention."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch

from asg_gym.data.tensor_source import normalize
from asg_gym.optimizee import ClassificationOptimizee


def class_accuracies(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per-class accuracy (NaN for classes absent from ``labels``)."""
    correct = torch.zeros(num_classes, dtype=torch.float64)
    total = torch.zeros(num_classes, dtype=torch.float64)
    total.index_add_(0, labels.cpu(), torch.ones(len(labels), dtype=torch.float64))
    correct.index_add_(0, labels.cpu(), (predictions.cpu() == labels.cpu()).double())
    return torch.where(total > 0, correct / total.clamp(min=1), torch.full_like(total, float("nan")))


def summarize(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict[str, float]:
    """Overall accuracy and the mean of per-class accuracies (VisDA's metric)."""
    per_class = class_accuracies(predictions, labels, num_classes)
    return {
        "target_accuracy": float((predictions.cpu() == labels.cpu()).double().mean()),
        "target_mean_class_accuracy": float(per_class[~per_class.isnan()].mean()),
    }


Batches = Callable[[], Iterable[tuple[torch.Tensor, torch.Tensor]]]


def evaluate_batches(optimizee: ClassificationOptimizee, batches: Batches, num_classes: int,
                     teacher_top1: list[torch.Tensor]
                     ) -> dict[str, float]:
    """Run the student over ``batches()``; ``teacher_top1`` caches the frozen teacher's top-1.

    Returns target accuracy, mean class accuracy, and ``old_task_agreement``: how often the
    student's ImageNet head agrees with the teacher's top-1 on the target images.
    """
    predictions, labels, old_top1 = [], [], []
    fill_cache = not teacher_top1
    for images, y in batches():
        new_logits, old_logits = optimizee.predict(images)
        predictions.append(new_logits.argmax(1).cpu())
        old_top1.append(old_logits.argmax(1).cpu())
        labels.append(y.cpu())
        if fill_cache:
            teacher_top1.append(optimizee.teacher_logits(images).argmax(1).cpu())
    result = summarize(torch.cat(predictions), torch.cat(labels), num_classes)
    result["old_task_agreement"] = float((torch.cat(old_top1) == torch.cat(teacher_top1)).double().mean())
    return result


class TensorBatches:
    """Fixed-order normalised minibatches of an in-memory uint8 image set ``(N, 3, H, W)`` and its labels."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean: Sequence[float], std: Sequence[float],
                 device: torch.device, batch_size: int) -> None:
        self.images, self.labels = images.to(device), labels.to(device)
        self.mean, self.std = mean, std
        self.batch_size = batch_size

    def __call__(self) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(self.images), self.batch_size):
            chunk = slice(start, start + self.batch_size)
            yield normalize(self.images[chunk], self.mean, self.std), self.labels[chunk]


CPU_PIXELS_PER_BATCH = 128 * 48 * 48
"""Pixels of one evaluation minibatch on CPU: 128 images at 48 px, 32 at 96 px. EfficientNet-Lite0's largest
activation (96 channels at half the input's side) then stays under glibc's largest mmap threshold, so the memory
that :mod:`asg_gym.allocator` keeps serves it; 250 images at 96 px took 2.4× as long (``results/bench_env/README.md``,
"Evaluation minibatch"). The logits do not depend on the minibatch (checked bit for bit in the same benchmark)."""

GPU_BATCH = 250
"""The evaluation minibatch on CUDA (the one size of every device before the CPU rule)."""


def evaluation_batch_size(image_size: int, device: torch.device) -> int:
    """The evaluation minibatch of images of side ``image_size`` on ``device``."""
    if device.type != "cpu":
        return GPU_BATCH
    return max(1, CPU_PIXELS_PER_BATCH // image_size**2)


class TensorEvaluation:
    """Evaluates on a fixed in-memory set of real target images (uint8 ``(N, 3, H, W)``)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                 mean: Sequence[float], std: Sequence[float], device: torch.device, batch_size: int | None = None
                 ) -> None:
        if batch_size is None:
            batch_size = evaluation_batch_size(images.shape[-1], device)
        self.batches = TensorBatches(images, labels, mean, std, device, batch_size)
        self.num_classes = num_classes
        self._teacher_top1: list[torch.Tensor] = []  # the teacher is frozen: compute once

    def __call__(self, optimizee: ClassificationOptimizee) -> dict[str, float]:
        return evaluate_batches(optimizee, self.batches, self.num_classes, self._teacher_top1)
