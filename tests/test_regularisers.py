"""Lifelong-learning regularisers (Table 2 baselines) inside the optimizee and the env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from asg_gym.regularisers import build_regulariser


@pytest.mark.parametrize("name", ["weight_l2", "feature_l2", "si"])
def test_penalty_is_zero_at_reset_and_grows_with_backbone_motion(name, digits_kwargs):
    env = gym.make("ASG-Digits-v0", **{**digits_kwargs, "lam": 0.0, "regulariser": name,
                                       "regulariser_weight": 10.0, "base_lr": 0.05})
    _, info = env.reset(seed=0)
    assert info["loss"] == pytest.approx(info["loss_xe"], abs=1e-7)  # θ_s = θ_s⁰: no penalty yet
    opt = env.unwrapped.optimizee
    for _ in range(4):
        env.step(np.full(7, 10))
    images, _, _ = env.unwrapped.source.next_batch()
    with torch.no_grad():
        penalty = float(opt.regulariser.penalty(images, opt.features(images).mean(dim=(2, 3))))
    assert penalty > 0
    _, _, _, _, info = env.step(np.full(7, 10))
    assert info["loss"] > info["loss_xe"]  # L = L_XE + weight · penalty


def test_si_importance_is_nonnegative_and_not_all_zero(digits_kwargs):
    env = gym.make("ASG-Digits-v0", **{**digits_kwargs, "regulariser": "si"})
    importance = env.unwrapped.optimizee.regulariser.importance
    assert len(importance) == len(list(env.unwrapped.optimizee.features.parameters()))
    flat = torch.cat([o.flatten() for o in importance])
    assert flat.min() >= 0 and flat.max() > 0


def test_unknown_regulariser_and_bad_weight():
    with pytest.raises(ValueError, match="regulariser"):
        build_regulariser("ewc", 1.0)
    with pytest.raises(ValueError, match="weight"):
        build_regulariser("si", 0.0)
    assert build_regulariser("none", 1.0) is None
