"""torchvision ResNets (18, 50, 101) split into θ_s, θ_o and the paper's 6 backbone coordinates.

Weights come from torchvision's weights API, but only out of its local cache: nothing is ever
downloaded at run time. A missing file raises :class:`~asg_gym.errors.MissingWeightsError`
naming the exact file torchvision expects and the folder to put it in.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from asg_gym.backbones.base import Backbone
from asg_gym.errors import MissingWeightsError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_WEIGHTS = "IMAGENET1K_V1"
ARCHITECTURES = ("resnet18", "resnet50", "resnet101")
# torchvision's weight enum of each architecture, e.g. ResNet101_Weights.IMAGENET1K_V1.
_WEIGHT_ENUMS = {"resnet18": "ResNet18_Weights", "resnet50": "ResNet50_Weights", "resnet101": "ResNet101_Weights"}


def torchvision_cache_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints``: where torchvision keeps downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_weights_file(arch: str, name: str) -> Path:
    """The file torchvision would cache for ``<arch>`` weights ``name`` (it need not exist)."""
    import torchvision.models as models

    enum = getattr(models, _WEIGHT_ENUMS[arch])
    try:
        weights = enum[name]
    except KeyError:
        raise MissingWeightsError(
            f"{arch} has no torchvision weights named {name!r}; choose one of {[w.name for w in enum]}, "
            "a path to a state dict, or weights=None for random init"
        ) from None
    return torchvision_cache_dir() / os.path.basename(urlparse(weights.url).path)


def _load_state_dict(arch: str, weights: str | Path) -> dict[str, torch.Tensor]:
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


def build_resnet(arch: str, weights: str | Path | None = DEFAULT_WEIGHTS, seed: int = 0) -> Backbone:
    """A torchvision ResNet as θ_s (conv1 … layer4), θ_o (``fc``) and 6 coordinates.

    ``weights``: a torchvision weight name (``"IMAGENET1K_V1"``, alias ``"imagenet"``) loaded
    from torchvision's cache, a path to a state dict of the torchvision model, or ``None``
    (random init drawn from ``seed``, for tests). Coordinates follow the paper: a new one
    whenever the resolution drops, with conv1 and bn1 on their own (C = 6 + the new head).
    """
    import torchvision.models as models

    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown ResNet {arch!r}; choose one of {ARCHITECTURES}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # weights=None: the same random network on every build
        model = getattr(models, arch)(weights=None)
    if weights is not None:
        state = _load_state_dict(arch, weights)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise MissingWeightsError(f"weights {weights} do not fit torchvision's {arch}: {exc}") from exc
    features = nn.Sequential(
        model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2, model.layer3, model.layer4
    )
    names = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")
    return Backbone(
        name=arch,
        features=features,
        imagenet_head=model.fc,
        feature_dim=model.fc.in_features,
        coordinates=[(name, [getattr(model, name)]) for name in names],
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )

