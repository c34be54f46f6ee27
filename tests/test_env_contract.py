"""The env contract (``docs/design.md`` §2 "Env contract") on every cheap registered id.

Spaces, the checkers of Gymnasium and SB3, reset, reward and ``info``, zero actions, SGD windows,
truncation and rendering. Determinism, resuming and bad inputs have their own files.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

from asg_gym import spaces as asg_spaces
from asg_gym.windows import decision_windows
from tests.cheap_envs import CheapEnv


def test_spaces_layout(cheap_env: CheapEnv) -> None:
    env = cheap_env.make()
    assert env.action_space == gym.spaces.MultiDiscrete([11] * 7)
    assert env.observation_space.shape == (12,) and env.observation_space.dtype == np.float32
    assert env.observation_space == asg_spaces.observation_space(7)
    assert len(env.unwrapped.coordinate_names) == 7
    assert env.unwrapped.coordinate_names[-1] == cheap_env.head
    env.close()


def test_gymnasium_check_env_without_warnings(cheap_env: CheapEnv) -> None:
    from gymnasium.utils.env_checker import check_env

    env = cheap_env.make_unwrapped()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)
    env.close()


def test_sb3_check_env_without_warnings(cheap_env: CheapEnv) -> None:
    from stable_baselines3.common.env_checker import check_env

    env = cheap_env.make_unwrapped()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, warn=True)
    env.close()


def test_reset_observation_and_zero_kl(cheap_env: CheapEnv) -> None:
    env = cheap_env.make()
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["loss_kl"] == 0.0  # student == teacher at θ_0 (BatchNorm frozen)
    assert obs[1] == 0.0 and obs[2] == 0.0
    np.testing.assert_array_equal(obs[5:], np.ones(7, dtype=np.float32))  # initial previous action
    assert info["loss"] == pytest.approx(info["loss_xe"])
    assert info["sgd_step"] == 0 and info["scale"] == [1.0] * 7
    env.close()


def test_reward_is_drop_of_loss_and_info_keys(cheap_env: CheapEnv) -> None:
    """Evaluations every ``eval_every`` actions and at the end (5 is not a multiple of 2)."""
    total, every = 5, 2
    env = cheap_env.make(total_steps=total, eval_every=every)
    _, info = env.reset(seed=1)
    previous = info["loss"]
    for t in range(1, total + 1):
        obs, reward, terminated, truncated, info = env.step(np.full(7, 5))
        assert reward == pytest.approx(previous - info["loss"], abs=1e-12)
        previous = info["loss"]
        assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
        assert info["lr"] == pytest.approx([0.5 * env.unwrapped.optimizee.base_lr] * 7)
        assert info["scale"] == [0.5] * 7 and info["sgd_step"] == t and info["diverged"] is False
        assert obs[2] == pytest.approx(t / total)
        np.testing.assert_array_equal(obs[5:], np.full(7, 0.5, dtype=np.float32))
        has_eval = t % every == 0 or t == total
        assert (cheap_env.target_metric in info) == has_eval
        if has_eval:
            for key in cheap_env.scores:
                assert 0.0 <= info[key] <= 1.0, key
        assert truncated == (t == total) and not terminated
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(7, dtype=int))
    env.close()


def test_zero_action_leaves_parameters_bitwise_unchanged(cheap_env: CheapEnv) -> None:
    env = cheap_env.make()
    env.reset(seed=0)
    env.step(np.full(7, 10))  # build momentum first
    params = [p.detach().clone() for p in env.unwrapped.optimizee.trainable_parameters()]
    for _ in range(3):
        env.step(np.zeros(7, dtype=int))
    for before, p in zip(params, env.unwrapped.optimizee.trainable_parameters(), strict=True):
        assert torch.equal(before, p)
    env.close()


def test_frozen_backbone_keeps_kl_near_zero(cheap_env: CheapEnv) -> None:
    env = cheap_env.make(total_steps=4)
    env.reset(seed=0)
    for _ in range(4):
        _, _, _, _, info = env.step(np.array([0] * 6 + [10]))
    assert abs(info["loss_kl"]) < 1e-6  # only the new head moves: θ_o(θ_s(x)) is the teacher's
    env.close()


def test_sgd_steps_per_action_counts_sgd_steps(cheap_env: CheapEnv) -> None:
    env = cheap_env.make(sgd_steps_per_action=3)
    _, info = env.reset(seed=0)
    previous = info["loss"]
    for t in (1, 2):
        obs, reward, _, _, info = env.step(np.full(7, 3))
        assert info["sgd_step"] == 3 * t
        assert reward == pytest.approx(previous - info["loss"], abs=1e-12)  # the window's mean loss
        previous = info["loss"]
        assert obs[2] == pytest.approx(t / cheap_env.kwargs["total_steps"])  # t counts actions, not SGD steps
    env.close()


def test_truncation_after_total_steps(cheap_env: CheapEnv) -> None:
    env = cheap_env.make(total_steps=2, eval_every=0)
    env.reset(seed=0)
    first = env.step(np.full(7, 2))
    assert first[2:4] == (False, False) and cheap_env.target_metric not in first[4]  # eval_every=0: only at the end
    obs, _, terminated, truncated, info = env.step(np.full(7, 2))
    assert truncated and not terminated and cheap_env.target_metric in info
    assert obs[2] == 1.0
    env.close()


def test_render_modes_and_close_twice(cheap_env: CheapEnv) -> None:
    total, every = cheap_env.kwargs["total_steps"], cheap_env.kwargs["eval_every"]
    env = cheap_env.make(render_mode="ansi")
    env.reset(seed=0)
    env.step(np.full(7, 4))
    line = env.render()
    assert f"t={1:>4}/{total}" in line and "0.4" in line
    for _ in range(every - 1):
        env.step(np.full(7, 4))
    assert f"{cheap_env.target_metric}=" in env.render()  # after the first evaluation
    env.close()
    env.close()
    env = cheap_env.make(render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(3):
        env.step(np.full(7, 4))
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8 and frame.std() > 0
    env.close()
    env = cheap_env.make_unwrapped()
    env.reset(seed=0)
    assert env.render() is None  # render_mode=None
    env.close()


def test_sync_vector_env_steps(cheap_env: CheapEnv) -> None:
    envs = gym.vector.SyncVectorEnv([cheap_env.make for _ in range(2)])
    obs, _ = envs.reset(seed=[0, 1])
    assert obs.shape == (2, 12)
    obs, rewards, terminated, truncated, infos = envs.step(np.full((2, 7), 5))
    assert obs.shape == (2, 12) and rewards.shape == (2,) and terminated.shape == truncated.shape == (2,)
    np.testing.assert_array_equal(infos["sgd_step"], [1, 1])
    assert not np.array_equal(obs[0], obs[1])
    envs.close()


def test_embedded_envs_ignore_data_root_with_a_warning(cheap_env: CheapEnv, tmp_path) -> None:
    if not cheap_env.embedded:
        pytest.skip(f"{cheap_env.env_id} reads its data from data_root")
    with pytest.warns(UserWarning, match="data_root is ignored"):
        env = cheap_env.make_unwrapped(data_root=tmp_path)
    env.reset(seed=0)
    env.close()


def test_decision_windows() -> None:
    """Reference growth: each window as long as the SGD steps before it (≥ the minimum), same SGD budget."""
    assert decision_windows(30, 10, "reference") == [10, 10, 20, 40, 80, 140]
    assert decision_windows(5, 1, "reference") == [1, 1, 2, 1] and decision_windows(3, 2) == [2, 2, 2]
    with pytest.raises(ValueError, match="window_growth"):
        decision_windows(3, 2, "doubling")  # type: ignore[arg-type]  (the error is the point)


def test_reference_growing_windows(cheap_env: CheapEnv) -> None:
    env = cheap_env.make(total_steps=5, sgd_steps_per_action=1, window_growth="reference", eval_every=0)
    assert env.unwrapped.total_steps == 4 and env.unwrapped.sgd_steps_per_episode == 5
    env.reset(seed=0)
    seen = []
    for _ in range(4):
        obs, _, terminated, truncated, info = env.step(np.full(7, 3))
        seen.append((info["sgd_step"], float(obs[2]), truncated))
    assert seen == [(1, pytest.approx(0.2), False), (2, pytest.approx(0.4), False), (4, pytest.approx(0.8), False),
                    (5, 1.0, True)] and not terminated
    env.close()
