"""The protocol runner end to end on a cheap scored env: cells, greedy rows, budget, resume, reproducibility."""

from __future__ import annotations

import csv
import json
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium.envs.registration import register, registry

from asg_benchmark import BenchmarkSpec, Job, JobRunner, Record, read_episodes, read_rows, run_benchmark
from asg_benchmark.episode import run_episode
from asg_benchmark.provenance import machine
from tests.toy_lr_env import ToyLREnv

ENV_ID = "AsgBenchmarkScoredToy-v0"


class ScoredToyEnv(ToyLREnv):
    """ToyLREnv with the ASG env's end-of-episode evaluation in ``info`` (a score that rewards the targets)."""

    target_metric = "target_accuracy"

    def __init__(self, episode_length: int = 4, eval_every: int = 0, eval_size: int = 0) -> None:
        super().__init__(episode_length=episode_length)
        self.total_steps = episode_length

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = super().step(action)
        info = {**info, "loss": 1.0, "sgd_step": self._t}
        if terminated or truncated:
            info.update(target_accuracy=float(1 - info["distance"]), old_task_agreement=0.5)
        return obs, reward, terminated, truncated, info


if ENV_ID not in registry:
    register(id=ENV_ID, entry_point=f"{__name__}:ScoredToyEnv")


def _spec(agents: tuple[str, ...], eval_seeds: tuple[int, ...]) -> BenchmarkSpec:
    return BenchmarkSpec(env=ENV_ID, agents=agents, train_seeds=(0, 1), eval_seeds=eval_seeds, budget=10, draws=2,
                         allow_few_seeds=True)


def _rows(folder: Path) -> dict[tuple[str, ...], tuple[str, str, str]]:
    with (folder / "results.csv").open(newline="") as f:
        return {(r["agent"], r["train_seed"], r["eval_seed"], r["draw"]): (r["target_score"], r["episode_return"],
                                                                            r["train_env_steps"])
                for r in csv.DictReader(f)}


def test_runner_cells_resume_and_reproducibility(tmp_path: Path) -> None:
    agents = ("hand_tuned", "random", "reinforce_lstm")
    full = run_benchmark(_spec(agents, (100, 101, 102)), tmp_path / "full", log=None, report=False)
    rows = _rows(tmp_path / "full")
    # hand_tuned: unseeded, 1 draw; random: 2 seeds × 2 draws; reinforce_lstm: the same plus greedy rows.
    assert full.cells_written == len(rows) == 3 + 12 + 12 + 6
    assert {k[0] for k in rows} == {"hand_tuned", "random", "reinforce_lstm", "reinforce_lstm/greedy"}
    assert rows[("reinforce_lstm", "1", "102", "1")][2] == "10" and rows[("random", "0", "100", "0")][2] == "0"
    assert rows[("random", "0", "100", "0")] != rows[("random", "0", "100", "1")]  # draws sample anew
    assert {r["machine"] for r in read_rows(tmp_path / "full")} == {machine()}  # episodes pair within one machine
    episodes = read_episodes(tmp_path / "full")
    assert episodes.keys() == rows.keys() and all(len(e["actions"]) == 4 for e in episodes.values())

    again = run_benchmark(_spec(agents, (100, 101, 102)), tmp_path / "full", log=None, report=False)
    assert again.cells_written == 0 and again.jobs == [] and _rows(tmp_path / "full") == rows

    # In pieces (fewer evaluation seeds first, then all): every cell as in one go.
    run_benchmark(_spec(agents, (101,)), tmp_path / "pieces", log=None, report=False)
    rest = run_benchmark(_spec(agents, (100, 101, 102)), tmp_path / "pieces", log=None, report=False)
    assert rest.cells_written == len(rows) - 11 and _rows(tmp_path / "pieces") == rows


