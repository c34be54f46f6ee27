"""The env contract of DESIGN.md §3 on a tiny ASG-Digits-v0."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

from asg_gym.envs.digits import DigitsEnv
from tests.conftest import TINY


def make(**overrides):
    from tests.conftest import TINY

    return gym.make("ASG-Digits-v0", **{**TINY, **overrides})


def test_spaces_layout():
    env = make()
    assert env.action_space == gym.spaces.MultiDiscrete([11] * 7)
    assert env.observation_space.shape == (12,) and env.observation_space.dtype == np.float32
    assert len(env.unwrapped.coordinate_names) == 7
    assert env.unwrapped.coordinate_names[-1] == "new_head"


def test_gymnasium_check_env_without_warnings():
    from gymnasium.utils.env_checker import check_env

    env = DigitsEnv(**TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)


def test_sb3_check_env_without_warnings():
    from stable_baselines3.common.env_checker import check_env

    env = DigitsEnv(**TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, warn=True)


def test_reset_observation_and_zero_kl():
    env = make()
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["loss_kl"] == 0.0  # student == teacher at θ_0 (BatchNorm frozen)
    assert obs[1] == 0.0 and obs[2] == 0.0
    np.testing.assert_array_equal(obs[5:], np.ones(7, dtype=np.float32))  # initial previous action
    assert info["loss"] == pytest.approx(info["loss_xe"])


def test_same_seed_same_trajectory():
    def trajectory(env):
        obs, _ = env.reset(seed=123)
        rng = np.random.default_rng(0)
        out = [obs]
        for _ in range(4):
            obs, reward, *_ = env.step(rng.integers(0, 11, size=7))
            out.append(np.append(obs, reward))
        return out

    a, b = trajectory(make()), trajectory(make())
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = trajectory(make())
    d = make()
    d.reset(seed=999)  # a different seed gives a different trajectory
    assert not np.array_equal(d.unwrapped._observation(), c[0])


def test_reward_is_drop_of_loss_and_info_keys():
    env = make()
    _, info = env.reset(seed=1)
    previous = info["loss"]
    for t in range(1, 7):
        obs, reward, terminated, truncated, info = env.step(np.full(7, 5))
        assert reward == pytest.approx(previous - info["loss"], abs=1e-12)
        previous = info["loss"]
        assert type(terminated) is bool and type(truncated) is bool
        assert info["lr"] == pytest.approx([0.5 * env.unwrapped.optimizee.base_lr] * 7)
        assert info["scale"] == [0.5] * 7 and info["sgd_step"] == t
        assert obs[2] == pytest.approx(t / 6)
        has_eval = t % 3 == 0
        assert ("target_accuracy" in info) == has_eval
        if has_eval:
            for key in ("target_accuracy", "target_mean_class_accuracy", "old_task_agreement"):
                assert 0.0 <= info[key] <= 1.0
    assert truncated and not terminated
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(7, dtype=int))


def test_zero_action_leaves_parameters_bitwise_unchanged():
    env = make()
    env.reset(seed=0)
    env.step(np.full(7, 10))  # build momentum first
    params = [p.detach().clone() for p in env.unwrapped.optimizee.trainable_parameters()]
    for _ in range(3):
        env.step(np.zeros(7, dtype=int))
    for before, p in zip(params, env.unwrapped.optimizee.trainable_parameters()):
        assert torch.equal(before, p)


def test_frozen_backbone_keeps_kl_near_zero():
    env = make()
    env.reset(seed=0)
    for _ in range(4):
        _, _, _, _, info = env.step(np.array([0] * 6 + [10]))
    assert abs(info["loss_kl"]) < 1e-6  # only the new head moves: θ_o(θ_s(x)) is the teacher's


def test_sgd_steps_per_action_averages_window():
    env = make(sgd_steps_per_action=3)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.full(7, 3))
    assert info["sgd_step"] == 3


def test_divergence_terminates_with_crash_penalty():
    env = make(base_lr=1e6, crash_penalty=-7.0, total_steps=50, eval_every=0)
    env.reset(seed=0)
    for _ in range(50):
        obs, reward, terminated, truncated, info = env.step(np.full(7, 10))
        if terminated:
            break
    assert terminated and not truncated
    assert reward == -7.0 and info["diverged"] is True
    assert env.observation_space.contains(obs)
    assert "target_accuracy" in info


@pytest.mark.parametrize(
    "action",
    [np.zeros(6, dtype=int), np.full(7, 11), np.full(7, -1), np.full(7, 0.5), "abc", np.zeros((7, 1), dtype=int)],
)
def test_invalid_actions_raise_value_error(action):
    env = make()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="MultiDiscrete"):
        env.unwrapped.step(action)


def test_step_before_reset_raises():
    env = DigitsEnv(**TINY)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(7, dtype=int))


def test_render_modes_and_close_twice():
    env = make(render_mode="ansi")
    env.reset(seed=0)
    env.step(np.full(7, 4))
    line = env.render()
    assert "t=   1/6" in line and "0.4" in line
    env.close()
    env.close()
    env = make(render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(3):
        env.step(np.full(7, 4))
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8 and frame.std() > 0
    with pytest.raises(ValueError, match="render_mode"):
        DigitsEnv(**{**TINY, "render_mode": "text"})


def test_sync_vector_env_steps():
    from tests.conftest import TINY

    envs = gym.vector.SyncVectorEnv([lambda: gym.make("ASG-Digits-v0", **TINY) for _ in range(2)])
    obs, _ = envs.reset(seed=[0, 1])
    assert obs.shape == (2, 12)
    obs, rewards, terminated, truncated, infos = envs.step(np.full((2, 7), 5))
    assert obs.shape == (2, 12) and rewards.shape == (2,)
    assert not np.array_equal(obs[0], obs[1])
    envs.close()


def test_bad_arguments_fail_early():
    with pytest.raises(ValueError, match="backbone"):
        make(backbone="resnet9000")
    with pytest.raises(ValueError, match="eval_size"):
        make(eval_size=10**6)
    with pytest.raises(ValueError, match="total_steps"):
        make(total_steps=0)
    with pytest.raises(ValueError, match="real digit set"):
        make(target="svhn")
    with pytest.raises(ValueError, match="lam"):
        make(lam=-1.0)


def test_uci_target_and_augmentation_run():
    env = make(target="uci", augment=True)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.full(7, 5))
    assert np.isfinite(info["loss"])
    assert env.unwrapped.source.cacheable is False
