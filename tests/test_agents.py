"""Agents: the paper's REINFORCE-LSTM controller, baselines, SB3 agents, and the training scripts."""

from __future__ import annotations

import copy
import csv
import importlib
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from agents import (
    AGENT_NAMES, A2CAgent, ConstantPolicy, PPOAgent, RandomInitPolicy, RandomPolicy, RecurrentPPOAgent,
    ReinforceLSTMAgent, ReinforceLSTMPolicy, load_pretrained, make_agent,
)
from agents.reinforce_lstm import discounted_returns
from asg_gym.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from experiments import benchmark_agents, train_policy
from tests.toy_lr_env import ToyLREnv


def target_probabilities(agent: ReinforceLSTMAgent, env: ToyLREnv) -> np.ndarray:
    """π(target_c) per coordinate at the first state of an episode."""
    obs, _ = env.reset(seed=12345)
    with torch.no_grad():
        logits, _ = agent.policy(torch.as_tensor(obs)[None, None], agent.policy.initial_state(1))
    probs = torch.softmax(logits[0, 0], dim=-1).numpy()
    return probs[np.arange(len(env.targets)), env.targets]


class Recorder(gym.Wrapper):
    """Records the actions and rewards of every step; raises KeyboardInterrupt at step ``kill_at``."""

    def __init__(self, env: gym.Env, kill_at: int | None = None) -> None:
        super().__init__(env)
        self.kill_at, self.actions, self.rewards = kill_at, [], []

    def step(self, action: Any) -> Any:
        if self.kill_at is not None and len(self.actions) + 1 == self.kill_at:
            raise KeyboardInterrupt("simulated kill")
        result = self.env.step(action)
        self.actions.append(np.asarray(action).copy())
        self.rewards.append(result[1])
        return result


# ----------------------------------------------------------------------------- the policy
def test_architecture_parameter_counts_follow_the_paper() -> None:
    c, hidden, features, scales = 7, 20, 5, 11
    agent = ReinforceLSTMAgent(num_coordinates=c, seed=0)
    policy = agent.policy
    assert len(policy.encoders) == features and len(policy.heads) == c
    for lstm in policy.encoders:  # single-layer LSTMs, stepped one time step at a time
        assert isinstance(lstm, torch.nn.LSTMCell) and (lstm.input_size, lstm.hidden_size) == (1, hidden)
    # One LSTM: 4 gates × (input weights + recurrent weights + two biases).
    per_lstm = 4 * hidden * 1 + 4 * hidden * hidden + 2 * 4 * hidden
    per_head = (features * hidden + 1) * scales + scales  # 101 → 11
    assert per_lstm == 1840 and per_head == 1122
    assert sum(p.numel() for p in policy.encoders.parameters()) == features * per_lstm
    assert all(sum(p.numel() for p in head.parameters()) == per_head for head in policy.heads)
    assert sum(p.numel() for p in policy.parameters()) == features * per_lstm + c * per_head
    # Small-gain heads: the untrained policy is nearly uniform over the 11 scales.
    probs = torch.softmax(policy(torch.rand(1, 1, features + c), policy.initial_state(1))[0], dim=-1)
    assert torch.allclose(probs, torch.full_like(probs, 1 / scales), atol=0.01)


def test_joint_log_prob_is_the_sum_over_coordinates() -> None:
    policy = ReinforceLSTMPolicy(num_coordinates=2, generator=torch.Generator().manual_seed(1), head_gain=1.0)
    logits, _ = policy(torch.randn(3, 1, 7, generator=torch.Generator().manual_seed(2)), policy.initial_state(1))
    every_action = torch.cartesian_prod(torch.arange(11), torch.arange(11))  # all 121 joint actions
    for t in range(3):
        joint = policy.log_prob(logits[t, 0].expand(121, 2, 11), every_action)
        marginals = [torch.distributions.Categorical(logits=logits[t, 0, c]).log_prob(every_action[:, c])
                     for c in range(2)]
        torch.testing.assert_close(joint, marginals[0] + marginals[1])
        torch.testing.assert_close(joint.exp().sum(), torch.tensor(1.0))  # a proper joint distribution
    entropy = policy.entropy(logits[0, 0])
    expected = sum(torch.distributions.Categorical(logits=logits[0, 0, c]).entropy() for c in range(2))
    torch.testing.assert_close(entropy, expected)


