"""Stable-Baselines3 PPO and A2C and sb3-contrib RecurrentPPO behind the agents' interface, on the toy ASG env."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import load_agent, make_agent
from tests.toy_lr_env import ToyLREnv

# Each agent's rollout settings for 6-step episodes, and a loss its updates report.
SB3_AGENTS = {
    "ppo": ({"n_steps": 12, "batch_size": 12}, "losses/policy_gradient_loss"),
    "a2c": ({"n_steps": 6}, "losses/policy_loss"),
    "recurrent_ppo": ({"n_steps": 12, "batch_size": 12}, "losses/policy_gradient_loss"),
}


@pytest.mark.parametrize("name", SB3_AGENTS)
def test_sb3_agent_trains_on_the_toy_asg_env(tmp_path: Path, digits_kwargs: dict, name: str) -> None:
    options, loss_key = SB3_AGENTS[name]
    env = gym.make("ASG-Digits-v0", **digits_kwargs)
    agent = make_agent(name, env, seed=0, **options)
    records = []
    agent.learn(24, callback=records.append)
    assert agent.num_timesteps == 24 and agent.num_episodes == 4
    assert any(r.update and loss_key in r.update for r in records)
    assert [r.episode_length for r in records if r.done] == [6] * 4
    assert all("target_accuracy" in r.info for r in records if r.done)
    entropies = [r.episode_entropy for r in records if r.done]
    # float32 entropies: a near-uniform coordinate may exceed ln 11 in the 7th digit
    assert all(e is not None and len(e) == 7 and all(0 < h <= np.log(11) + 1e-6 for h in e) for e in entropies)
    obs = env.reset(seed=1)[0]
    path = agent.save(tmp_path / name)
    assert path.suffix == ".zip"
    loaded = load_agent(name, path)
    assert type(loaded) is type(agent)
    np.testing.assert_array_equal(agent.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    assert loaded.num_episodes == 4


@pytest.mark.parametrize("name", SB3_AGENTS)
def test_sb3_entropy_logging_leaves_training_unchanged(digits_kwargs: dict, name: str) -> None:
    """The step callback's extra policy forward (for the entropy) neither samples nor moves the LSTM state: the
    agent trains to the same weights as SB3 alone."""
    options = SB3_AGENTS[name][0]
    trained = []
    for through_the_agent in (False, True):
        agent = make_agent(name, gym.make("ASG-Digits-v0", **digits_kwargs), seed=0, **options)
        if through_the_agent:
            agent.learn(18, callback=lambda record: None)
        else:
            agent.model.learn(18, reset_num_timesteps=False)  # no step callback of ours
        trained.append(agent.model.policy.state_dict())
    assert trained[0].keys() == trained[1].keys()
    for key in trained[0]:
        torch.testing.assert_close(trained[0][key], trained[1][key], rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("name", SB3_AGENTS)
def test_sb3_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    real = importlib.import_module

    def no_sb3(module: str, *args: Any) -> Any:
        if module.startswith(("stable_baselines3", "sb3_contrib")):
            raise ImportError(f"No module named {module!r}")
        return real(module, *args)

    monkeypatch.setattr(importlib, "import_module", no_sb3)
    with pytest.raises(ImportError, match=r"pip install -e \.\[sb3\]"):
        make_agent(name, ToyLREnv())
