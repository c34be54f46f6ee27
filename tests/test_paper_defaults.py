"""The paper-scale defaults and the keywords that switch to the released code's behaviour (docs/design.md §5).

VisDA-17 headlines mean per-class accuracy with flip averaging; GTA5 caps λ·L_KL at 9 and takes
Eq. 5's patches or the whole-map guidance; the trainer's warm-up + poly schedule. Each on the
fixture folders of ``tests/conftest.py`` or on the toy FCN.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from asg_gym.interfaces import LossTerms
from asg_gym.proxy_guidance import dense_proxy_guidance_kl, patch_corners, proxy_guidance_kl
from asg_gym.schedules import LRSchedule
from asg_gym.segmentation.metrics import IGNORE_INDEX
from asg_gym.segmentation.models import build_segmentation_network
from asg_gym.segmentation.optimizee import SegmentationOptimizee


# ------------------------------------------------------------------------------------ VisDA-17
def visda_env(root: Path, **overrides: Any) -> gym.Env:
    return gym.make("ASG-VisDA-v0", data_root=str(root), backbone="toy", weights=None, image_size=32,
                    batch_size=4, total_steps=1, num_workers=0, device="cpu", eval_batch_size=16, **overrides)


def test_visda_headlines_mean_class_accuracy_with_flip_averaging(visda_root: Path) -> None:
    env = visda_env(visda_root, render_mode="ansi")
    core = env.unwrapped
    assert core.target_metric == "target_mean_class_accuracy"
    assert core.evaluation.func.flip_tta is True  # the evaluation is partial(VisDAEvaluation, optimizee)
    env.reset(seed=0)
    _, _, _, truncated, info = env.step(np.array([1] * 6 + [10]))
    assert truncated and 0.0 <= info["target_mean_class_accuracy"] <= 1.0 and "target_accuracy" in info
    assert "target_mean_class_accuracy=" in env.render()
    env.close()
    off = visda_env(visda_root, flip_tta=False)
    assert off.unwrapped.evaluation.func.flip_tta is False
    off.close()


# ---------------------------------------------------------------------------- segmentation envs
def test_gta5_defaults_to_patches_with_the_reference_cap(gta5_roots: tuple[Path, Path]) -> None:
    gta5, cityscapes = gta5_roots
    kwargs = {"network": "fcn_toy", "weights": None, "data_root": gta5, "cityscapes_root": cityscapes,
              "crop_size": (32, 32), "batch_size": 2, "num_workers": 0, "device": "cpu", "patch_size": 1}
    default = gym.make("ASG-GTA5-v0", **kwargs).unwrapped.optimizee
    assert (default.guidance, default.kl_cap) == ("patches", 9.0)
    switched = gym.make("ASG-GTA5-v0", guidance="whole_map", kl_cap=None, **kwargs).unwrapped.optimizee
    assert (switched.guidance, switched.kl_cap) == ("whole_map", None)
    with pytest.raises(ValueError, match="guidance"):
        gym.make("ASG-GTA5-v0", guidance="patch", **kwargs)


def test_digitseg_keeps_its_recorded_behaviour_by_default(digitseg_kwargs: dict[str, Any]) -> None:
    optimizee = gym.make("ASG-DigitSeg-v0", **digitseg_kwargs).unwrapped.optimizee
    assert (optimizee.guidance, optimizee.kl_cap) == ("patches", None)
    capped = gym.make("ASG-DigitSeg-v0", kl_cap=9.0, guidance="whole_map", **digitseg_kwargs).unwrapped.optimizee
    assert (capped.guidance, capped.kl_cap) == ("whole_map", 9.0)


# ------------------------------------------------------------------------- the optimizee's loss
def optimizee(seed: int = 0, **kwargs: Any) -> SegmentationOptimizee:
    """A toy FCN whose student differs from its teacher (so L_KL > 0), the same for the same seed."""
    torch.manual_seed(seed)
    opt = SegmentationOptimizee(build_segmentation_network("fcn_toy", None, 5), patch_size=1, **kwargs)
    opt.reset(seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in opt.features.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=generator))
    return opt


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 5, (2, 64, 96), generator=generator)
    labels[:, :8] = IGNORE_INDEX
    return torch.randn(2, 3, 64, 96, generator=generator), labels


def gradients(opt: SegmentationOptimizee) -> list[torch.Tensor]:
    return [p.grad.clone() for p in opt.trainable_parameters() if p.grad is not None]


def test_patches_loss_is_bitwise_eq5_by_default_and_below_the_cap() -> None:
    images, labels = batch()
    reference = optimizee(lam=1.0)  # the loss as written before guidance/kl_cap existed
    maps = reference.features(images)
    logits = reference.decoder(maps, images.shape[-2:])
    xe = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, reduction="sum") / (labels != 255).sum()
    side, corners = patch_corners(maps[-1].shape[-2:], 4, 1, torch.Generator().manual_seed(0))
    kl = dense_proxy_guidance_kl(maps[-1], reference.teacher_map(images), reference.imagenet_head, side, corners)
    total = xe + 1.0 * kl
    total.backward()
    expected = LossTerms(*torch.stack([total.detach(), xe.detach(), kl.detach()]).tolist())
    assert expected.kl > 0
    for kwargs in ({}, {"guidance": "patches", "kl_cap": 1e6}):
        opt = optimizee(lam=1.0, **kwargs)
        assert opt.forward_backward(images, labels) == expected  # bitwise: float equality
        assert all(torch.equal(a, b) for a, b in zip(gradients(opt), gradients(reference), strict=True))


def test_kl_cap_rescales_lambda_as_the_reference_does() -> None:
    images, labels = batch()
    lam, cap = 1e5, 9.0
    uncapped = optimizee(lam=lam).forward_backward(images, labels)
    assert lam * uncapped.kl > cap  # λ large: the cap bites
    capped_opt = optimizee(lam=lam, kl_cap=cap)
    capped = capped_opt.forward_backward(images, labels)
    assert capped.kl == uncapped.kl and capped.xe == uncapped.xe  # L_KL is reported raw
    assert capped.total == pytest.approx(capped.xe + cap, rel=1e-6)
    # The reference sets λ to cap / L_KL (detached): the guidance gradient is scaled, not zeroed.
    rescaled_opt = optimizee(lam=cap / capped.kl)
    rescaled_opt.forward_backward(images, labels)
    for a, b in zip(gradients(capped_opt), gradients(rescaled_opt), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError, match="kl_cap"):
        optimizee(kl_cap=0.0)


def test_whole_map_guidance_is_the_image_level_kl() -> None:
    images, labels = batch()  # 64×96: a 2×3 conv5 map, which no square patch covers
    opt = optimizee(lam=1.0, guidance="whole_map")
    terms = opt.forward_backward(images, labels)
    with torch.no_grad():
        image_level = proxy_guidance_kl(opt.imagenet_head(opt.features(images)[-1]),
                                        F.log_softmax(opt.teacher_logits(images), dim=1))
    assert terms.kl > 0 and terms.kl == pytest.approx(float(image_level), rel=1e-6)
    patches = optimizee(lam=1.0).forward_backward(images, labels)
    assert patches.kl != terms.kl


# ------------------------------------------------------------------------- learning-rate schedule
def test_schedule_is_the_reference_lr_poly() -> None:
    total = 1000
    schedule = LRSchedule(total, warmup_iters=100, poly_power=0.9)
    for i in (0, 1, 50, 99, 100, 101, 500, 799, 800, 999, 1000):
        expected = min(0.01 + 0.99 * (i / 100) ** 2, 1.0) * (1 - min(i / total, 0.8)) ** 0.9  # utils/utils.py
        assert schedule.multiplier(i) == pytest.approx(expected, rel=1e-12)
    assert schedule.multiplier(total) == pytest.approx(0.2**0.9)  # the floor
    assert not LRSchedule(total).active and LRSchedule(total).multiplier(123) == 1.0
    assert LRSchedule(total, warmup_iters=10).multiplier(500) == 1.0  # warm-up only


def test_trainer_learning_rate_follows_the_schedule(tmp_path: Path, digits_kwargs: dict[str, Any]) -> None:
    from experiments.paper import train_transfer

    kwargs = {k: v for k, v in digits_kwargs.items() if k not in ("total_steps", "eval_every")}
    epochs, base_lr = 6, 1e-3
    train_transfer.main(["--env", "ASG-Digits-v0", "--policy", "all_large", "--base-lr", str(base_lr),
                         "--epochs", str(epochs), "--steps-per-epoch", "1", "--warmup-iters", "3",
                         "--poly-power", "0.9", "--out", str(tmp_path), "--no-progress", "--no-tensorboard",
                         "--env-kwargs", json.dumps(kwargs)])
    schedule = LRSchedule(epochs, warmup_iters=3, poly_power=0.9)
    with (tmp_path / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == epochs
    for i, row in enumerate(rows):  # one action = one SGD iteration per epoch here; scale 1 on the head
        assert float(row["lr_multiplier"]) == pytest.approx(schedule.multiplier(i), rel=1e-12)
        assert float(row["lr_head"]) == pytest.approx(base_lr * schedule.multiplier(i), rel=1e-9)
    with pytest.raises(SystemExit, match="reference-schedule"):
        train_transfer.main(["--reference-schedule", "--warmup-iters", "5", "--out", str(tmp_path / "x"),
                             "--env-kwargs", json.dumps(kwargs)])
