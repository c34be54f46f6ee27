"""VisDA-17 classification: synthetic renderings (``train``) → real COCO crops (``validation``).

The official layout, as the challenge distributes it::

    <root>/train/image_list.txt          # "<relative/path.png> <label 0…11>" per line
    <root>/train/aeroplane/…
    <root>/validation/image_list.txt     # paths relative to validation/
    <root>/validation/aeroplane/…

The root comes from ``data_root=`` or the ``ASG_VISDA_ROOT`` environment variable. Lists are
validated eagerly (every line parsed, every listed file checked) so that a broken download
fails at construction, with the file and line, not hours into training.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from asg_gym.data.image_files import (
    IMAGE_FOLDER_LAYOUT,
    ImageFileDataset,
    ImageRecord,
    read_image_folder,
    stratified_subset,
)
from asg_gym.data.loaders import LoaderBatches
from asg_gym.data.roots import resolve_root
from asg_gym.errors import DatasetError
from asg_gym.evaluation import class_accuracies, summarize
from asg_gym.optimizee import ClassificationOptimizee

VISDA_CLASSES = (
    "aeroplane", "bicycle", "bus", "car", "horse", "knife",
    "motorcycle", "person", "plant", "skateboard", "train", "truck",
)
VISDA_ROOT_ENV = "ASG_VISDA_ROOT"
SPLITS = ("train", "validation")
LIST_FILE = "image_list.txt"

VISDA_HELP = (
    "Expected the VisDA-17 classification layout: <root>/train/image_list.txt and "
    "<root>/validation/image_list.txt, each line '<path relative to that split folder> <label 0-11>' "
    f"with the labels in the order {', '.join(VISDA_CLASSES)}, and the listed images beside them "
    "(e.g. <root>/train/aeroplane/src_1_xxx.png). Get the data (train.tar and validation.tar) from the "
    "VisDA 2017 classification challenge website or with the download scripts of its GitHub devkit "
    "(VisionLearningGroup/taskcv-2017-public, classification/), extract both archives into one folder, "
    f"and pass it as data_root= or set {VISDA_ROOT_ENV}."
)


def resolve_visda_root(data_root: str | Path | None = None) -> Path:
    """``data_root``, else ``$ASG_VISDA_ROOT``; it must be an existing folder."""
    return resolve_root(data_root, VISDA_ROOT_ENV, "VisDA-17", VISDA_HELP)


class _FileIndex:
    """Existence checks through one directory listing per folder (VisDA lists ~200k files)."""

    def __init__(self) -> None:
        self._listings: dict[Path, set[str]] = {}

    def exists(self, path: Path) -> bool:
        folder = path.parent
        if folder not in self._listings:
            try:
                self._listings[folder] = {e.name for e in os.scandir(folder) if not e.is_dir()}
            except OSError:
                self._listings[folder] = set()
        return path.name in self._listings[folder]


def read_visda_list(root: Path, split: str) -> list[ImageRecord]:
    """Parse and check ``<root>/<split>/image_list.txt``; every error names the file and line."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    folder = root / split
    list_file = folder / LIST_FILE
    if not list_file.is_file():
        raise DatasetError(f"missing {list_file}. {VISDA_HELP}")
    index, records = _FileIndex(), []
    with list_file.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{list_file} line {number}"
            parts = line.strip().rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise DatasetError(
                    f"{where}: expected '<relative/path.jpg> <label>', got {line.strip()!r}. {VISDA_HELP}"
                )
            label = int(parts[1])
            if not 0 <= label < len(VISDA_CLASSES):
                raise DatasetError(
                    f"{where}: label {label} is out of range 0…{len(VISDA_CLASSES) - 1}. {VISDA_HELP}"
                )
            path = folder / parts[0]
            if not index.exists(path):
                raise DatasetError(f"{where}: listed image {path} does not exist. {VISDA_HELP}")
            records.append(ImageRecord(path, label, where))
    if not records:
        raise DatasetError(f"{list_file} lists no images. {VISDA_HELP}")
    return records


