"""FCN builders: the embedded EfficientNet-Lite0 FCN, FCN-ResNet50 and FCN-VGG16 (paper §3.4).

Every builder returns a :class:`~asg_gym.segmentation.network.SegmentationNetwork` with 7
optimization coordinates (6 pretrained + the new head), as the paper's policy controls.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from asg_gym.backbones import build_backbone
from asg_gym.segmentation.network import (
    FCNDecoder,
    PooledClassifier,
    SegmentationNetwork,
    StagedEncoder,
    fcn_from_backbone,
)

NetworkBuilder = Callable[..., SegmentationNetwork]  # (weights, num_classes[, hidden])


def build_fcn_efficientnet_lite0(weights: str | Path | None, num_classes: int, hidden: int = 128
                                 ) -> SegmentationNetwork:
    """The embedded benchmark's FCN: taps after blocks[2] (stride 8), blocks[4] (16), bn2 (32)."""
    backbone = build_backbone("efficientnet_lite0", weights)
    conv_stem, bn1, blocks, conv_head, bn2 = backbone.features.children()
    stages = [conv_stem, bn1, *blocks.children(), conv_head, bn2]
    return fcn_from_backbone(backbone, stages, taps=(4, 6, 10), channels=(40, 112, 1280),
                             num_classes=num_classes, hidden=hidden)


def build_fcn_toy(weights: str | Path | None, num_classes: int, hidden: int = 16) -> SegmentationNetwork:
    """A tiny random FCN for tests."""
    backbone = build_backbone("toy", weights)
    return fcn_from_backbone(backbone, list(backbone.features.children()), taps=(3, 4, 5), channels=(16, 32, 32),
                             num_classes=num_classes, hidden=hidden)


def build_fcn_resnet50(weights: str | Path | None, num_classes: int, hidden: int = 256) -> SegmentationNetwork:
    """FCN-ResNet50: torchvision ``resnet50``, taps layer2 / layer3 / layer4; coordinates conv1,
    bn1, layer1 … layer4 and the head."""
    backbone = build_backbone("resnet50", weights)
    return fcn_from_backbone(backbone, list(backbone.features.children()), taps=(5, 6, 7),
                             channels=(512, 1024, 2048), num_classes=num_classes, hidden=hidden)


def build_fcn_vgg16(weights: str | Path | None, num_classes: int, hidden: int = 256, seed: int = 0
                    ) -> SegmentationNetwork:
    """FCN-VGG16 (FCN-8s style) on torchvision ``vgg16``.

    VGG's fc6/fc7 become conv6 (7×7) / conv7 (1×1) with the same weights, trained as one
    coordinate; the skips tap pool3 and pool4; the conv5 map for Eq. 5 is pool5, and θ_o is the
    frozen fc6–fc8 classifier applied to a patch pooled to 7×7 cells (VGG's input to fc6).
    Coordinates: conv1 … conv5, conv6&7, projection/upsampling.
    """
    import torchvision.models as models

    from asg_gym.backbones.torchvision_weights import IMAGENET_MEAN, IMAGENET_STD, load_into

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # weights=None: the same random network on every build
        vgg = models.vgg16(weights=None)
    if weights is not None:
        load_into(vgg, "vgg16", weights)
    bounds = (0, 5, 10, 17, 24, 31)  # conv blocks 1…5, each ending with its max-pool
    blocks = [vgg.features[a:b] for a, b in itertools.pairwise(bounds)]
    fc6, fc7 = vgg.classifier[0], vgg.classifier[3]
    assert isinstance(fc6, nn.Linear) and isinstance(fc7, nn.Linear)
    conv6 = nn.Conv2d(512, 4096, kernel_size=7, padding=3)
    conv7 = nn.Conv2d(4096, 4096, kernel_size=1)
    assert conv6.bias is not None and conv7.bias is not None
    with torch.no_grad():
        conv6.weight.copy_(fc6.weight.view(4096, 512, 7, 7))
        conv6.bias.copy_(fc6.bias)
        conv7.weight.copy_(fc7.weight.view(4096, 4096, 1, 1))
        conv7.bias.copy_(fc7.bias)
    conv6_7 = nn.Sequential(conv6, nn.ReLU(), conv7, nn.ReLU())
    decoder = FCNDecoder((256, 512, 4096), num_classes, hidden, pre=conv6_7)
    new_layers = nn.ModuleList([decoder.projections, decoder.classifier])
    names = ("conv1", "conv2", "conv3", "conv4", "conv5")
    return SegmentationNetwork(
        name="fcn_vgg16",
        encoder=StagedEncoder(blocks, taps=(2, 3, 4)),
        decoder=decoder,
        new_layers=new_layers,
        head_output=decoder.classifier,
        imagenet_head=PooledClassifier(vgg.classifier, pool=7),
        coordinates=[*((n, [b]) for n, b in zip(names, blocks, strict=True)), ("conv6&7", [conv6_7]),
                     ("projection/upsampling", [new_layers])],
        num_classes=num_classes,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )


SEGMENTATION_NETWORKS: dict[str, NetworkBuilder] = {
    "fcn_efficientnet_lite0": build_fcn_efficientnet_lite0,
    "fcn_toy": build_fcn_toy,
    "fcn_resnet50": build_fcn_resnet50,
    "fcn_vgg16": build_fcn_vgg16,
}


def build_segmentation_network(name: str, weights: str | Path | None, num_classes: int, hidden: int | None = None
                               ) -> SegmentationNetwork:
    """Build a registered FCN; ``weights`` as for the classification backbones."""
    if name not in SEGMENTATION_NETWORKS:
        raise ValueError(f"unknown segmentation network {name!r}; choose one of {sorted(SEGMENTATION_NETWORKS)}")
    builder = SEGMENTATION_NETWORKS[name]
    return builder(weights, num_classes) if hidden is None else builder(weights, num_classes, hidden)
