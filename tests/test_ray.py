"""Scale-out on a local 2-CPU Ray: grid scripts give the sequential rows, REINFORCE learns from Ray rollout workers.

The only tests that start Ray (once for the module, a few seconds); skipped where the ``[ray]`` extra is missing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import torch

from agents import LocalRollouts, RayRollouts, ReinforceLSTMAgent
from asg_benchmark import BenchmarkError
from experiments.paper import fig1_heuristics
from tests import commands
from tests.toy_lr_env import ToyLREnv

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e .[ray]")
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def rows(path: Path, skip: str) -> list[dict[str, str]]:
    """The CSV's rows without the timing column ``skip``."""
    with path.open(newline="") as f:
        return [{k: v for k, v in row.items() if k != skip} for row in csv.DictReader(f)]


def test_curve_grid_on_ray_gives_the_sequential_rows(tmp_path: Path) -> None:
    argv = ["--quick", "--settings", "all_large", "--env-kwargs", '{"num_threads": 1}']  # 2 cells: λ = 0 and 0.1
    sequential = fig1_heuristics.main(argv)
    on_ray = fig1_heuristics.main([*argv, "--ray"])
    assert len(rows(sequential / "curves.csv", "seconds")) == 4  # 2 evaluations per episode
    assert rows(on_ray / "curves.csv", "seconds") == rows(sequential / "curves.csv", "seconds")
    assert (on_ray / "table.md").read_text() == (sequential / "table.md").read_text()


def test_benchmark_on_ray_gives_the_sequential_rows(tmp_path: Path) -> None:
    argv = ["--quick", "--agents", "hand_tuned", "random", "--env-kwargs", '{"num_threads": 1}', "--reps", "50"]
    sequential = commands.benchmark([*argv, "--out", str(tmp_path / "sequential")])
    on_ray = commands.benchmark([*argv, "--out", str(tmp_path / "ray"), "--ray"])
    timing = ("train_seconds", "eval_seconds")
    key = ("agent", "train_seed", "eval_seed", "draw", "deterministic")
    strip = [sorted(({k: v for k, v in r.items() if k not in timing} for r in rows(out / "results.csv", "")),
                    key=lambda r: tuple(r[k] for k in key)) for out in (sequential, on_ray)]
    assert strip[0] == strip[1] and {r["agent"] for r in strip[1]} == {"hand_tuned", "random"}


def test_reinforce_with_two_ray_rollout_workers_matches_two_local_slots() -> None:
    make_env = partial(ToyLREnv, episode_length=8, diverge_at=6)
    rollouts = RayRollouts(make_env, 2)
    try:
        remote = ReinforceLSTMAgent(rollouts, seed=2)
        before = [p.detach().clone() for p in remote.policy.parameters()]
        records = []
        remote.learn(24, callback=records.append)
    finally:
        rollouts.close()
    local = ReinforceLSTMAgent(LocalRollouts([make_env(), make_env()]), seed=2).learn(24)
    assert remote.num_updates == local.num_updates > 0 and remote.num_episodes == local.num_episodes == 4
    assert [r.num_timesteps for r in records] == list(range(1, 25))
    for p, q in zip(remote.policy.parameters(), local.policy.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not all(torch.equal(p, p0) for p, p0 in zip(remote.policy.parameters(), before, strict=True))


def test_train_policy_with_ray_workers(tmp_path: Path, digits_kwargs: dict) -> None:
    common = ["--env-kwargs", json.dumps(digits_kwargs), "--seed", "3", "--workers", "2", "--ray",
              "--no-tensorboard", "--no-progress", "--out", str(tmp_path / "run")]
    agent = ReinforceLSTMAgent.load(commands.train([*common, "--episodes", "2"]))
    assert (agent.num_episodes, agent.num_timesteps, agent.num_updates) == (2, 12, 2)
    with pytest.raises(BenchmarkError, match="--ray runs REINFORCE rollout workers"):
        commands.train([*common, "--agent", "ppo", "--episodes", "2"])
