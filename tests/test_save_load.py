"""Saving and loading agents: every learning agent acts the same after a round trip; REINFORCE resumes bitwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agents import LEARNING_AGENTS, ReinforceLSTMAgent, load_agent, load_pretrained, make_agent
from asg_gym.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from tests.toy_lr_env import ToyLREnv

# Small rollouts, so that every agent updates within 13 steps of the toy env.
OPTIONS = {"reinforce_lstm": {"normalize_observations": True}, "ppo": {"n_steps": 8, "batch_size": 8},
           "a2c": {"n_steps": 4}, "recurrent_ppo": {"n_steps": 8, "batch_size": 8}}


def test_options_cover_every_learning_agent() -> None:
    assert set(OPTIONS) == set(LEARNING_AGENTS)


@pytest.mark.parametrize("name", LEARNING_AGENTS)
def test_save_load_gives_identical_deterministic_actions(tmp_path: Path, name: str) -> None:
    agent = make_agent(name, ToyLREnv(), seed=5, **OPTIONS[name]).learn(13)
    path = agent.save(tmp_path / "agent")
    assert path.is_file()
    loaded = load_agent(name, path)
    assert type(loaded) is type(agent)
    assert (loaded.num_timesteps, loaded.num_episodes) == (agent.num_timesteps, agent.num_episodes)
    obs = np.stack([ToyLREnv().reset(seed=s)[0] for s in range(4)])
    actions, _ = agent.predict(obs, deterministic=True)
    np.testing.assert_array_equal(actions, loaded.predict(obs, deterministic=True)[0])
    assert actions.shape == (4, 3)
    np.testing.assert_array_equal(agent.predict(obs[0], deterministic=True)[0],
                                  loaded.predict(obs[0], deterministic=True)[0])


def test_load_agent_refuses_agents_that_do_not_learn(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only learning agents are saved"):
        load_agent("hand_tuned", tmp_path / "agent.pt")


def test_reinforce_save_load_gives_identical_actions_and_training(tmp_path: Path) -> None:
    env = ToyLREnv()
    agent = ReinforceLSTMAgent(env, seed=5, normalize_observations=True).learn(13)  # mid-episode, mid-unroll
    path = agent.save(tmp_path / "agent.pt")
    loaded = ReinforceLSTMAgent.load(path)
    for p, q in zip(agent.policy.parameters(), loaded.policy.parameters(), strict=True):
        assert torch.equal(p, q)
    obs = np.stack([ToyLREnv().reset(seed=s)[0] for s in range(4)])
    for deterministic in (True, False):  # stochastic too: the generator state is saved
        state_a = state_b = None
        for _ in range(3):
            action_a, state_a = agent.predict(obs, state_a, deterministic=deterministic)
            action_b, state_b = loaded.predict(obs, state_b, deterministic=deterministic)
            np.testing.assert_array_equal(action_a, action_b)
            np.testing.assert_array_equal(state_a[0], state_b[0])
    assert action_a.shape == (4, 3) and agent.predict(obs[0], deterministic=True)[0].shape == (3,)
    # The same training continues identically after a load (the episode in progress is replayed).
    agent.learn(9)
    loaded.env = ToyLREnv()
    loaded.learn(9)
    for p, q in zip(agent.policy.parameters(), loaded.policy.parameters(), strict=True):
        assert torch.equal(p, q)


def _mark_unpickled() -> list:
    UNPICKLED.append(True)
    return UNPICKLED


UNPICKLED: list = []


class Smuggled:
    """Unpickling this runs ``_mark_unpickled``: what ``weights_only=True`` must refuse."""

    def __reduce__(self) -> tuple:
        return (_mark_unpickled, ())


def test_loading_uses_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "kind": "reinforce_lstm", "payload": {"config": Smuggled()}}, path)
    with pytest.raises(ValueError, match="not a readable"):
        ReinforceLSTMAgent.load(path)
    assert UNPICKLED == []
    save_checkpoint(tmp_path / "other.pt", "train_transfer", {})
    with pytest.raises(ValueError, match="expected 'reinforce_lstm'"):
        ReinforceLSTMAgent.load(tmp_path / "other.pt")
    # The checkpoint of a real agent loads with weights_only (no pickled objects in it).
    ReinforceLSTMAgent(num_coordinates=2, seed=0).save(tmp_path / "ok.pt")
    assert load_checkpoint(tmp_path / "ok.pt", "reinforce_lstm")["config"]["num_coordinates"] == 2


def test_load_pretrained_names_the_training_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import agents.pretrained

    monkeypatch.setattr(agents.pretrained, "POLICIES", tmp_path / "agents" / "policies")
    with pytest.raises(FileNotFoundError, match=r"asg-benchmark train"):
        load_pretrained("ASG-Digits-v0")
    with pytest.raises(ValueError, match="no pretrained policy"):
        load_pretrained("CartPole-v1")
    ReinforceLSTMAgent(num_coordinates=7, seed=0).save(tmp_path / "agents" / "policies" / "reinforce_lstm_digits.pt")
    assert isinstance(load_pretrained(), ReinforceLSTMAgent)