def visda_split(root: Path, split: str, image_size: int, *, augment: bool = False,
                size: int | None = None, seed: int = 0) -> ImageFileDataset:
    """One split as a dataset; ``size`` keeps a seeded, class-stratified subset of that many images."""
    dataset = ImageFileDataset(read_visda_list(root, split), image_size, augment=augment, help_text=VISDA_HELP)
    if size is not None and size != len(dataset):
        dataset = dataset.subset(stratified_subset(dataset.labels, size, seed))
    return dataset


class VisDAEvaluation:
    """The VisDA-17 metrics of the optimizee on real images, as the env's ``info`` entries.

    * ``target_mean_class_accuracy``: mean of the 12 per-class accuracies (VisDA's metric);
      ``target_accuracy``: overall accuracy; ``target_accuracy_<class>``: each class.
    * ``old_task_agreement``: top-1 agreement of the student's ImageNet head with the frozen
      teacher on the target images (always; costs one extra head on the same features).
    * ``old_task_accuracy``: ImageNet top-1 of the student's ImageNet head, only when an
      ImageNet validation dataset is given (Table 2 of the paper).

    With ``flip_tta`` the new head's class probabilities are averaged over each image and its
    horizontal flip.
    """

    def __init__(self, target: ImageFileDataset, mean: Sequence[float], std: Sequence[float], device: torch.device,
                 *, batch_size: int = 100, num_workers: int = 0, flip_tta: bool = False,
                 imagenet: ImageFileDataset | None = None) -> None:
        self.flip_tta = flip_tta
        self.target = LoaderBatches(target, batch_size, mean, std, device, num_workers)
        self.imagenet = None
        if imagenet is not None:
            self.imagenet = LoaderBatches(imagenet, batch_size, mean, std, device, num_workers)
        self._teacher_top1: torch.Tensor | None = None  # the teacher is frozen: compute once

    def __call__(self, optimizee: ClassificationOptimizee) -> dict[str, float]:
        predictions, labels, old_top1, teacher_top1 = [], [], [], []
        for images, y in self.target():
            new_logits, old_logits = optimizee.predict(images)
            if self.flip_tta:
                flipped_logits, _ = optimizee.predict(images.flip(3))
                new_logits = new_logits.softmax(1) + flipped_logits.softmax(1)
            predictions.append(new_logits.argmax(1).cpu())
            old_top1.append(old_logits.argmax(1).cpu())
            labels.append(y.cpu())
            if self._teacher_top1 is None:
                teacher_top1.append(optimizee.teacher_logits(images).argmax(1).cpu())
        if self._teacher_top1 is None:
            self._teacher_top1 = torch.cat(teacher_top1)
        predicted, truth = torch.cat(predictions), torch.cat(labels)
        result = summarize(predicted, truth, len(VISDA_CLASSES))
        per_class = class_accuracies(predicted, truth, len(VISDA_CLASSES))
        per_name = zip(VISDA_CLASSES, per_class, strict=True)
        result.update({f"target_accuracy_{name}": float(acc) for name, acc in per_name})
        result["old_task_agreement"] = float((torch.cat(old_top1) == self._teacher_top1).double().mean())
        if self.imagenet is not None:
            result["old_task_accuracy"] = self._imagenet_accuracy(optimizee)
        return result

    def _imagenet_accuracy(self, optimizee: ClassificationOptimizee) -> float:
        assert self.imagenet is not None
        correct, total = 0, 0
        for images, y in self.imagenet():
            _, old_logits = optimizee.predict(images)
            correct += int((old_logits.argmax(1) == y).sum())
            total += len(y)
        return correct / total

    def close(self) -> None:
        self.target.close()
        if self.imagenet is not None:
            self.imagenet.close()


def imagenet_val_dataset(root: str | Path, num_classes: int, image_size: int, size: int | None = None
                         ) -> ImageFileDataset:
    """An ImageFolder-style ImageNet validation set (see ``IMAGE_FOLDER_LAYOUT``), optionally subsampled."""
    dataset = ImageFileDataset(read_image_folder(root, num_classes), image_size, help_text=IMAGE_FOLDER_LAYOUT)
    if size is not None and size < len(dataset):
        dataset = dataset.subset(stratified_subset(dataset.labels, size, 0))
    return dataset
