"""Target-domain evaluation of a segmentation optimizee: mIoU on real images, and retention."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from asg_gym.evaluation import Batches
from asg_gym.segmentation.metrics import IGNORE_INDEX, ConfusionMatrix
from asg_gym.segmentation.optimizee import SegmentationOptimizee


@torch.no_grad()
def evaluate_segmentation(optimizee: SegmentationOptimizee, batches: Batches, teacher_top1: list[torch.Tensor]
                          ) -> dict[str, float | list[float]]:
    """mIoU over ``batches()`` from one confusion matrix, and ImageNet-head agreement with the teacher.

    Returns ``target_miou``, ``target_iou`` (per class, NaN for classes absent from labels and
    predictions), ``target_pixel_accuracy`` and ``old_task_agreement`` (image-level top-1 of θ_o on
    the student's vs the teacher's conv5 map). ``teacher_top1`` caches the frozen teacher's answers.
    """
    matrix = ConfusionMatrix(optimizee.num_classes, ignore_index=IGNORE_INDEX)
    agree, total = 0, 0
    fill_cache = not teacher_top1
    for index, (images, labels) in enumerate(batches()):
        logits, old_logits = optimizee.predict(images)
        matrix.update(logits.argmax(1), labels)
        if fill_cache:
            teacher_top1.append(optimizee.teacher_logits(images).argmax(1).cpu())
        agree += int((old_logits.argmax(1).cpu() == teacher_top1[index]).sum())
        total += len(images)
    iou = matrix.iou()
    return {
        "target_miou": float(matrix.miou()),
        "target_iou": [float(v) for v in iou],
        "target_pixel_accuracy": float(matrix.pixel_accuracy()),
        "old_task_agreement": agree / max(total, 1),
    }


class SegmentationEvaluation:
    """Evaluates an optimizee on fixed real batches (e.g. :class:`~asg_gym.evaluation.TensorBatches`)."""

    def __init__(self, batches: Batches, class_names: Sequence[str] = ()) -> None:
        self.batches = batches
        self.class_names = tuple(class_names)  # given: also report target_iou_<class> (for TensorBoard)
        self._teacher_top1: list[torch.Tensor] = []  # the teacher is frozen: compute once

    def __call__(self, optimizee: SegmentationOptimizee) -> dict[str, float | list[float]]:
        result = evaluate_segmentation(optimizee, self.batches, self._teacher_top1)
        ious = result["target_iou"]
        assert isinstance(ious, list)
        for name, iou in zip(self.class_names, ious, strict=False):  # no class names: no per-class keys
            result[f"target_iou_{name.replace(' ', '_')}"] = iou
        return result
