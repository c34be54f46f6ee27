"""Confusion matrix, IoU and mIoU against a small example computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from asg_gym.segmentation.metrics import ConfusionMatrix, confusion_matrix, iou_per_class, mean_iou, pixel_accuracy

# Eight pixels of a 3-class image (2 x 4); the last is ignored.
LABELS = torch.tensor([[0, 0, 0, 1], [1, 2, 2, 255]])
PREDICTIONS = torch.tensor([[0, 0, 1, 1], [2, 2, 0, 1]])
# Rows: ground truth; columns: prediction.
#   truth 0 → predicted 0, 0, 1;  truth 1 → 1, 2;  truth 2 → 2, 0
HAND = torch.tensor([[2, 1, 0],
                     [0, 1, 1],
                     [1, 0, 1]])
# IoU = TP / (row + column - TP):  class 0: 2 / (3 + 3 - 2);  classes 1 and 2: 1 / (2 + 2 - 1)
HAND_IOU = [2 / 4, 1 / 3, 1 / 3]


def test_confusion_matrix_and_miou_match_the_hand_computed_example() -> None:
    matrix = confusion_matrix(PREDICTIONS, LABELS, 3)
    assert matrix.dtype == torch.int64 and matrix.device.type == "cpu"
    assert torch.equal(matrix, HAND)
    assert iou_per_class(matrix).tolist() == pytest.approx(HAND_IOU)
    assert mean_iou(matrix) == pytest.approx(7 / 18)
    assert pixel_accuracy(matrix) == pytest.approx(4 / 7)


def test_accumulator_over_batches_equals_one_pass() -> None:
    accumulated = ConfusionMatrix(3)
    accumulated.update(PREDICTIONS[:1], LABELS[:1])
    accumulated.update(PREDICTIONS[1:], LABELS[1:])
    assert torch.equal(accumulated.matrix, HAND)
    assert accumulated.iou().tolist() == pytest.approx(HAND_IOU)
    assert accumulated.miou() == pytest.approx(7 / 18) and accumulated.pixel_accuracy() == pytest.approx(4 / 7)
    accumulated.reset()
    assert int(accumulated.matrix.sum()) == 0 and math.isnan(accumulated.miou())


def test_ignored_pixels_do_not_count_whatever_is_predicted() -> None:
    labels = torch.tensor([0, 255, 255, 1])
    matrix = confusion_matrix(torch.tensor([0, 1, 7, 1]), labels, 2)  # 7: not a class, but on an ignored pixel
    assert torch.equal(matrix, torch.tensor([[1, 0], [0, 1]]))
    custom = confusion_matrix(torch.tensor([0, 1]), torch.tensor([-1, 1]), 2, ignore_index=-1)
    assert torch.equal(custom, torch.tensor([[0, 0], [0, 1]]))


def test_absent_classes_are_nan_and_left_out_of_the_mean() -> None:
    # Class 3 occurs nowhere; class 2 is only predicted (a false positive: IoU 0, which counts).
    matrix = confusion_matrix(torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 1, 0]), 4)
    iou = iou_per_class(matrix)
    assert math.isnan(iou[3]) and iou[:3].tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert mean_iou(matrix) == pytest.approx(0.5)
    empty = torch.zeros(3, 3, dtype=torch.int64)
    assert math.isnan(mean_iou(empty)) and math.isnan(pixel_accuracy(empty))


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"label values \[5\] are outside 0…2"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 5]), 3)
    with pytest.raises(ValueError, match=r"prediction values \[3\]"):
        confusion_matrix(torch.tensor([0, 3]), torch.tensor([0, 1]), 3)
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_matrix(torch.zeros(2, 3), torch.zeros(3, 2), 3)
