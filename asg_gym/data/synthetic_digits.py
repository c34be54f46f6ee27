"""Synthetic source domain: digits rendered from the TrueType fonts that matplotlib ships.

Each image draws a random font, size, position, rotation, stroke width, foreground/background
colours, background texture, blur and pixel noise from a generator seeded per image, so the set
is a pure function of ``(seed, n, image_size)``. Rendering happens once per process (cached).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Fonts with ordinary glyphs at '0'…'9' (the symbol/size-variant fonts map digits elsewhere).
DIGIT_FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf", "cmr10.ttf", "cmb10.ttf", "cmss10.ttf",
    "cmtt10.ttf", "cmti10.ttf",
)
_SUPERSAMPLE = 2  # draw at 2× and downsample, for anti-aliased strokes


def font_paths() -> list[Path]:
    """The matplotlib fonts used for rendering (raises if matplotlib's data is missing)."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    paths = [folder / name for name in DIGIT_FONTS if (folder / name).is_file()]
    if not paths:
        raise FileNotFoundError(f"no digit fonts found in {folder}; reinstall matplotlib")
    return paths


@functools.lru_cache(maxsize=512)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def background(rng: np.random.Generator, size: int, colour: np.ndarray) -> np.ndarray:
    """A flat, gradient or noisy-texture background around ``colour``."""
    kind = rng.integers(3)
    base = np.broadcast_to(colour, (size, size, 3)).astype(np.float32)
    if kind == 1:
        ramp = np.linspace(-1.0, 1.0, size, dtype=np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        grad = np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None]
        base = base + grad[..., None] * rng.uniform(20, 70) * rng.choice([-1, 1], size=3)
    elif kind == 2:
        coarse = rng.normal(0, 1, (max(2, size // 8), max(2, size // 8), 3)).astype(np.float32)
        texture = np.asarray(Image.fromarray(((coarse + 3) * 40).clip(0, 255).astype(np.uint8)).resize(
            (size, size), Image.Resampling.BICUBIC), dtype=np.float32) - 120.0
        base = base + texture * rng.uniform(0.2, 0.6)
    return base


def render_glyph(digit: int, canvas: int, rng: np.random.Generator, fonts: list[Path]) -> Image.Image:
    """A tight greyscale mask of ``digit`` (random font, size, stroke, rotation) that fits a
    ``canvas`` × ``canvas`` square with a random margin."""
    font = _font(fonts[rng.integers(len(fonts))], int(canvas * rng.uniform(0.55, 0.9)))
    stroke = int(rng.integers(0, max(1, canvas // 24) + 1))
    left, top, right, bottom = font.getbbox(str(digit), stroke_width=stroke)
    glyph = Image.new("L", (int(right - left) + 2, int(bottom - top) + 2), 0)  # a tight canvas: cheap to rotate
    ImageDraw.Draw(glyph).text((1 - left, 1 - top), str(digit), fill=255, font=font, stroke_width=stroke,
                               stroke_fill=255)
    glyph = glyph.rotate(rng.uniform(-20, 20), resample=Image.Resampling.BILINEAR, expand=True)
    glyph = glyph.crop(glyph.getbbox() or (0, 0, 1, 1))
    scale = rng.uniform(0.6, 0.95) * canvas / max(glyph.size)
    size = (max(1, int(glyph.width * scale)), max(1, int(glyph.height * scale)))
    return glyph.resize(size, Image.Resampling.BILINEAR)


def legible_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random (background, foreground) colour pair that differs enough to read the digit."""
    bg = rng.uniform(0, 255, 3)
    return bg, legible_foreground(rng, bg)


def legible_foreground(rng: np.random.Generator, bg: np.ndarray) -> np.ndarray:
    """A random foreground colour that differs enough from ``bg`` to read a digit on it."""
    fg = rng.uniform(0, 255, 3)
    while np.abs(fg - bg).sum() < 180:
        fg = rng.uniform(0, 255, 3)
    return fg


def render_digit(digit: int, image_size: int, rng: np.random.Generator, fonts: list[Path]) -> np.ndarray:
    """One ``(image_size, image_size, 3)`` uint8 image of ``digit``."""
    canvas = image_size * _SUPERSAMPLE
    bg, fg = legible_colours(rng)
    glyph = render_glyph(digit, canvas, rng, fonts)
    mask = Image.new("L", (canvas, canvas), 0)
    x = int(rng.integers(0, canvas - glyph.width + 1))
    y = int(rng.integers(0, canvas - glyph.height + 1))
    mask.paste(glyph, (x, y))
    if rng.random() < 0.5:
        mask = mask.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5) * _SUPERSAMPLE))
    mask = mask.resize((image_size, image_size), Image.Resampling.LANCZOS)
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
    image = background(rng, image_size, bg) * (1 - alpha) + fg * alpha
    image = image + rng.normal(0, rng.uniform(0, 12), image.shape)
    return image.clip(0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=4)
def synthetic_digits(num_images: int, image_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_images`` rendered digits, balanced over classes: ``(uint8 N×3×S×S, int64 labels)``.

    Cached per process: every env in the process shares one copy (treat it as read-only).
    """
    fonts = font_paths()
    labels = np.arange(num_images) % 10
    images = np.empty((num_images, image_size, image_size, 3), dtype=np.uint8)
    for i, digit in enumerate(labels):
        images[i] = render_digit(int(digit), image_size, np.random.default_rng([seed, i]), fonts)
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return tensor, torch.from_numpy(labels).long()