def test_run_episode_threads_state_and_deterministic() -> None:
    seen: list[tuple[bool, Any, bool]] = []

    class Probe:
        def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                    deterministic: bool = False) -> tuple[np.ndarray, Any]:
            seen.append((bool(episode_start[0]), state, deterministic))
            return np.array([2, 8, 5]), len(seen)

    result = run_episode(ScoredToyEnv(episode_length=3), Probe(), seed=5, deterministic=True)
    assert seen == [(True, None, True), (False, 1, True), (False, 2, True)]
    assert result.steps == 3 and result.target_score == 1.0 and result.actions == [[2, 8, 5]] * 3
    assert result.curve == [(3, 1.0, 0.5)] and not result.diverged


def test_map_jobs_runs_pickled_runners_elsewhere(tmp_path: Path) -> None:
    """What a Ray (or any process-pool) caller does: ship the runner and each job, append what comes back."""

    def pickled_map(runner: JobRunner, jobs: Sequence[Job]) -> Iterator[list[Record]]:
        for job in reversed(jobs):  # another order, another process's copy of the runner
            yield pickle.loads(pickle.dumps(runner))(pickle.loads(pickle.dumps(job)))

    agents = ("random", "hand_tuned_cosine")
    run_benchmark(_spec(agents, (100, 101)), tmp_path / "here", log=None, report=False)
    summary = run_benchmark(_spec(agents, (100, 101)), tmp_path / "there", map_jobs=pickled_map, log=None,
                            report=False)
    assert summary.cells_written == 10 and _rows(tmp_path / "there") == _rows(tmp_path / "here")


def test_trained_agents_are_checkpointed_and_not_trained_again(tmp_path: Path, monkeypatch: Any) -> None:
    """A job rerun after its training (e.g. interrupted during evaluation) loads the agent it saved."""
    import shutil

    from agents import ReinforceLSTMAgent, TunedConstantAgent
    from asg_benchmark.errors import AgentError

    agents = ("reinforce_lstm", "tuned_constant", "random")
    run_benchmark(_spec(agents, (100, 101)), tmp_path / "once", log=None, report=False)
    saved = sorted(p.name for p in (tmp_path / "once" / "agents").iterdir())
    assert saved == ["reinforce_lstm-seed0", "reinforce_lstm-seed1", "tuned_constant-seed0", "tuned_constant-seed1"]

    log = list(csv.DictReader((tmp_path / "once" / "agents" / "reinforce_lstm-seed0" / "episodes.csv").open()))
    assert [int(r["length"]) for r in log] == [4, 4]  # finished episodes of the 10-step budget
    assert all(0 < float(r["entropy_2"]) <= np.log(11) + 1e-9 for r in log)

    resumed = tmp_path / "resumed"  # the trained agents, none of the evaluation rows
    shutil.copytree(tmp_path / "once" / "agents", resumed / "agents")

    def no_training(self: Any, total_timesteps: int, **kwargs: Any) -> None:
        raise AssertionError("a checkpointed agent was trained again")

    monkeypatch.setattr(ReinforceLSTMAgent, "learn", no_training)
    monkeypatch.setattr(TunedConstantAgent, "learn", no_training)
    run_benchmark(_spec(agents, (100, 101)), resumed, log=None, report=False)
    assert _rows(resumed) == _rows(tmp_path / "once")  # same scores, and train_env_steps from the checkpoint

    other = BenchmarkSpec(**{**_spec(agents, (100, 101)).__dict__, "agents": ("reinforce_lstm",),
                             "agent_kwargs": {"reinforce_lstm": {"hidden_size": 8}}})
    for name in ("results.db", "results.csv"):
        (resumed / name).unlink()
    with pytest.raises(AgentError, match="trained with other settings"):
        run_benchmark(other, resumed, log=None, report=False)


