"""Vector envs: Gymnasium's sync and async (default fork context) vectorisation of ASG-Digits-v0."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import asg_gym  # noqa: F401  (registers the ids)

VECTOR_KWARGS = {"total_steps": 4, "batch_size": 8, "image_size": 32, "eval_every": 2, "eval_size": 64,
                 "backbone": "toy", "num_source_images": 64, "device": "cpu"}


@pytest.mark.timeout(180)  # a hang (OpenMP after fork) must fail, not stall CI
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_env_matches_single_envs(mode):
    """Each sub-env of a vector env follows the same trajectory as a single env with its seed."""
    envs = gym.make_vec("ASG-Digits-v0", num_envs=2, vectorization_mode=mode, **VECTOR_KWARGS)
    try:
        obs, _ = envs.reset(seed=[3, 4])
        actions = np.array([np.full(7, 10), np.arange(7)])
        step_obs, rewards, terminated, truncated, _ = envs.step(actions)
    finally:
        envs.close()
    for index, seed in enumerate((3, 4)):
        env = gym.make("ASG-Digits-v0", **VECTOR_KWARGS)
        single_obs, _ = env.reset(seed=seed)
        single_step, reward, *_ = env.step(actions[index])
        np.testing.assert_array_equal(obs[index], single_obs)
        np.testing.assert_array_equal(step_obs[index], single_step)
        assert rewards[index] == reward
    assert not terminated.any() and not truncated.any()


def test_num_threads_keyword_sets_torch_threads():
    import torch

    before = torch.get_num_threads()
    try:
        gym.make("ASG-Digits-v0", num_threads=1, **VECTOR_KWARGS)
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="num_threads"):
            gym.make("ASG-Digits-v0", num_threads=0, **VECTOR_KWARGS)
    finally:
        torch.set_num_threads(before)
