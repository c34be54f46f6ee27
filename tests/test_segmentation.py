"""Segmentation only: mIoU reports, dense proxy guidance (Eq. 5), the FCNs, GTA5 folders and the trainer.

The env contract of the segmentation ids (``docs/design.md`` §2 "Env contract") is checked with
every other id's by the files parametrised over ``cheap_env``.
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from asg_gym.errors import DatasetError, MissingWeightsError
from asg_gym.proxy_guidance import dense_proxy_guidance_kl, patch_corners, proxy_guidance_kl
from asg_gym.segmentation.models import build_segmentation_network
from asg_gym.segmentation.optimizee import SegmentationOptimizee
from tests.seg_fixtures import make_gta5


def test_digitseg_episode_reports_miou(digitseg_kwargs):
    env = gym.make("ASG-DigitSeg-v0", **{**digitseg_kwargs, "render_mode": "ansi"})
    env.reset(seed=5)
    info, done = {}, False
    while not done:
        _, _, terminated, truncated, info = env.step(np.array([1] * 6 + [10]))
        done = terminated or truncated
    assert 0.0 <= info["target_miou"] <= 1.0 and len(info["target_iou"]) == 11
    assert 0.0 <= info["target_pixel_accuracy"] <= 1.0 and 0.0 <= info["old_task_agreement"] <= 1.0
    assert "target_miou=" in env.render()


def _perturbed_optimizee(num_patches: int, patch_size: int) -> SegmentationOptimizee:
    optimizee = SegmentationOptimizee(build_segmentation_network("fcn_toy", None, 5), lam=1.0,
                                      num_patches=num_patches, patch_size=patch_size)
    optimizee.reset(0)
    with torch.no_grad():
        for p in optimizee.features.parameters():
            p.add_(0.05 * torch.randn_like(p))  # student ≠ teacher, so the KL is positive
    return optimizee


def test_dense_kl_with_one_whole_map_patch_is_the_image_level_kl():
    optimizee = _perturbed_optimizee(num_patches=1, patch_size=100)
    images = torch.randn(3, 3, 64, 64)
    student_map = optimizee.features(images)[-1]
    teacher_map = optimizee.teacher_map(images)
    side, corners = patch_corners(student_map.shape[-2:], 1, 100, torch.Generator().manual_seed(0))
    assert side == 2 and corners == [(0, 0)]  # a 64-px image has a 2x2 conv5 map
    dense = dense_proxy_guidance_kl(student_map, teacher_map, optimizee.imagenet_head, side, corners)
    image_level = proxy_guidance_kl(optimizee.imagenet_head(student_map),
                                    F.log_softmax(optimizee.teacher_logits(images), dim=1))
    assert dense.item() > 0
    torch.testing.assert_close(dense, image_level)


def test_dense_kl_averages_over_patches_and_batch():
    optimizee = _perturbed_optimizee(num_patches=3, patch_size=1)
    images = torch.randn(2, 3, 96, 96)
    student_map, teacher_map = optimizee.features(images)[-1], optimizee.teacher_map(images)
    side, corners = patch_corners(student_map.shape[-2:], 3, 1, torch.Generator().manual_seed(0))
    dense = dense_proxy_guidance_kl(student_map, teacher_map, optimizee.imagenet_head, side, corners)
    per_patch = [dense_proxy_guidance_kl(student_map, teacher_map, optimizee.imagenet_head, side, [c])
                 for c in corners]
    torch.testing.assert_close(dense, torch.stack(per_patch).mean())


def test_all_ignored_pixels_give_a_finite_loss():
    optimizee = SegmentationOptimizee(build_segmentation_network("fcn_toy", None, 5), lam=0.0)
    optimizee.reset(0)
    terms = optimizee.forward_backward(torch.randn(2, 3, 32, 32), torch.full((2, 32, 32), 255))
    assert terms.is_finite() and terms.xe == 0.0


@pytest.mark.parametrize("name, coordinates", [
    ("fcn_vgg16", ("conv1", "conv2", "conv3", "conv4", "conv5", "conv6&7", "projection/upsampling")),
    ("fcn_resnet50", ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "head")),
])
def test_paper_fcns_have_seven_coordinates_and_segment(name, coordinates):
    network = build_segmentation_network(name, None, 19, hidden=8)
    names = tuple(n for n, _ in network.coordinate_parameters())  # also checks the partition
    assert names == coordinates
    with torch.no_grad():
        maps = network.encoder(torch.randn(1, 3, 64, 96))
        logits = network.decoder(maps, (64, 96))
        assert logits.shape == (1, 19, 64, 96)
        assert network.imagenet_head.eval()(maps[-1]).shape == (1, 1000)


def test_vgg16_conv6_is_fc6_made_convolutional():
    network = build_segmentation_network("fcn_vgg16", None, 19, hidden=8)
    fc6, conv6 = network.imagenet_head.classifier[0], network.decoder.pre[0]
    pool5 = torch.randn(1, 512, 7, 7)
    with torch.no_grad():
        conv = F.conv2d(pool5, conv6.weight, conv6.bias).flatten()
        torch.testing.assert_close(conv, fc6(pool5.flatten(1))[0], atol=1e-4, rtol=1e-3)  # 25,088-term sums


def test_missing_torchvision_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError, match=r"vgg16-397923af\.pth"):
        build_segmentation_network("fcn_vgg16", "IMAGENET1K_V1", 19)


def test_gta5_env_reports_cityscapes_classes(gta5_roots):
    gta5, cityscapes = gta5_roots
    env = gym.make("ASG-GTA5-v0", network="fcn_toy", weights=None, data_root=gta5, cityscapes_root=cityscapes,
                   crop_size=(32, 32), eval_size=(32, 48), batch_size=2, total_steps=2, eval_every=1,
                   patch_size=1, num_workers=0, device="cpu")
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and info["loss_kl"] == 0.0
    _, _, _, _, info = env.step(np.array([1] * 6 + [10]))
    assert 0.0 <= info["target_miou"] <= 1.0 and len(info["target_iou"]) == 19
    assert "target_iou_road" in info and "target_iou_traffic_light" in info
    env.close()


def test_gta5_env_without_cityscapes_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv("ASG_CITYSCAPES_ROOT", raising=False)
    gta5 = make_gta5(tmp_path / "gta5")
    with pytest.raises(DatasetError, match="ASG_CITYSCAPES_ROOT"):
        gym.make("ASG-GTA5-v0", network="fcn_toy", weights=None, data_root=gta5)


def test_trainer_runs_segmentation(tmp_path, digitseg_kwargs):
    from experiments.paper import train_transfer

    kwargs = {k: v for k, v in digitseg_kwargs.items() if k not in ("total_steps", "eval_every")}
    row = train_transfer.main(["--env", "ASG-DigitSeg-v0", "--epochs", "2", "--steps-per-epoch", "2", "--out",
                               str(tmp_path), "--no-progress", "--env-kwargs", json.dumps(kwargs)])
    assert 0.0 <= row["target_miou"] <= 1.0
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert "target_miou" in header and "target_accuracy" not in header


def test_bf16_autocast_trains_in_float32_losses():
    optimizee = SegmentationOptimizee(build_segmentation_network("fcn_toy", None, 5), lam=1.0, patch_size=1,
                                      autocast_dtype=torch.bfloat16)
    optimizee.reset(0)
    optimizee.set_scales([1.0] * 7)
    images, labels = torch.randn(2, 3, 64, 64), torch.randint(0, 5, (2, 64, 64))
    for _ in range(2):
        terms = optimizee.forward_backward(images, labels)
        optimizee.sgd_step()
    assert terms.is_finite()  # before the fix, θ_o (float32) on a bf16 conv5 map raised a dtype error
    assert all(p.grad.dtype == torch.float32 for p in optimizee.trainable_parameters() if p.grad is not None)