def test_labelled_variants_of_one_agent(tmp_path: Path) -> None:
    from asg_benchmark.errors import AgentError

    spec = BenchmarkSpec(**{**_spec(("paper=reinforce_lstm", "small=reinforce_lstm", "hand_tuned"), (100,)).__dict__,
                            "agent_kwargs": {"small": {"hidden_size": 4}}})
    run_benchmark(spec, tmp_path, log=None, report=False)
    rows = _rows(tmp_path)
    assert {k[0] for k in rows} == {"paper", "paper/greedy", "small", "small/greedy", "hand_tuned"}
    from agents import ReinforceLSTMAgent

    small = ReinforceLSTMAgent.load(tmp_path / "agents" / "small-seed1" / "agent")
    paper = ReinforceLSTMAgent.load(tmp_path / "agents" / "paper-seed1" / "agent")
    assert (small.config["hidden_size"], paper.config["hidden_size"]) == (4, 20)  # the keywords reached "small"

    no_greedy = BenchmarkSpec(**{**spec.__dict__, "greedy": False})
    run_benchmark(no_greedy, tmp_path / "no_greedy", log=None, report=False)
    assert {k[0] for k in _rows(tmp_path / "no_greedy")} == {"paper", "small", "hand_tuned"}
    for agents, match in [(("ppo=a2c",), "is the name of an agent"), (("x=reinforce_lstm", "x=a2c"), "once"),
                          (("=a2c",), "non-empty"), (("x=",), "label=agent")]:
        with pytest.raises(AgentError, match=match):
            _spec(agents, (100,)).resolve()


def _stop_in_the_third_piece(monkeypatch: Any, agent_class: Any) -> list[int]:
    """Make ``agent_class.learn`` stop the job (KeyboardInterrupt) on its third call; returns the steps asked for."""
    learn, calls = agent_class.learn, []

    def stops_in_the_third_piece(self: Any, total_timesteps: int, **kwargs: Any) -> Any:
        calls.append(total_timesteps)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return learn(self, total_timesteps, **kwargs)

    monkeypatch.setattr(agent_class, "learn", stops_in_the_third_piece)
    return calls


def test_sb3_training_interrupted_resumes_from_its_checkpoint(tmp_path: Path, monkeypatch: Any) -> None:
    """SB3 agents are checkpointed while they train too: a job stopped in training continues from its last
    checkpoint and ends with its budget trained and every row (bit for bit: tests/test_exact_resume.py)."""
    from agents import PPOAgent

    spec = BenchmarkSpec(**{**_spec(("ppo",), (100, 101)).__dict__,
                            "agent_kwargs": {"ppo": {"n_steps": 4, "batch_size": 4}}})
    calls = _stop_in_the_third_piece(monkeypatch, PPOAgent)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(spec, tmp_path, log=None, report=False, checkpoint_every=3)
    partial = tmp_path / "agents" / "ppo-seed0.partial"
    # Pieces of 3 steps, each rounded up to whole rollouts of 4: the checkpoint holds two of them.
    assert calls == [3, 3, 2] and json.loads((partial / "training.json").read_text())["training"][
        "train_env_steps"] == 8
    monkeypatch.undo()
    run_benchmark(spec, tmp_path, log=None, report=False, checkpoint_every=3)

    rows = _rows(tmp_path)
    assert {k[:2] for k in rows} == {(label, seed) for label in ("ppo", "ppo/greedy") for seed in ("0", "1")}
    assert {steps for _, _, steps in rows.values()} == {"12"}  # the budget of 10 in whole rollouts, as uninterrupted
    assert not partial.exists() and (tmp_path / "agents" / "ppo-seed0" / "agent.zip").is_file()


