"""tuned_constant: TPE over the C constant scales, whole training episodes within the budget, seeded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from agents import TunedConstantAgent, make_agent
from asg_benchmark.training_env import TrainingEnv
from tests.toy_lr_env import ToyLREnv


def test_tuned_constant_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    runs = []
    for seed in (7, 7, 8):
        agent = make_agent("tuned_constant", ToyLREnv(episode_length=5), seed=seed, episode_length=5)
        assert isinstance(agent, TunedConstantAgent)
        with pytest.raises(RuntimeError, match="call learn"):
            agent.predict(np.zeros(8))
        runs.append(agent.learn(124))  # 24 whole 5-step episodes fit, a 25th does not
    first, second, other = runs
    assert len(first.trials) == 24 and first.num_timesteps == 120
    assert first.trials == second.trials and first.trials != other.trials
    np.testing.assert_array_equal(first.predict(np.zeros(8))[0], second.predict(np.zeros(8))[0])
    best = max(first.trials, key=lambda t: t["value"])  # objective: the episode return (never target accuracy)
    np.testing.assert_array_equal(first.action, best["action"])
    assert best["value"] > np.mean([t["value"] for t in first.trials])
    loaded = TunedConstantAgent.load(first.save(tmp_path / "tuned.json"), ToyLREnv())
    np.testing.assert_array_equal(loaded.predict(np.zeros((2, 8)))[0], [first.action, first.action])
    with pytest.raises(RuntimeError, match="fewer than one whole episode"):
        make_agent("tuned_constant", ToyLREnv(), seed=0, episode_length=10).learn(5).predict(np.zeros(8))
    with pytest.raises(ValueError, match="never the target accuracy"):
        make_agent("tuned_constant", ToyLREnv(), objective="target_accuracy")


def test_tuned_constant_on_the_toy_digits_env(digits_kwargs: dict[str, Any]) -> None:
    env = TrainingEnv(gym.make("ASG-Digits-v0", **{**digits_kwargs, "eval_every": 0, "eval_size": 10}))
    first, second = (make_agent("tuned_constant", env, seed=3, objective="final_loss").learn(13) for _ in range(2))
    assert len(first.trials) == 2 and first.trials == second.trials and env.num_steps == 24
    assert all(0 < t["value"] < 10 for t in first.trials)  # finite training losses
    np.testing.assert_array_equal(first.action, second.action)


def test_tuned_constant_resumes_exactly(tmp_path: Path) -> None:
    """learn(a) + save + load + learn(b) tunes as learn(a + b): the same trials (TPE's included), the same action."""
    def agent() -> TunedConstantAgent:
        return make_agent("tuned_constant", ToyLREnv(episode_length=5), seed=7, episode_length=5, n_startup_trials=3)

    whole = agent().learn(60)
    part = agent().learn(23)  # 4 trials; 3 granted steps wait for the next call
    resumed = TunedConstantAgent.load(part.save(tmp_path / "tuned.json"), ToyLREnv(episode_length=5)).learn(37)
    assert len(whole.trials) == 12 and resumed.trials == whole.trials
    assert resumed.num_timesteps == whole.num_timesteps == 60
    np.testing.assert_array_equal(resumed.action, whole.action)
    pieces = agent()
    for steps in (3, 3, 3, 51):  # pieces smaller than an episode wait for the next
        pieces.learn(steps)
    assert pieces.trials == whole.trials