def test_discounted_returns_stay_within_the_unroll() -> None:
    torch.testing.assert_close(discounted_returns([1.0, 1.0, 1.0], 0.5), torch.tensor([1.75, 1.5, 1.0]))
    torch.testing.assert_close(discounted_returns([0.3, -0.2], 0.0), torch.tensor([0.3, -0.2]))


def test_update_is_eq7_sgd_step() -> None:
    """One unroll of U = 5 steps moves θ by -lr ∇(-(1/U) Σ r_t log π(a_t|s_t)), from h_0 = 0."""
    env = Recorder(ToyLREnv(episode_length=50))
    agent = ReinforceLSTMAgent(env, learning_rate=0.1, momentum=0.0, seed=4)
    before = copy.deepcopy(agent.policy)
    agent.learn(5)
    assert agent.num_updates == 1
    obs, _ = env.unwrapped.reset(seed=4)  # the observations the agent saw: replay the recorded actions
    observations = [obs]
    for action in env.actions[:-1]:
        observations.append(env.unwrapped.step(action)[0])
    logits, _ = before(torch.as_tensor(np.stack(observations))[:, None], before.initial_state(1))
    log_softmax = torch.log_softmax(logits[:, 0], dim=-1)
    actions = torch.as_tensor(np.stack(env.actions))
    log_prob = sum(log_softmax[:, c].gather(1, actions[:, c:c + 1])[:, 0] for c in range(3))
    loss = -(torch.tensor(env.rewards, dtype=torch.float32) * log_prob).sum() / 5
    loss.backward()
    for p_before, p_after in zip(before.parameters(), agent.policy.parameters()):
        torch.testing.assert_close(p_after, (p_before - 0.1 * p_before.grad).detach())


def test_reinforce_learns_the_best_scale_per_coordinate() -> None:
    """A context-free task where target_c is best: π(target_c) must rise far above chance (1/11)."""
    env = ToyLREnv(targets=(2, 8, 5), reward_scale=0.1, noise=0.01)
    agent = ReinforceLSTMAgent(env, seed=1)  # the paper's settings: lr 0.5, momentum 0.9, U = 5
    assert np.allclose(target_probabilities(agent, env), 1 / 11, atol=0.01)
    agent.learn(800)
    probs = target_probabilities(agent, env)
    assert probs.mean() > 0.3, probs  # > 3× chance
    assert (agent.predict(env.reset(seed=7)[0], deterministic=True)[0] == env.targets).sum() >= 2


def test_episodes_use_derived_seeds_and_divergence_ends_them() -> None:
    env = ToyLREnv(episode_length=10, diverge_at=4)
    agent = ReinforceLSTMAgent(env, seed=100)
    records = []
    agent.learn(10, callback=records.append)
    assert env.reset_seeds == [100, 101, 102]  # episode k is reset with seed + k
    assert [r.done for r in records].count(True) == agent.num_episodes == 2
    # A diverged episode still updates π on its (shorter) last unroll, with the crash penalty.
    assert agent.num_updates == 2 and records[3].update is not None and records[3].reward == -10.0
    assert agent.episode_timesteps == 2
    stopped = ReinforceLSTMAgent(env, seed=100).learn(10, callback=lambda r: not r.done)
    assert stopped.num_timesteps == 4


def test_wrong_inputs_raise_clear_errors() -> None:
    class WrongLayout(ToyLREnv):
        def __init__(self) -> None:
            super().__init__()
            self.observation_space = spaces.Box(-1, 1, shape=(4 + 3,), dtype=np.float32)

    for name in ("reinforce_lstm", "hand_tuned", "ppo"):
        with pytest.raises(ValueError, match=r"Box\(5 \+ C,\)"):
            make_agent(name, WrongLayout())
    with pytest.raises(ValueError, match="MultiDiscrete"):
        make_agent("random", gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="unknown agent"):
        make_agent("sac", ToyLREnv())
    with pytest.raises(ValueError, match="num_coordinates"):
        ReinforceLSTMAgent(ToyLREnv(), num_coordinates=7)
    with pytest.raises(ValueError, match="unroll_length"):
        ReinforceLSTMAgent(ToyLREnv(), unroll_length=0)
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        ReinforceLSTMAgent(ToyLREnv()).predict(np.zeros(7))
    with pytest.raises(ValueError, match="no env"):
        ReinforceLSTMAgent(num_coordinates=3).learn(1)


