"""Semantic segmentation metrics: the confusion matrix and the mIoU the paper reports on Cityscapes.

The confusion matrix has ground truth in rows and predictions in columns; pixels whose label is
``ignore_index`` do not count. IoU of class c = TP / (TP + FP + FN) = M[c, c] / (row c + column c −
M[c, c]); mIoU is the mean over the classes that occur in the ground truth or the predictions.
"""

from __future__ import annotations

import math

import torch

IGNORE_INDEX = 255  # label of pixels that no class claims (Cityscapes' convention)


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int,
                     ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """int64 ``(K, K)`` on the CPU: entry ``[t, p]`` counts pixels of true class t predicted as p.

    ``predictions`` and ``labels`` are class ids of one shape, on any device (counted there with
    one ``bincount``). A label outside 0…K−1 other than ``ignore_index``, or a prediction outside
    0…K−1, is a ``ValueError``.
    """
    if predictions.shape != labels.shape:
        raise ValueError(f"predictions {tuple(predictions.shape)} and labels {tuple(labels.shape)} differ in shape")
    counted = labels != ignore_index
    truth, predicted = labels[counted].long(), predictions[counted].long()
    for name, values in (("label", truth), ("prediction", predicted)):
        if values.numel() and (values.min() < 0 or values.max() >= num_classes):
            found = torch.unique(values[(values < 0) | (values >= num_classes)]).tolist()
            raise ValueError(f"{name} values {found[:10]} are outside 0…{num_classes - 1} (ignore: {ignore_index})")
    counts = torch.bincount(truth * num_classes + predicted, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).cpu()


def iou_per_class(matrix: torch.Tensor) -> torch.Tensor:
    """float64 IoU of each class; NaN for a class absent from both ground truth and predictions."""
    matrix = matrix.double()
    true_positives = matrix.diagonal()
    union = matrix.sum(0) + matrix.sum(1) - true_positives
    return torch.where(union > 0, true_positives / union.clamp(min=1), torch.full_like(union, math.nan))


def mean_iou(matrix: torch.Tensor) -> float:
    """mIoU: the mean of :func:`iou_per_class` over the classes that occur (NaN if none do)."""
    return float(iou_per_class(matrix).nanmean())


def pixel_accuracy(matrix: torch.Tensor) -> float:
    """Fraction of counted pixels predicted right (NaN when no pixel was counted)."""
    total = int(matrix.sum())
    return float(matrix.diagonal().sum()) / total if total else math.nan


class ConfusionMatrix:
    """Accumulates :func:`confusion_matrix` over evaluation batches."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def reset(self) -> None:
        self.matrix.zero_()

    def update(self, predictions: torch.Tensor, labels: torch.Tensor) -> None:
        """Add a batch of predicted class ids and labels (e.g. ``logits.argmax(1)`` and ``(B, H, W)`` labels)."""
        self.matrix += confusion_matrix(predictions, labels, self.num_classes, self.ignore_index)

    def iou(self) -> torch.Tensor:
        return iou_per_class(self.matrix)

    def miou(self) -> float:
        return mean_iou(self.matrix)

    def pixel_accuracy(self) -> float:
        return pixel_accuracy(self.matrix)
