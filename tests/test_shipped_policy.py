"""The trained REINFORCE-LSTM policy shipped in the package loads and acts on ASG-Digits-v0."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from agents import POLICIES, ReinforceLSTMAgent, load_pretrained


def test_shipped_policy_loads_and_acts_deterministically(digits_kwargs):
    assert (POLICIES / "reinforce_lstm_digits.pt").is_file(), "the package must ship the trained policy"
    agent = load_pretrained("ASG-Digits-v0")
    assert isinstance(agent, ReinforceLSTMAgent) and agent.num_updates > 0  # it was trained
    env = gym.make("ASG-Digits-v0", **digits_kwargs)
    obs, _ = env.reset(seed=0)
    first, state = agent.predict(obs, deterministic=True)
    again, _ = load_pretrained("ASG-Digits-v0").predict(obs, deterministic=True)
    assert env.action_space.contains(first) and np.array_equal(first, again)
    obs, *_ = env.step(first)
    second, _ = agent.predict(obs, state=state, deterministic=True)
    assert env.action_space.contains(second)
