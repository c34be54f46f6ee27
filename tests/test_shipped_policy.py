"""The trained REINFORCE-LSTM policy shipped in the package loads and acts on ASG-Digits-v0."""

from __future__ import annotations

import configparser
from fnmatch import fnmatch
from pathlib import Path

import gymnasium as gym
import numpy as np

from agents import POLICIES, ReinforceLSTMAgent, load_pretrained, pretrained_deterministic, pretrained_env_kwargs

REPO = Path(__file__).resolve().parents[1]


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


def test_every_shipped_policy_file_goes_into_the_wheel():
    """The policies and their cards (the env keywords to deploy them with) are package data of ``agents``:
    an installed package without the card would deploy the policy on the wrong decision window."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["agents"].split(",")]
    shipped = sorted(f.relative_to(REPO / "agents").as_posix() for f in POLICIES.iterdir() if f.is_file())
    assert "policies/reinforce_lstm_digits.json" in shipped
    assert [f for f in shipped if not any(fnmatch(f, p) for p in patterns)] == []


def test_shipped_policy_card_names_the_env_it_was_trained_on(digits_kwargs):
    # The card's keywords are the ones it must be deployed with; the current policy decides every 10 SGD steps.
    kwargs = pretrained_env_kwargs("ASG-Digits-v0")
    assert kwargs["sgd_steps_per_action"] == 10
    env = gym.make("ASG-Digits-v0", **{**digits_kwargs, **kwargs})
    assert env.unwrapped.sgd_steps_per_episode == 300  # the env's 300 SGD steps, in 30 decisions
    assert pretrained_deterministic("ASG-Digits-v0")  # it was chosen and confirmed greedy: deploy it so