# ------------------------------------------------------------------------------ checkpoints
def test_save_load_gives_identical_actions(tmp_path: Path) -> None:
    env = ToyLREnv()
    agent = ReinforceLSTMAgent(env, seed=5, normalize_observations=True).learn(13)  # mid-episode, mid-unroll
    path = agent.save(tmp_path / "agent.pt")
    loaded = ReinforceLSTMAgent.load(path)
    for p, q in zip(agent.policy.parameters(), loaded.policy.parameters()):
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
    for p, q in zip(agent.policy.parameters(), loaded.policy.parameters()):
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
    import agents

    monkeypatch.setattr(agents, "POLICIES", tmp_path / "agents" / "policies")
    with pytest.raises(FileNotFoundError, match="experiments.train_policy"):
        load_pretrained("ASG-Digits-v0")
    with pytest.raises(ValueError, match="no pretrained policy"):
        load_pretrained("CartPole-v1")
    ReinforceLSTMAgent(num_coordinates=7, seed=0).save(tmp_path / "agents" / "policies" / "reinforce_lstm_digits.pt")
    assert isinstance(load_pretrained(), ReinforceLSTMAgent)


def test_kill_and_resume_reproduces_the_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          tiny_kwargs: dict) -> None:
    # 6-step episodes, U = 5: updates after steps 5, 6, 11, 12; a checkpoint after each.
    common = ["--env-kwargs", json.dumps(tiny_kwargs), "--episodes", "2", "--seed", "3", "--checkpoint-every", "1",
              "--no-tensorboard", "--no-progress"]
    full = train_policy.main([*common, "--out", str(tmp_path / "full")])
    make_env = train_policy.make_env
    monkeypatch.setattr(train_policy, "make_env", lambda env_id, kwargs: Recorder(make_env(env_id, kwargs), 6))
    with pytest.raises(KeyboardInterrupt):
        train_policy.main([*common, "--out", str(tmp_path / "cut")])
    monkeypatch.undo()
    last = load_checkpoint(tmp_path / "cut" / "checkpoint.pt", "reinforce_lstm")
    assert last["counters"]["num_timesteps"] == 5 and len(last["episode"]["actions"]) == 5  # mid-episode
    with pytest.raises(SystemExit, match="--resume"):
        train_policy.main([*common, "--out", str(tmp_path / "cut")])
    resumed = train_policy.main([*common, "--out", str(tmp_path / "cut"), "--resume"])

    a, b = ReinforceLSTMAgent.load(full), ReinforceLSTMAgent.load(resumed)
    assert (a.num_timesteps, a.num_updates, a.num_episodes) == (b.num_timesteps, b.num_updates, b.num_episodes) \
        == (12, 4, 2)
    for p, q in zip(a.policy.parameters(), b.policy.parameters()):
        assert torch.equal(p, q)
    for sa, sb in zip(a.optimizer.state_dict()["state"].values(), b.optimizer.state_dict()["state"].values()):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    initial = ReinforceLSTMAgent(num_coordinates=7, seed=3)
    assert not all(torch.equal(p, q) for p, q in zip(a.policy.parameters(), initial.policy.parameters()))
    rows = [list(csv.DictReader((tmp_path / run / "episodes.csv").open())) for run in ("full", "cut")]
    assert rows[0] == rows[1] and len(rows[0]) == 2


# ----------------------------------------------------------------------------- baselines
def test_constant_presets_and_random_init_policy() -> None:
    obs = np.zeros(12, dtype=np.float32)
    expected = {"all_large": [10] * 7, "hand_tuned": [1] * 6 + [10], "head_only": [0] * 6 + [10]}
    for name, action in expected.items():
        policy = ConstantPolicy(name, num_coordinates=7)
        np.testing.assert_array_equal(policy.predict(obs)[0], action)
        np.testing.assert_array_equal(policy.predict(np.zeros((3, 12)))[0], [action] * 3)
    random_init = RandomInitPolicy(num_coordinates=7, seed=0)
    first, state = random_init.predict(obs, None, np.array([True]))
    for _ in range(5):  # held within the episode
        action, state = random_init.predict(obs, state, None)
        np.testing.assert_array_equal(action, first)
    redraws = [random_init.predict(obs, state, np.array([True]))[0] for _ in range(3)]
    assert any(not np.array_equal(r, first) for r in redraws)
    draws = np.stack([RandomPolicy(7, seed=0).predict(obs)[0] for _ in range(2)] +
                     [RandomPolicy(7, seed=1).predict(obs)[0]])
    assert np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[0], draws[2])
    assert draws.min() >= 0 and draws.max() <= 10