@pytest.mark.parametrize("name", ["reinforce_lstm", "tuned_constant"])
def test_training_interrupted_resumes_to_the_same_agent(name: str, tmp_path: Path, monkeypatch: Any) -> None:
    """Agents that resume exactly are checkpointed while they train; a job stopped in training ends as an
    uninterrupted one."""
    from agents import ReinforceLSTMAgent, TunedConstantAgent

    agent_class: Any = {"reinforce_lstm": ReinforceLSTMAgent, "tuned_constant": TunedConstantAgent}[name]
    spec = _spec((name,), (100, 101))
    run_benchmark(spec, tmp_path / "whole", log=None, report=False)  # one piece (checkpoint_every > budget)

    _stop_in_the_third_piece(monkeypatch, agent_class)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(spec, tmp_path / "cut", log=None, report=False, checkpoint_every=3)
    partial = tmp_path / "cut" / "agents" / f"{name}-seed0.partial"
    steps = json.loads((partial / "training.json").read_text())["training"]["train_env_steps"]
    assert steps == {"reinforce_lstm": 6, "tuned_constant": 4}[name]  # whole 4-step episodes for tuned_constant
    monkeypatch.undo()
    run_benchmark(spec, tmp_path / "cut", log=None, report=False, checkpoint_every=3)

    assert _rows(tmp_path / "cut") == _rows(tmp_path / "whole") and not partial.exists()
    for seed in (0, 1):
        saved = [tmp_path / run / "agents" / f"{name}-seed{seed}" for run in ("whole", "cut")]
        a, b = (agent_class.load(next(folder.glob("agent*")), env=ScoredToyEnv()) for folder in saved)
        if name == "reinforce_lstm":
            assert all(torch.equal(p, q) for p, q in zip(a.policy.parameters(), b.policy.parameters(), strict=True))
        else:
            assert a.trials == b.trials
        assert (saved[0] / "episodes.csv").read_text() == (saved[1] / "episodes.csv").read_text()


@pytest.mark.parametrize("deployment", ["greedy", "sampled"])
def test_a_saved_policy_runs_frozen_as_its_card_says(deployment: str, tmp_path: Path) -> None:
    """``pretrained`` (a saved policy deployed zero-shot): one row per evaluation seed, no training, the card's
    deployment whatever the row asks, and the same episodes as the policy run by hand."""
    from agents import ReinforceLSTMAgent
    from agents.cards import write_card

    trained = ReinforceLSTMAgent(ScoredToyEnv(episode_length=4), seed=3, learning_rate=1e-2)
    trained.learn(40)
    policy = tmp_path / "toy_policy.pt"
    trained.save(policy)
    write_card(policy, {"env": ENV_ID, "env_kwargs": {}, "deployment": deployment})
    spec = BenchmarkSpec(**{**_spec(("moved=pretrained",), (100, 101)).__dict__,
                            "agent_kwargs": {"moved": {"policy": str(policy)}}})
    run_benchmark(spec, tmp_path / "out", log=None, report=False)
    rows = _rows(tmp_path / "out")
    assert sorted(rows) == [("moved", "-", "100", "0"), ("moved", "-", "101", "0")]  # unseeded, one draw, no /greedy
    assert {steps for *_, steps in rows.values()} == {"0"}  # never trained
    again = run_benchmark(spec, tmp_path / "again", log=None, report=False)
    assert again is not None and _rows(tmp_path / "again") == rows  # a sampled card's draws are seeded per cell
    if deployment == "greedy":  # the episode of the saved policy taken greedily by hand
        by_hand = run_episode(ScoredToyEnv(episode_length=4), ReinforceLSTMAgent.load(policy), seed=100,
                              deterministic=True)
        assert float(rows[("moved", "-", "100", "0")][0]) == pytest.approx(by_hand.target_score)


def test_a_saved_policy_refuses_an_env_with_other_coordinates(tmp_path: Path) -> None:
    from agents import PretrainedPolicy, ReinforceLSTMAgent

    policy = tmp_path / "two.pt"
    ReinforceLSTMAgent(ToyLREnv(targets=(1, 2)), seed=0).save(policy)
    with pytest.raises(ValueError, match="sets 2 learning-rate scales, this env has 3"):
        PretrainedPolicy(3, policy=str(policy))
    with pytest.raises(FileNotFoundError, match="no policy at"):
        PretrainedPolicy(3, policy=str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="deployment is one of sampled, greedy"):
        PretrainedPolicy(2, policy=str(policy), deployment="argmax")
    assert not PretrainedPolicy(2, policy=str(policy)).deterministic  # no card: sampled, as trained
    assert PretrainedPolicy(2, policy=str(policy), deployment="greedy").deterministic
