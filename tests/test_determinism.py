"""Same seed, same trajectory: observations, rewards, flags, ``info`` and weights, bitwise.

``docs/design.md`` §2 "Env contract", *Determinism*: promised on the same machine and build;
different seeds give different episodes (new head, data order).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from tests.cheap_envs import CheapEnv

STEPS = 4


def trajectory(env: gym.Env, seed: int) -> list[Any]:
    """The reset and ``STEPS`` steps of seeded random actions: every value the env returned."""
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(0)
    out: list[Any] = [(obs, info)]
    for _ in range(STEPS):
        out.append(env.step(rng.integers(0, 11, size=7)))
    return out


def weights(env: gym.Env) -> list[torch.Tensor]:
    return [p.detach().clone() for p in env.unwrapped.optimizee.trainable_parameters()]


def assert_bitwise_equal(a: list[Any], b: list[Any]) -> None:
    """Arrays, floats, bools and the ``info`` dicts, exactly (NaN equals NaN, e.g. an absent class's IoU)."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_equal(x, y)
        for u, v in zip(x, y, strict=True):
            assert type(u) is type(v)
            if isinstance(u, np.ndarray):
                assert u.dtype == v.dtype and u.tobytes() == v.tobytes()


def test_same_seed_same_trajectory_in_two_envs(cheap_env: CheapEnv) -> None:
    env_a, env_b = cheap_env.make(total_steps=STEPS), cheap_env.make(total_steps=STEPS)
    a, b = trajectory(env_a, 123), trajectory(env_b, 123)
    assert_bitwise_equal(a, b)
    assert a[-1][3] is True  # the last step is the truncated one, with the evaluation
    assert cheap_env.target_metric in a[-1][4]
    for p, q in zip(weights(env_a), weights(env_b), strict=True):
        assert torch.equal(p, q)


def test_reset_with_the_same_seed_replays_the_episode(cheap_env: CheapEnv) -> None:
    env = cheap_env.make(total_steps=STEPS)
    first = trajectory(env, 5)
    trajectory(env, 6)  # another episode in between changes nothing
    assert_bitwise_equal(trajectory(env, 5), first)


def test_different_seeds_differ(cheap_env: CheapEnv) -> None:
    env = cheap_env.make(total_steps=STEPS)
    a, b = trajectory(env, 123), trajectory(env, 999)
    assert not np.array_equal(a[0][0], b[0][0])  # a different new head: other L_XE and head statistics
    assert [step[1] for step in a[1:]] != [step[1] for step in b[1:]]  # other rewards
