"""Digit scenes for the embedded segmentation benchmark ``ASG-DigitSeg-v0``.

Source: several digits rendered from matplotlib's fonts onto a textured background, each in its
own colour, labelled per pixel by its glyph mask. Target: real MNIST-5k digits composed on a
black canvas, labelled per pixel by their stroke masks. Classes 0…9 are the digits and
:data:`BACKGROUND` = 10 everything else. Both sets are pure functions of their arguments.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from PIL import Image, ImageFilter

from asg_gym.data.real_digits import real_digits
from asg_gym.data.synthetic_digits import background, font_paths, legible_colours, legible_foreground, render_glyph

BACKGROUND = 10
NUM_SCENE_CLASSES = 11
_SUPERSAMPLE = 2


def _placements(rng: np.random.Generator, scene_size: int, max_digits: int) -> list[tuple[int, int, int, int]]:
    """(digit, side, top, left) of 1…max_digits digits, each a square of ¼–½ of the scene side."""
    count = int(rng.integers(1, max_digits + 1))
    placements = []
    for _ in range(count):
        side = int(rng.integers(scene_size // 4, scene_size // 2 + 1))
        top, left = (int(v) for v in rng.integers(0, scene_size - side + 1, size=2))
        placements.append((int(rng.integers(10)), side, top, left))
    return placements


def render_scene(scene_size: int, max_digits: int, rng: np.random.Generator, fonts: list
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic scene: uint8 ``(S, S, 3)`` image and uint8 ``(S, S)`` labels."""
    bg, _ = legible_colours(rng)
    image = background(rng, scene_size, bg)
    labels = np.full((scene_size, scene_size), BACKGROUND, dtype=np.uint8)
    for digit, side, top, left in _placements(rng, scene_size, max_digits):
        fg = legible_foreground(rng, bg)
        canvas = side * _SUPERSAMPLE
        glyph = render_glyph(digit, canvas, rng, fonts)
        mask = Image.new("L", (canvas, canvas), 0)
        mask.paste(glyph, ((canvas - glyph.width) // 2, (canvas - glyph.height) // 2))
        alpha = np.asarray(mask.resize((side, side), Image.Resampling.LANCZOS), dtype=np.float32)[..., None] / 255.0
        window = image[top:top + side, left:left + side]
        image[top:top + side, left:left + side] = window * (1 - alpha) + fg * alpha
        labels[top:top + side, left:left + side][alpha[..., 0] > 0.5] = digit
    if rng.random() < 0.3:
        blur = ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0))
        blurred = Image.fromarray(image.clip(0, 255).astype(np.uint8)).filter(blur)
        image = np.asarray(blurred, dtype=np.float32)
    image = image + rng.normal(0, rng.uniform(0, 12), image.shape)
    return image.clip(0, 255).astype(np.uint8), labels


def compose_real_scene(scene_size: int, max_digits: int, rng: np.random.Generator, digits: np.ndarray,
                       digit_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One target scene from real ``digits`` (uint8 ``(N, 28, 28)``): image and per-pixel labels."""
    canvas = np.zeros((scene_size, scene_size), dtype=np.float32)
    labels = np.full((scene_size, scene_size), BACKGROUND, dtype=np.uint8)
    for _, side, top, left in _placements(rng, scene_size, max_digits):
        index = int(rng.integers(len(digits)))
        resized = Image.fromarray(digits[index]).resize((side, side), Image.Resampling.BILINEAR)
        stroke = np.asarray(resized, dtype=np.float32)
        window = canvas[top:top + side, left:left + side]
        np.maximum(window, stroke, out=window)
        labels[top:top + side, left:left + side][stroke > 127] = digit_labels[index]
    return np.repeat(canvas.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2), labels


def _to_tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels).long()


@functools.lru_cache(maxsize=4)
def synthetic_scenes(num_scenes: int, scene_size: int, max_digits: int = 3, seed: int = 0
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_scenes`` rendered scenes: ``(uint8 N×3×S×S, int64 N×S×S labels)``; cached per process."""
    fonts = font_paths()
    images = np.empty((num_scenes, scene_size, scene_size, 3), dtype=np.uint8)
    labels = np.empty((num_scenes, scene_size, scene_size), dtype=np.uint8)
    for i in range(num_scenes):
        images[i], labels[i] = render_scene(scene_size, max_digits, np.random.default_rng([seed, i]), fonts)
    return _to_tensors(images, labels)


@functools.lru_cache(maxsize=4)
def real_scenes(num_scenes: int, scene_size: int, max_digits: int = 3, seed: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_scenes`` scenes of real MNIST-5k digits: ``(uint8 N×3×S×S, int64 N×S×S labels)``."""
    mnist, mnist_labels = real_digits("mnist", 28)
    digits, digit_labels = mnist[:, 0].numpy(), mnist_labels.numpy()
    images = np.empty((num_scenes, scene_size, scene_size, 3), dtype=np.uint8)
    labels = np.empty((num_scenes, scene_size, scene_size), dtype=np.uint8)
    for i in range(num_scenes):
        rng = np.random.default_rng([seed, i])
        images[i], labels[i] = compose_real_scene(scene_size, max_digits, rng, digits, digit_labels)
    return _to_tensors(images, labels)
