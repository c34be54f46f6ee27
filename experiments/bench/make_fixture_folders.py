"""Data-set folders shaped like VisDA-17, GTA5 and Cityscapes, at their real image sizes.

For measuring the data pipeline (``experiments/bench/bench_pipeline.py``) and running the paper-scale
envs end to end without the data (``experiments/gpu_run.py``). The layouts are exactly what
``asg_gym.data.visda`` and ``asg_gym.data.driving`` read; the pixels are generated, so nothing is
downloaded and no score means anything:

* VisDA-17 ``train/``: PNG "renderings" (default 384×216, the size we take the challenge's
  synthetic renderings to have) of a shaded object on a gradient background, with mild noise so
  the files do not compress to nothing; ``validation/``: JPEG "real crops" of varied size
  (64–640 px per side, log-uniform, as COCO crops vary), quality 90.
* GTA5: 1914×1052 PNG frames (the paper's Sec. 3.1) of noisy label-coloured regions, and palette
  PNG labels of Cityscapes label ids, as GTA5 ships them.
* Cityscapes ``val``: 2048×1024 PNG frames and ``*_gtFine_labelTrainIds.png`` labels.

Decoding cost depends on the pixel count and on how well a file compresses; the generated
images' mean file sizes are returned so a benchmark can state them.

    python -m experiments.bench.make_fixture_folders --root /tmp/asg_data --visda-images 3000 --gta5-images 100
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from asg_gym import ID_TO_TRAIN_ID, VISDA_CLASSES

VISDA_RENDER_SIZE = (384, 216)  # (width, height)
GTA5_SIZE = (1914, 1052)
CITYSCAPES_SIZE = (2048, 1024)
REAL_CROP_SIDES = (64, 640)
# Raw GTA5 values the generated labels use: evaluated Cityscapes ids and some that map to ignore.
GTA5_IDS = np.array([*ID_TO_TRAIN_ID, 0, 1, 4], dtype=np.uint8)


def _rendering(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A shaded ellipse on a vertical gradient, plus mild noise: uint8 ``(height, width, 3)``."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    top, bottom = rng.uniform(60, 220, 3), rng.uniform(60, 220, 3)
    image = top + (bottom - top) * (y / height)[..., None]
    cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
    rx, ry = rng.uniform(0.15, 0.35) * width, rng.uniform(0.2, 0.4) * height
    inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
    shade = np.clip(1.2 - 0.7 * ((x - cx + rx) / (2 * rx)), 0.3, 1.2)  # lit from the left
    colour = rng.uniform(30, 255, 3)
    image = np.where((inside <= 1)[..., None], colour * shade[..., None], image)
    image += rng.normal(0, 2, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _regions(rng: np.random.Generator, size: tuple[int, int], values: np.ndarray, block: int = 64) -> np.ndarray:
    """uint8 ``(height, width)`` label map of ``block``-pixel squares, each one of ``values``."""
    width, height = size
    grid = rng.choice(values, size=(-(-height // block), -(-width // block)))
    return np.repeat(np.repeat(grid, block, 0), block, 1)[:height, :width]


def _coloured(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """A frame whose regions are coloured by label, with per-pixel noise (rendered texture)."""
    palette = np.random.default_rng(7).integers(30, 226, size=(256, 3)).astype(np.float32)
    image = palette[labels] + rng.normal(0, 8, (*labels.shape, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def _write_visda_train(task: tuple[Path, int, int, tuple[int, int]]) -> int:
    path, _, seed, size = task
    Image.fromarray(_rendering(np.random.default_rng(seed), size)).save(path)
    return path.stat().st_size


def _write_visda_validation(task: tuple[Path, int, int, tuple[int, int]]) -> int:
    path, _, seed, _ = task
    rng = np.random.default_rng(seed)
    low, high = np.log(REAL_CROP_SIDES[0]), np.log(REAL_CROP_SIDES[1])
    side = (int(np.exp(rng.uniform(low, high))), int(np.exp(rng.uniform(low, high))))
    Image.fromarray(_rendering(rng, side)).save(path, quality=90)
    return path.stat().st_size


def _write_gta5(task: tuple[Path, Path, int, tuple[int, int]]) -> int:
    image_path, label_path, seed, size = task
    rng = np.random.default_rng(seed)
    labels = _regions(rng, size, GTA5_IDS)
    Image.fromarray(_coloured(rng, labels)).save(image_path)
    label = Image.fromarray(labels)
    label.putpalette(np.random.default_rng(7).integers(0, 256, 768, dtype=np.uint8).tobytes())
    label.save(label_path)  # now a palette ("P") PNG whose index is the id, as GTA5 ships them
    return image_path.stat().st_size


def _write_cityscapes(task: tuple[Path, Path, int, tuple[int, int]]) -> int:
    image_path, label_path, seed, size = task
    rng = np.random.default_rng(seed)
    labels = _regions(rng, size, np.array([*range(19), 255], dtype=np.uint8))
    Image.fromarray(_coloured(rng, labels)).save(image_path)
    Image.fromarray(labels).save(label_path)
    return image_path.stat().st_size


def _run(writer: Callable[..., int], tasks: Sequence[tuple], processes: int) -> float:
    """Write every task (in ``processes`` processes when > 1); the mean file size in bytes."""
    if processes > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(processes) as pool:
            sizes = list(pool.map(writer, tasks, chunksize=max(1, len(tasks) // (8 * processes))))
    else:
        sizes = [writer(task) for task in tasks]
    return float(np.mean(sizes))


def make_visda_folder(root: Path, num_train: int, num_validation: int, *, size: tuple[int, int] = VISDA_RENDER_SIZE,
                      seed: int = 0, processes: int = 1) -> dict[str, float]:
    """``root/{train,validation}/<class>/…`` and their ``image_list.txt``; mean file sizes in bytes."""
    sizes = {}
    for split, count, suffix, writer, offset in (("train", num_train, ".png", _write_visda_train, 0),
                                                 ("validation", num_validation, ".jpg", _write_visda_validation,
                                                  10**6)):
        folder, tasks, lines = root / split, [], []
        for name in VISDA_CLASSES:
            (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            label = i % len(VISDA_CLASSES)
            relative = f"{VISDA_CLASSES[label]}/{split}_{i:06d}{suffix}"
            tasks.append((folder / relative, label, seed + offset + i, size))
            lines.append(f"{relative} {label}")
        sizes[f"{split}_mean_bytes"] = _run(writer, tasks, processes) if tasks else 0.0
        (folder / "image_list.txt").write_text("\n".join(lines) + "\n")
    return sizes


def make_gta5_folder(root: Path, num_images: int, *, size: tuple[int, int] = GTA5_SIZE, seed: int = 0,
                     processes: int = 1) -> dict[str, float]:
    """``root/images/00001.png …`` and ``root/labels/00001.png …``; the mean image file size."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    tasks = [(root / "images" / f"{i:05d}.png", root / "labels" / f"{i:05d}.png", seed + i, size)
             for i in range(1, num_images + 1)]
    return {"image_mean_bytes": _run(_write_gta5, tasks, processes)}