def test_make_agent_knows_every_name() -> None:
    env = ToyLREnv()
    kinds = {"reinforce_lstm": ReinforceLSTMAgent, "ppo": PPOAgent, "a2c": A2CAgent,
             "recurrent_ppo": RecurrentPPOAgent, "all_large": ConstantPolicy, "hand_tuned": ConstantPolicy,
             "head_only": ConstantPolicy, "random": RandomPolicy, "random_init": RandomInitPolicy}
    assert set(kinds) == set(AGENT_NAMES)
    for name, kind in kinds.items():
        agent = make_agent(name, env, seed=0)
        assert isinstance(agent, kind)
        action, _ = agent.predict(env.reset(seed=0)[0], episode_start=np.array([True]))
        assert env.action_space.contains(np.asarray(action, dtype=np.int64)), name


# ------------------------------------------------------------------------------------ SB3
def test_sb3_ppo_trains_on_the_toy_asg_env(tmp_path: Path, tiny_kwargs: dict) -> None:
    env = gym.make("ASG-Digits-v0", **tiny_kwargs)
    agent = make_agent("ppo", env, seed=0, n_steps=12, batch_size=12)
    records = []
    agent.learn(24, callback=records.append)
    assert agent.num_timesteps == 24 and agent.num_episodes == 4
    assert any(r.update and "losses/policy_gradient_loss" in r.update for r in records)
    assert [r.episode_length for r in records if r.done] == [6] * 4
    assert all("target_accuracy" in r.info for r in records if r.done)
    obs = env.reset(seed=1)[0]
    path = agent.save(tmp_path / "ppo")
    assert path.suffix == ".zip"
    loaded = PPOAgent.load(path)
    np.testing.assert_array_equal(agent.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    assert loaded.num_episodes == 4


def test_sb3_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def no_sb3(name: str, *args: Any) -> Any:
        if name.startswith(("stable_baselines3", "sb3_contrib")):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_sb3)
    with pytest.raises(ImportError, match=r"pip install -e \.\[sb3\]"):
        make_agent("recurrent_ppo", ToyLREnv())


# -------------------------------------------------------------------------------- scripts
def test_train_policy_smoke(tmp_path: Path, tiny_kwargs: dict) -> None:
    save = tmp_path / "policy" / "final.pt"
    path = train_policy.main(["--env-kwargs", json.dumps(tiny_kwargs), "--episodes", "2", "--out",
                              str(tmp_path / "run"), "--save", str(save), "--no-progress",
                              "--agent-kwargs", '{"gamma": 0.9, "max_grad_norm": 1.0}'])
    assert path == save
    agent = ReinforceLSTMAgent.load(save)
    assert agent.num_episodes == 2 and agent.config["gamma"] == 0.9
    assert list((tmp_path / "run" / "tb").glob("events.out.tfevents.*"))
    assert (tmp_path / "run" / "provenance.json").exists()
    with pytest.raises(SystemExit, match="settings changed"):
        train_policy.main(["--env-kwargs", json.dumps(tiny_kwargs), "--episodes", "3", "--out",
                           str(tmp_path / "run"), "--resume", "--seed", "9", "--no-progress"])


def test_benchmark_agents_quick(tmp_path: Path) -> None:
    names = ["reinforce_lstm", "a2c", "hand_tuned", "random_init"]
    argv = ["--quick", "--out", str(tmp_path), "--agents", *names]
    benchmark_agents.main(argv)
    rows = list(csv.DictReader((tmp_path / "benchmark.csv").open()))
    assert [r["agent"] for r in rows] == names
    assert {int(r["train_env_steps"]) for r in rows if r["agent"] in ("hand_tuned", "random_init")} == {0}
    assert int(rows[0]["train_env_steps"]) == 6  # one 6-step training episode
    assert all(0 <= float(r["target_accuracy"]) <= 1 for r in rows)
    table = (tmp_path / "benchmark.md").read_text()
    assert all(f"| {name} | 1 |" in table for name in names)
    assert (tmp_path / "benchmark.png").stat().st_size > 10_000
    benchmark_agents.main(argv)  # resumable: finished rows are skipped, not repeated
    assert len(list(csv.DictReader((tmp_path / "benchmark.csv").open()))) == len(names)
