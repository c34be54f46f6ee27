"""What a benchmark still has to run: its evaluation cells, grouped into jobs of one agent and training seed, and
(``asg-benchmark run --plan``) how much of it is left, said in cells, training steps and hours."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from asg_benchmark.checkpoints import AGENTS, TRAINING, TrainedAgent
from asg_benchmark.protocol import BenchmarkSpec
from asg_benchmark.registry import GREEDY_SUFFIX, AgentSpec
from asg_benchmark.store import Cell, ResultsStore, database_path, storage_url


@dataclass(frozen=True)
class EvalCell:
    """One evaluation episode to run: its cell and whether ``predict`` is greedy."""

    cell: Cell
    deterministic: bool


@dataclass(frozen=True)
class Job:
    """One agent and training seed (``None``: an unseeded agent, run once) with its pending cells."""

    agent: str
    train_seed: int | None
    cells: tuple[EvalCell, ...]


def agent_cells(spec: BenchmarkSpec, agent: AgentSpec, train_seed: int | None) -> list[EvalCell]:
    """Every cell of one agent and training seed: sampled draws, and greedy ones if it has a greedy row."""
    draws = spec.draws if agent.stochastic else 1
    cells = [EvalCell(Cell(agent.name, train_seed, e, d), False) for e in spec.eval_seeds for d in range(draws)]
    if agent.greedy and spec.greedy:
        cells += [EvalCell(Cell(agent.name + GREEDY_SUFFIX, train_seed, e, 0), True) for e in spec.eval_seeds]
    return cells


def plan_jobs(spec: BenchmarkSpec, agents: dict[str, AgentSpec], store: ResultsStore | None = None) -> list[Job]:
    """The jobs with cells still to run, in the order of ``spec.agents`` then training seeds."""
    jobs = []
    for name in spec.agents:
        agent = agents[name]
        for train_seed in spec.train_seeds if agent.seeded else [None]:
            cells = tuple(c for c in agent_cells(spec, agent, train_seed) if store is None or not store.done(c.cell))
            if cells:
                jobs.append(Job(name, train_seed, cells))
    return jobs


def describe_pending(spec: BenchmarkSpec, folder: str | Path, storage: str | None = None) -> str:
    """What is left of ``spec`` in ``folder``, one line per job, without running or writing anything.

    Hours are estimated from what the folder already measured: the median ``eval_seconds`` of its
    episodes and the seconds per training env step of its trained (or checkpointed) agents. Cells
    that ``--reuse`` would copy are counted as left: only a run can check that they match.
    """
    folder = Path(folder)
    agents = spec.resolve()
    path = database_path(storage or storage_url(folder))
    store = ResultsStore(folder, storage, create=False) if path.is_file() else None
    rows = [] if store is None else store.rows()
    jobs = plan_jobs(spec, agents, store)
    total = sum(len(job.cells) for job in plan_jobs(spec, agents))  # without a store: every cell
    left = sum(len(job.cells) for job in jobs)
    lines = [f"{spec.env} in {folder}: {left} of {total} evaluation episodes to run"]
    steps_left = 0
    for job in jobs:
        name = agents[job.agent].name
        seed = "" if job.train_seed is None else f" seed {job.train_seed}"
        training, steps = _training_state(folder, agents[job.agent], job.train_seed, spec.budget)
        steps_left += steps
        lines.append(f"  {name}{seed}: {len(job.cells)} episodes{training}")
    if not jobs:
        return lines[0] + ": nothing left"
    timed = [r for r in rows if r.get("eval_seconds")]
    episode = statistics.median(float(r["eval_seconds"]) for r in timed) if timed else None
    per_step = _seconds_per_training_step(folder)
    if episode is not None:
        lines.append(f"  evaluation: ~{left * episode / 3600:.1f} h at this folder's median episode ({episode:.0f} s)")
    if steps_left and per_step is not None:
        lines.append(f"  training: ~{steps_left * per_step / 3600:.1f} h at this folder's "
                     f"{per_step:.3f} s per training env step")
    elif steps_left and episode is not None:
        # No agent has trained here yet: an evaluation episode's seconds per decision bound a training step from
        # above (the training env skips the evaluation that ends each evaluation episode).
        ceiling = episode / statistics.median(int(r["steps"]) for r in timed)
        lines.append(f"  training: under ~{steps_left * ceiling / 3600:.1f} h ({ceiling:.2f} s per decision of this "
                     "folder's median evaluation episode, which also scores the test split; no training measured yet)")
    return "\n".join(lines)


def _training_state(folder: Path, agent: AgentSpec, train_seed: int | None, budget: int) -> tuple[str, int]:
    """How far an agent's training is (text for its line) and the env steps it has left. Whether an agent learns
    is known only once it is built, so an agent with nothing saved is said to train only if it is a built-in
    learner (``resumable``)."""
    trained = TrainedAgent.of(folder, agent.name, train_seed)
    if (trained.folder / TRAINING).is_file():
        return ", trained", 0
    partial = trained.partial().folder / TRAINING
    if partial.is_file():
        done = int(json.loads(partial.read_text())["training"]["train_env_steps"])
        return f", training checkpointed at {done}/{budget} env steps", max(budget - done, 0)
    if not agent.resumable:
        return "", 0
    return f", training not started ({budget} env steps)", budget


def _seconds_per_training_step(folder: Path) -> float | None:
    """The median seconds per training env step over the folder's trained and checkpointed agents."""
    rates = []
    for summary in sorted((folder / AGENTS).glob(f"*/{TRAINING}")):
        training = json.loads(summary.read_text())["training"]
        if int(training["train_env_steps"]) > 0 and float(training["train_seconds"]) > 0:
            rates.append(float(training["train_seconds"]) / int(training["train_env_steps"]))
    return statistics.median(rates) if rates else None
