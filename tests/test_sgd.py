"""The two momentum-SGD update rules (``momentum_style``): same under a constant LR, not under actions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import asg_gym  # noqa: F401  (registers the ids)
from asg_gym.sgd import ReferenceSGD


def test_reference_rule_by_hand():
    param = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    sgd = ReferenceSGD([param], lr=0.1, momentum=0.9, weight_decay=0.01)
    grads = [torch.tensor([0.5, 0.25]), torch.tensor([-1.0, 2.0])]
    theta, velocity = torch.tensor([1.0, -2.0]), torch.zeros(2)
    for grad in grads:
        param.grad = grad.clone()
        sgd.step()
        velocity = 0.9 * velocity + 0.1 * (grad + 0.01 * theta)  # v <- mu v + lr (g + wd theta); theta -= v
        theta = theta - velocity
        torch.testing.assert_close(param.detach(), theta)


def _parameters_after(kwargs: dict, momentum_style: str, actions: list[np.ndarray]) -> list[torch.Tensor]:
    env = gym.make("ASG-Digits-v0", **{**kwargs, "momentum_style": momentum_style, "total_steps": 8})
    env.reset(seed=0)
    for action in actions:
        env.step(action)
    return [p.detach().clone() for p in env.unwrapped.optimizee.trainable_parameters()]


def test_styles_agree_under_a_constant_learning_rate(digits_kwargs):
    actions = [np.full(7, 10)] * 5
    torch_run, reference_run = (_parameters_after(digits_kwargs, style, actions) for style in ("torch", "reference"))
    for a, b in zip(torch_run, reference_run, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_scale_zero_stops_torch_but_lets_reference_coast(digits_kwargs):
    moving = [np.full(7, 10)] * 3
    for style, coasts in (("torch", False), ("reference", True)):
        before = _parameters_after(digits_kwargs, style, moving)
        after = _parameters_after(digits_kwargs, style, [*moving, np.zeros(7, dtype=int)])
        changed = any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
        assert changed is coasts, style


def test_unknown_style_is_refused(digits_kwargs):
    with pytest.raises(ValueError, match="momentum_style"):
        gym.make("ASG-Digits-v0", **{**digits_kwargs, "momentum_style": "adam"})
