"""A tiny VisDA-17-shaped folder of real PNG/JPEG files, generated for tests.

Each class folder holds a few solid-colour images whose red value encodes the class, and each
split has its ``image_list.txt`` of ``<relative/path> <label>`` lines, as VisDA-17 ships them.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from asg_gym.data.visda import VISDA_CLASSES

SIZE = 32


def solid_image(left: tuple[int, int, int], right: tuple[int, int, int] | None = None) -> Image.Image:
    """A SIZE x SIZE image whose left and right halves have one colour each."""
    image = Image.new("RGB", (SIZE, SIZE), left)
    image.paste(Image.new("RGB", (SIZE // 2, SIZE), right or left), (SIZE // 2, 0))
    return image


def write_split(root: Path, split: str, per_class: int, suffix: str) -> None:
    folder = root / split
    lines = []
    for label, name in enumerate(VISDA_CLASSES):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rel = f"{name}/img_{i}{suffix}"
            solid_image((20 * label + 10, 40 + 20 * i, 128)).save(folder / rel)
            lines.append(f"{rel} {label}")
    (folder / "image_list.txt").write_text("\n".join(lines) + "\n")


def make_visda(root: Path) -> Path:
    """``train/`` (3 PNG renderings per class) and ``validation/`` (2 JPEG real crops per class)."""
    write_split(root, "train", 3, ".png")  # the renderings are PNG, the real crops JPEG
    write_split(root, "validation", 2, ".jpg")
    return root
