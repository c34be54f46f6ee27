"""REINFORCE from K rollout slots in lockstep (``agents.rollouts``), on the toy LR env, without Ray.

K = 1 must stay the paper's algorithm: it is checked against :func:`reference_learn`, a verbatim copy of the
single-env loop of ``ReinforceLSTMAgent`` before rollout slots existed (the same actions bit for bit, the same
weights up to float32 rounding, which on some CPUs differs in the last bit between the two code paths' shapes).
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import LocalRollouts, ReinforceLSTMAgent
from agents.reinforce_lstm import discounted_returns
from asg_benchmark import BenchmarkError
from asg_gym.checkpoint import load_checkpoint
from asg_gym.spaces import NUM_SCALAR_FEATURES, NUM_SCALES
from tests import commands
from tests.toy_lr_env import Recorder, ToyLREnv


def reference_learn(agent: ReinforceLSTMAgent, env: ToyLREnv, steps: int) -> None:
    """Algorithm 1 as the single-env agent ran it: sample, step, update every U steps and at episode end."""
    policy, U = agent.policy, agent.unroll_length
    num_episodes, observation, hidden = 0, None, policy.initial_state(1)
    start, inputs, actions, rewards = hidden, [], [], []
    for _ in range(steps):
        if observation is None:
            observation = np.asarray(env.reset(seed=agent.seed + num_episodes)[0], dtype=np.float32)
            hidden = policy.initial_state(1)
        if not actions:
            start = hidden
        features = observation[None].astype(np.float64)
        if agent.normalizer is not None:
            for row in features:
                agent.normalizer.update(row[:NUM_SCALAR_FEATURES])
            features[:, :NUM_SCALAR_FEATURES] = agent.normalizer(features[:, :NUM_SCALAR_FEATURES])
        x = torch.as_tensor(features, dtype=torch.float32)
        with torch.no_grad():
            logits, hidden = policy(x[None], hidden)
            probs = torch.softmax(logits[0], dim=-1).reshape(-1, NUM_SCALES)
            action = torch.multinomial(probs, 1, generator=agent.generator).reshape(logits.shape[1:-1]).numpy()[0]
        observation, reward, terminated, truncated, _ = env.step(action)
        observation = np.asarray(observation, dtype=np.float32)
        inputs.append(x[0])
        actions.append(action)
        rewards.append(float(reward))
        done = bool(terminated or truncated)
        if done or len(actions) == U:
            logits, _ = policy(torch.stack(inputs)[:, None], start)
            log_prob = policy.log_prob(logits, torch.as_tensor(np.stack(actions), dtype=torch.int64)[:, None])[:, 0]
            loss = -(discounted_returns(rewards, agent.gamma) * log_prob).sum() / U
            agent.optimizer.zero_grad()
            loss.backward()
            agent.optimizer.step()
            inputs, actions, rewards = [], [], []
        if done:
            num_episodes += 1
            observation = None


def parameters(agent: ReinforceLSTMAgent) -> list[torch.Tensor]:
    return [p.detach().clone() for p in agent.policy.parameters()]


@pytest.mark.parametrize("slots", ["env", "rollouts"])
def test_one_slot_is_the_plain_algorithm(slots: str) -> None:
    options = {"seed": 5, "normalize_observations": True, "gamma": 0.9, "unroll_length": 3}
    make = lambda: Recorder(ToyLREnv(episode_length=10, diverge_at=4))  # noqa: E731  (episodes of 4 steps)
    env, reference_env = make(), make()
    agent = ReinforceLSTMAgent(env if slots == "env" else LocalRollouts([env]), **options)
    reference = ReinforceLSTMAgent(num_coordinates=3, **options)
    agent.learn(23)
    reference_learn(reference, reference_env, 23)
    np.testing.assert_array_equal(np.stack(env.actions), np.stack(reference_env.actions))
    assert env.unwrapped.reset_seeds == reference_env.unwrapped.reset_seeds == [5, 6, 7, 8, 9, 10]
    assert agent.num_updates == 11
    # Same actions bit for bit (above); the weights equal up to float32 rounding: the agent batches over slots, and
    # on some CPUs (AMD EPYC) the batched kernels round the last bit differently from the reference's shapes.
    for p, q in zip(parameters(agent), parameters(reference), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
    assert not all(torch.equal(p, q) for p, q in
                   zip(parameters(agent), parameters(ReinforceLSTMAgent(num_coordinates=3, **options)), strict=True))


def test_two_local_slots_update_with_the_mean_over_slots() -> None:
    """After U = 5 lockstep steps: one SGD step on -(1/(U·K)) Σ_k Σ_t r_{k,t} log π(a_{k,t} | s_{k,t})."""
    envs = [Recorder(ToyLREnv(episode_length=50)) for _ in range(2)]
    agent = ReinforceLSTMAgent(LocalRollouts(envs), learning_rate=0.1, momentum=0.0, seed=4)
    before = copy.deepcopy(agent.policy)
    records = []
    agent.learn(10, callback=records.append)
    assert agent.num_updates == 1 and agent.num_timesteps == 10 and len(records) == 10
    assert [r.num_timesteps for r in records] == list(range(1, 11))
    assert [r.update is not None for r in records] == [False] * 9 + [True]  # with the step that completed it
    losses = []
    for k, env in enumerate(envs):  # slot k's episode has seed 4 + k; replay it for the observations it saw
        obs, _ = env.unwrapped.reset(seed=4 + k)
        observations = [obs] + [env.unwrapped.step(action)[0] for action in env.actions[:-1]]
        logits, _ = before(torch.as_tensor(np.stack(observations))[:, None], before.initial_state(1))
        log_prob = before.log_prob(logits, torch.as_tensor(np.stack(env.actions))[:, None])[:, 0]
        losses.append(-(torch.tensor(env.rewards, dtype=torch.float32) * log_prob).sum() / 5)
    loss = (losses[0] + losses[1]) / 2
    loss.backward()
    for p_before, p_after in zip(before.parameters(), agent.policy.parameters(), strict=True):
        torch.testing.assert_close(p_after, (p_before - 0.1 * p_before.grad).detach())
    stats = records[-1].update
    assert stats is not None
    torch.testing.assert_close(stats["losses/policy_loss"], loss.item())
    per_coordinate = [stats[f"losses/entropy_{c}"] for c in range(3)]
    assert all(0 < e <= np.log(11) + 1e-6 for e in per_coordinate)
    assert sum(per_coordinate) == pytest.approx(stats["losses/entropy"], rel=1e-5)


def test_a_slot_whose_episode_ends_starts_the_next_while_the_other_goes_on() -> None:
    envs = [ToyLREnv(episode_length=10), ToyLREnv(episode_length=10, diverge_at=4)]
    agent = ReinforceLSTMAgent(LocalRollouts(envs), seed=100)
    records = []
    agent.learn(20, callback=records.append)
    # Seeds seed + k in the order episodes start: both slots at step 1, slot 1 again at steps 5 and 9.
    assert envs[0].reset_seeds == [100] and envs[1].reset_seeds == [101, 102, 103]
    ends = [(r.num_timesteps, r.episode_length) for r in records if r.done]
    assert ends == [(8, 4), (16, 4), (19, 10)]  # lockstep step t: records 2t - 1 (slot 0) and 2t (slot 1)
    assert agent.num_episodes == 3 and agent.num_started == 4 and agent.episode_timesteps == 0  # slot 0: none yet
    assert agent.num_updates == 3  # an update whenever an episode ends (steps 4, 8, 10): never a full U = 5


def test_two_slots_resume_exactly(tmp_path: Path) -> None:
    def rollouts() -> LocalRollouts:
        return LocalRollouts([ToyLREnv(episode_length=10), ToyLREnv(episode_length=10, diverge_at=4)])

    agent = ReinforceLSTMAgent(rollouts(), seed=7, normalize_observations=True).learn(26)  # mid-episode, mid-unroll
    path = agent.save(tmp_path / "agent.pt")
    payload = load_checkpoint(path, "reinforce_lstm")
    assert "episode" not in payload and [len(e["actions"]) for e in payload["episodes"]] == [3, 1]
    agent.learn(18)
    loaded = ReinforceLSTMAgent.load(path, env=rollouts()).learn(18)
    assert (loaded.num_timesteps, loaded.num_episodes, loaded.num_updates, loaded.num_started) == \
        (agent.num_timesteps, agent.num_episodes, agent.num_updates, agent.num_started)
    for p, q in zip(parameters(agent), parameters(loaded), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="2 rollout slots with episodes in progress"):
        ReinforceLSTMAgent.load(path, env=ToyLREnv()).learn(1)


def test_train_policy_with_two_local_workers(tmp_path: Path, digits_kwargs: dict) -> None:
    common = ["--env-kwargs", json.dumps(digits_kwargs), "--seed", "3", "--workers", "2", "--no-tensorboard",
              "--no-progress", "--out", str(tmp_path / "run")]
    agent = ReinforceLSTMAgent.load(commands.train([*common, "--episodes", "2"]))
    assert (agent.num_episodes, agent.num_timesteps, agent.num_updates) == (2, 12, 2)  # 6 lockstep steps, U = 5
    resumed = ReinforceLSTMAgent.load(commands.train([*common, "--episodes", "3", "--resume"]))
    assert resumed.num_episodes == 4  # the two slots' episodes end together: both are recorded
    rows = list(csv.DictReader((tmp_path / "run" / "episodes.csv").open()))
    assert [r["episode"] for r in rows] == ["0", "1", "2", "3"]
    with pytest.raises(BenchmarkError, match="workers"):
        commands.train([*common, "--episodes", "5", "--resume", "--workers", "1"])


def test_train_policy_gives_sb3_agents_a_vector_env(tmp_path: Path, digits_kwargs: dict) -> None:
    pytest.importorskip("stable_baselines3")
    commands.train(["--agent", "ppo", "--workers", "2", "--episodes", "4", "--env-kwargs", json.dumps(digits_kwargs),
                       "--agent-kwargs", '{"n_steps": 6, "batch_size": 6}', "--no-tensorboard", "--no-progress",
                       "--out", str(tmp_path / "run")])
    rows = list(csv.DictReader((tmp_path / "run" / "episodes.csv").open()))
    # Two envs side by side: their 6-step episodes end at the same vector step, env steps 11-12 and 23-24.
    assert [(r["episode"], r["num_timesteps"], r["length"]) for r in rows] == \
        [("0", "11", "6"), ("1", "12", "6"), ("2", "23", "6"), ("3", "24", "6")]
