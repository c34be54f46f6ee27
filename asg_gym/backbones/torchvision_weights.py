"""ImageNet weights of torchvision models, read only from torchvision's local cache.

Nothing is ever downloaded at run time. A missing file raises
:class:`~asg_gym.errors.MissingWeightsError` naming the exact file torchvision expects and the
folder to put it in.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import torch

from asg_gym.errors import MissingWeightsError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_WEIGHTS = "IMAGENET1K_V1"
# torchvision's weight enum of each architecture, e.g. ResNet101_Weights.IMAGENET1K_V1.
WEIGHT_ENUMS = {
    "resnet18": "ResNet18_Weights", "resnet50": "ResNet50_Weights", "resnet101": "ResNet101_Weights",
    "vgg16": "VGG16_Weights",
}


def torchvision_cache_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints``: where torchvision keeps downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_weights_file(arch: str, name: str) -> Path:
    """The file torchvision would cache for ``<arch>`` weights ``name`` (it need not exist)."""
    import torchvision.models as models

    enum = getattr(models, WEIGHT_ENUMS[arch])
    try:
        weights = enum[name]
    except KeyError:
        raise MissingWeightsError(
            f"{arch} has no torchvision weights named {name!r}; choose one of {[w.name for w in enum]}, "
            "a path to a state dict, or weights=None for random init"
        ) from None
    return torchvision_cache_dir() / os.path.basename(urlparse(weights.url).path)


def load_torchvision_state_dict(arch: str, weights: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of torchvision's ``arch``: from a file path, or a weight name (``"imagenet"``
    = ``IMAGENET1K_V1``) looked up in torchvision's cache."""
    path = Path(weights)
    if path.is_file():
        return torch.load(path, map_location="cpu", weights_only=True)
    name = DEFAULT_WEIGHTS if weights == "imagenet" else str(weights)
    if os.sep in name or name.endswith((".pth", ".pt")):
        raise MissingWeightsError(f"{arch} weights file {path} does not exist")
    cached = cached_weights_file(arch, name)
    if not cached.is_file():
        # Never download: the machines this runs on are often offline, and a silent 170 MB
        # fetch inside an env constructor is a surprise either way.
        raise MissingWeightsError(
            f"torchvision's {arch} {name} weights are not in the local cache: expected the file "
            f"{cached.name!r} in {cached.parent} (that is $TORCH_HOME/hub/checkpoints). asg-gym does not "
            f"download; on a machine with internet run `python -c \"import torchvision; "
            f"torchvision.models.{arch}(weights='{name}')\"` and copy {cached.name} from its "
            "~/.cache/torch/hub/checkpoints into that folder, or pass weights=<path to a state dict>."
        )
    return torch.load(cached, map_location="cpu", weights_only=True)


def load_into(model: torch.nn.Module, arch: str, weights: str | Path) -> None:
    """Load ``weights`` into torchvision's ``arch`` model, with a clear error when they do not fit."""
    state = load_torchvision_state_dict(arch, weights)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise MissingWeightsError(f"weights {weights} do not fit torchvision's {arch}: {exc}") from exc
