"""Every learning agent of the benchmark resumes exactly: a job killed (SIGKILL) while it trains, then rerun,
ends with the trained agent, the ``episodes.csv`` and the evaluation rows of an uninterrupted run, bit for bit.

The uninterrupted run trains every agent in one process, one job after the other on one training env (as a
benchmark does); each killed run trains one agent in a fresh process, which dies in the middle of training
after some checkpoints (:mod:`asg_benchmark.faults`, point ``train``) and is rerun. So the resumed process has
another history than the uninterrupted one: an empty teacher cache, other positions of the process-wide
generators. Checkpoints come every 4 env steps, in the middle of 6-step episodes and 5-step unrolls. Before the
teacher cache computed whole batches (``CoordinateSGD.enable_teacher_cache``), the REINFORCE agent resumed
after two episodes ended with other SGD momentum here; before SB3 agents saved their generators, every SB3
agent ended with other weights.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch

from asg_benchmark import BenchmarkSpec, quick, read_rows
from tests.forked_runs import canonical, run_forked

pytestmark = pytest.mark.faults

CHECKPOINT_EVERY = 4
KILLS = {  # per agent, each killed run: the env step of its process's training at which it dies, and the env step
    # of the job's training that the next run resumes from. Episodes are 6 steps, REINFORCE's unrolls 5.
    "reinforce_lstm": [(14, 12),  # from between episodes 2 and 3, with an empty teacher cache (the case)
                       (20, 28)],  # killed again: from 4 steps into episode 5 (replayed), 4 steps into an unroll
    "tuned_constant": [(15, 12)],  # in its 3rd trial; 2 whole trials saved
    "ppo": [(19, 12)],  # 4-step rollouts: checkpointed at 12, 24, … (where a rollout ends an episode), not at 16
    "a2c": [(21, 18)],
    "recurrent_ppo": [(15, 12)],
}
SPEC = quick(BenchmarkSpec(env="ASG-Digits-v0", agents=tuple(KILLS), train_seeds=(0,), eval_seeds=(100,),
                           budget=90, draws=1, allow_few_seeds=True, greedy=False,
                           agent_kwargs={"ppo": {"n_steps": 4, "batch_size": 4}}))
WALL_TIMES = ("train_seconds", "eval_seconds")


def _run(spec: BenchmarkSpec, folder: Path, fault: str | None = None) -> int:
    # One torch thread: every run alike (the count changes the env's sums) and fast on a busy machine.
    return run_forked(spec, folder, fault, checkpoint_every=CHECKPOINT_EVERY, threads=1)


def _trained(folder: Path, agent: str) -> dict[str, Any]:
    """An agent's saved file (each tensor as its dtype, shape and bytes), ``episodes.csv`` and evaluation rows."""
    saved = folder / "agents" / f"{agent}-seed0"
    (path,) = (p for p in saved.iterdir() if p.name.startswith("agent"))
    if path.suffix == ".zip":  # SB3: parameters, optimizer and counters (the rest holds wall-clock times)
        with zipfile.ZipFile(path) as archive:
            content: Any = {name: canonical(torch.load(io.BytesIO(archive.read(name)), weights_only=True))
                            for name in archive.namelist() if name.endswith(".pth")}
            data = json.loads(archive.read("data"))
        content["counters"] = [data[k] for k in ("num_timesteps", "_n_updates", "_episode_num", "asg_num_episodes")]
    elif path.read_bytes()[:2] == b"PK":  # a torch checkpoint (reinforce_lstm)
        content = canonical(torch.load(path, weights_only=True))
    else:  # JSON (tuned_constant)
        content = json.loads(path.read_text())
    with (saved / "episodes.csv").open(newline="") as f:
        episodes = list(csv.DictReader(f))
    rows = [{k: v for k, v in row.items() if k not in WALL_TIMES} for row in read_rows(folder) if row["agent"] == agent]
    return {"agent": content, "episodes": episodes, "rows": rows}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("uninterrupted")
    assert _run(SPEC, folder) == 0
    return folder


@pytest.mark.parametrize("agent", list(KILLS))
def test_killed_in_training_and_rerun_equals_uninterrupted(agent: str, uninterrupted: Path, tmp_path: Path) -> None:
    spec = BenchmarkSpec(**{**SPEC.__dict__, "agents": (agent,),
                            "agent_kwargs": {k: v for k, v in SPEC.agent_kwargs.items() if k == agent}})
    partial = tmp_path / "agents" / f"{agent}-seed0.partial" / "training.json"
    for killed_at, resumed_from in KILLS[agent]:
        assert _run(spec, tmp_path, f"train:{killed_at}") == -signal.SIGKILL
        # The next run resumes there; it does not start over.
        assert json.loads(partial.read_text())["training"]["train_env_steps"] == resumed_from
    assert _run(spec, tmp_path) == 0
    assert _trained(tmp_path, agent) == _trained(uninterrupted, agent)