def make_cityscapes_folder(root: Path, num_images: int, *, size: tuple[int, int] = CITYSCAPES_SIZE, seed: int = 0,
                           processes: int = 1) -> dict[str, float]:
    """The ``val`` split of one city with train-id labels; the mean image file size."""
    images, labels = root / "leftImg8bit" / "val" / "frankfurt", root / "gtFine" / "val" / "frankfurt"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    tasks = [(images / f"frankfurt_000000_{i:06d}_leftImg8bit.png",
              labels / f"frankfurt_000000_{i:06d}_gtFine_labelTrainIds.png", seed + i, size)
             for i in range(num_images)]
    return {"image_mean_bytes": _run(_write_cityscapes, tasks, processes)}


@dataclass
class Args:
    """Write VisDA-17-, GTA5- and Cityscapes-shaped folders of generated images."""

    root: str
    """folder to write visda17/, gta5/ and cityscapes/ into"""
    visda_images: int = 3000
    """VisDA-17 train renderings (0: no VisDA folder)"""
    visda_validation: int = 240
    """VisDA-17 validation crops"""
    gta5_images: int = 100
    """GTA5 frames (0: no GTA5 / Cityscapes folders)"""
    cityscapes_images: int = 4
    """Cityscapes val frames"""
    processes: int | None = None
    """writer processes (None: every core)"""


def main(argv: list[str] | None = None) -> None:
    import tyro

    args = tyro.cli(Args, args=argv)
    root, processes = Path(args.root), args.processes or os.cpu_count() or 1
    if args.visda_images:
        print("visda17:", make_visda_folder(root / "visda17", args.visda_images, args.visda_validation,
                                            processes=processes))
    if args.gta5_images:
        print("gta5:", make_gta5_folder(root / "gta5", args.gta5_images, processes=processes))
        print("cityscapes:", make_cityscapes_folder(root / "cityscapes", args.cityscapes_images, processes=processes))


if __name__ == "__main__":
    main()
