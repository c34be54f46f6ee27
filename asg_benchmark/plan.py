"""What a benchmark still has to run: its evaluation cells, grouped into jobs of one agent and training seed."""

from __future__ import annotations

from dataclasses import dataclass

from asg_benchmark.protocol import BenchmarkSpec
from asg_benchmark.registry import GREEDY_SUFFIX, AgentSpec
from asg_benchmark.store import Cell, ResultsStore


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
