"""Tiny GTA5- and Cityscapes-shaped folders of real PNG files, generated for tests.

Labels are 8x8-pixel blocks of random values (evaluated classes mixed with ignored ones), and
each image pixel has the colour :data:`PALETTE` gives its raw label value, so a test can read
the label back off the pixels after scaling, cropping and flipping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

BLOCK = 8
# Bright, distinct colours (never black: padding is black) for every raw label value.
PALETTE = np.random.default_rng(1234).integers(40, 256, size=(256, 3), dtype=np.uint8)
# Raw GTA5 values: evaluated ids (road, sidewalk, building, vegetation, sky, car), ids that map to
# ignore (0 unlabeled, 1 ego vehicle, 4 static) and 255.
GTA5_VALUES = (7, 8, 11, 21, 23, 26, 0, 1, 4, 255)
CITYSCAPES_VALUES = (0, 1, 2, 8, 10, 13, 18, 255)


def block_labels(size: tuple[int, int], values: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """uint8 ``(H, W)`` of BLOCKxBLOCK squares, each one value drawn from ``values``."""
    rows, columns = -(-size[0] // BLOCK), -(-size[1] // BLOCK)
    grid = rng.choice(np.array(values, dtype=np.uint8), size=(rows, columns))
    return np.repeat(np.repeat(grid, BLOCK, 0), BLOCK, 1)[: size[0], : size[1]]


def save_pair(raw: np.ndarray, image_path: Path, label_path: Path, palette_label: bool = False) -> None:
    """The image coloured by ``raw`` and the label ``raw``, as a palette PNG (like GTA5) or grayscale."""
    image_path.parent.mkdir(parents=True, exist_ok=True)
    label_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(PALETTE[raw]).save(image_path)
    label = Image.fromarray(raw)
    if palette_label:
        label.putpalette(PALETTE.tobytes())  # "P" mode: the palette index is the id
    label.save(label_path)


def make_gta5(root: Path, num_images: int = 4, size: tuple[int, int] = (32, 48), seed: int = 0) -> Path:
    """``root/images/0000i.png`` and ``root/labels/0000i.png`` (label ids as GTA5 ships them)."""
    rng = np.random.default_rng(seed)
    for i in range(1, num_images + 1):
        raw = block_labels(size, GTA5_VALUES, rng)
        save_pair(raw, root / "images" / f"{i:05d}.png", root / "labels" / f"{i:05d}.png", palette_label=True)
    return root


def make_cityscapes(root: Path, num_images: int = 3, size: tuple[int, int] = (32, 48), seed: int = 0,
                    cities: tuple[str, ...] = ("frankfurt", "lindau")) -> Path:
    """The val split: image i goes to city ``cities[i % len(cities)]``, with train-id and label-id files."""
    rng = np.random.default_rng(seed)
    for i in range(num_images):
        city = cities[i % len(cities)]
        name = f"{city}_000000_{i:06d}"
        raw = block_labels(size, CITYSCAPES_VALUES, rng)
        labels = root / "gtFine" / "val" / city
        save_pair(raw, root / "leftImg8bit" / "val" / city / f"{name}_leftImg8bit.png",
                  labels / f"{name}_gtFine_labelTrainIds.png")
        # The label-id file Cityscapes ships beside it, which must not be picked up instead.
        Image.fromarray(np.full(size, 7, dtype=np.uint8)).save(labels / f"{name}_gtFine_labelIds.png")
    return root
