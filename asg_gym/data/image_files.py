"""Labelled image files on disk as a ``torch`` dataset of uint8 tensors.

Images are decoded and resized in DataLoader workers and returned as uint8 ``(3, S, S)``;
normalisation happens on the device (four times less host-to-device traffic than float32).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from asg_gym.errors import DatasetError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp")
Transform = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class ImageRecord:
    """One labelled image and where it was listed (for error messages)."""

    path: Path
    label: int
    origin: str


def image_transform(image_size: int, augment: bool = False) -> Transform:
    """PIL image → uint8 ``(3, S, S)``: resize + center crop, or random resized crop + flip."""
    from torchvision import transforms

    if augment:
        steps = [transforms.RandomResizedCrop(image_size), transforms.RandomHorizontalFlip()]
    else:
        steps = [transforms.Resize(image_size), transforms.CenterCrop(image_size)]
    return transforms.Compose([*steps, transforms.PILToTensor()])


class ImageFileDataset(Dataset):
    """``dataset[i] = (uint8 image (3, S, S), label, i)``; ``i`` doubles as the teacher-cache key.

    Args:
        records: the images, in a fixed order.
        image_size: side S of the square output.
        augment: random resized crop + horizontal flip instead of resize + center crop.
        help_text: appended to the error raised for an unreadable image (how to get the data).
    """

    def __init__(self, records: Sequence[ImageRecord], image_size: int, augment: bool = False,
                 help_text: str = "") -> None:
        if not records:
            raise DatasetError(f"no images to load. {help_text}".strip())
        self.records = list(records)
        self.image_size = int(image_size)
        self.augment = bool(augment)
        self.help_text = help_text
        self.transform = image_transform(self.image_size, self.augment)
        self.labels = torch.tensor([r.label for r in self.records], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.records)

    def subset(self, indices: Sequence[int] | torch.Tensor) -> ImageFileDataset:
        """A dataset of the chosen records (re-indexed from 0, so cache keys stay dense)."""
        chosen = [self.records[int(i)] for i in indices]
        return ImageFileDataset(chosen, self.image_size, self.augment, self.help_text)

    def load(self, index: int) -> object:
        """The decoded RGB PIL image; an unreadable file raises a DatasetError naming it."""
        from PIL import Image

        record = self.records[index]
        try:
            with Image.open(record.path) as image:
                if not self.augment:
                    # JPEG can decode directly at a reduced scale (still ≥ S on both sides): much
                    # less work for the large photos, and we resize to S right after anyway.
                    image.draft("RGB", (self.image_size, self.image_size))
                return image.convert("RGB")
        except (OSError, SyntaxError, ValueError) as exc:
            raise DatasetError(
                f"cannot read image {record.path} ({record.origin}): {exc}. The file is missing or corrupt; "
                f"re-extract it. {self.help_text}".strip()
            ) from exc

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        return self.transform(self.load(index)), self.records[index].label, index


def stratified_subset(labels: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """``size`` sorted indices drawn from ``seed``, each class represented in proportion.

    Every sample gets the key (rank within its class in a seeded shuffle + ½) / class count;
    the ``size`` smallest keys interleave the classes proportionally.
    """
    n = len(labels)
    if not 0 < size <= n:
        raise ValueError(f"subset size must be in 1…{n}, got {size}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    shuffled = labels[perm]
    counts = torch.bincount(shuffled)
    rank = torch.empty(n, dtype=torch.float64)
    for c in torch.unique(shuffled).tolist():
        where = (shuffled == c).nonzero().squeeze(1)
        rank[where] = torch.arange(len(where), dtype=torch.float64)
    key = (rank + 0.5) / counts[shuffled].double()
    chosen = perm[torch.argsort(key, stable=True)[:size]]
    return torch.sort(chosen).values


IMAGE_FOLDER_LAYOUT = (
    "Expected an ImageFolder-style ImageNet validation set: <root>/<wnid>/<image>.JPEG, one sub-folder per "
    "ImageNet class named by its WordNet id (n01440764, n01443537, …), so that the sorted folder names give "
    "the class indices 0…999 of torchvision's ImageNet models (e.g. what the `valprep.sh` script of the "
    "ImageNet examples produces from ILSVRC2012_img_val.tar)."
)


def read_image_folder(root: str | Path, num_classes: int) -> list[ImageRecord]:
    """Records of ``root/<class folder>/<image>``; class index = rank of the folder name."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"ImageNet validation folder {root} does not exist. {IMAGE_FOLDER_LAYOUT}")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if len(folders) != num_classes:
        raise DatasetError(
            f"{root} has {len(folders)} class folders; the ImageNet head has {num_classes} classes. "
            f"{IMAGE_FOLDER_LAYOUT}"
        )
    records = [
        ImageRecord(path, label, f"class folder {folder.name}")
        for label, folder in enumerate(folders)
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_EXTENSIONS
    ]
    if not records:
        raise DatasetError(f"{root} contains no images ({', '.join(IMAGE_EXTENSIONS)}). {IMAGE_FOLDER_LAYOUT}")
    return records
