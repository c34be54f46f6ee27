"""What a benchmark's rows cost in wall-clock time, from the seconds its results store recorded.

Every episode row carries ``eval_seconds`` (its evaluation episode, the final scoring of the target set
included) and, for a trained agent, ``train_seconds`` and ``train_env_steps`` of the run it came from. A
*decision* is one env step (``decision_window`` SGD steps). Seconds are those of the machine that ran the
episode: a row run on several machines mixes them, and the report's header names them.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np

from asg_benchmark.registry import GREEDY_SUFFIX


@dataclass(frozen=True)
class RowCost:
    """The wall-clock cost of one agent: its sampled and greedy evaluation rows, and its training runs."""

    agent: str
    episodes: int
    episode_seconds: float | None  # median over the episodes that recorded their seconds
    eval_hours: float  # every timed episode, summed as it ran
    eval_decisions_per_hour: float | None
    training_runs: int
    training_hours: float  # all runs summed
    training_decisions_per_hour: float | None

    @property
    def hours(self) -> float:
        return self.eval_hours + self.training_hours


def _agent(label: str) -> str:
    return label.split(GREEDY_SUFFIX)[0]


def _training_runs(rows: list[dict[str, str]]) -> dict[str, dict[str, tuple[int, float]]]:
    """Each agent's training runs, by training seed: (env steps, seconds). Its greedy rows and every episode of one
    run carry the same run; rows that did not train (unseeded, or 0 steps) have none."""
    runs: dict[str, dict[str, tuple[int, float]]] = {}
    for r in rows:
        if r["train_seed"] != "-" and r.get("train_seconds") not in (None, "") and float(r["train_env_steps"]) > 0:
            runs.setdefault(_agent(r["agent"]), {})[r["train_seed"]] = (int(float(r["train_env_steps"])),
                                                                       float(r["train_seconds"]))
    return runs


def training_hours(rows: list[dict[str, str]]) -> dict[str, float]:
    """Wall-clock hours of training per run: a row's mean over its training seeds (``"<row>"``) and each seed's own
    (``"<row> (training seed k)"``)."""
    seconds = {label: {seed: took for seed, (_, took) in by_seed.items()}
               for label, by_seed in _training_runs(rows).items()}
    hours = {label: float(np.mean(list(by_seed.values()))) / 3600 for label, by_seed in seconds.items()}
    hours.update({f"{label} (training seed {seed})": value / 3600 for label, by_seed in seconds.items()
                  for seed, value in by_seed.items()})
    return hours


def row_costs(rows: list[dict[str, str]]) -> list[RowCost]:
    """Each agent's cost, in the order its rows first appear."""
    by_agent: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_agent.setdefault(_agent(r["agent"]), []).append(r)
    training = _training_runs(rows)
    costs = []
    for agent, mine in by_agent.items():
        timed = [r for r in mine if r.get("eval_seconds") not in (None, "")]
        eval_seconds = sum(float(r["eval_seconds"]) for r in timed)
        runs = training.get(agent, {}).values()
        train_steps = sum(steps for steps, _ in runs)
        train_seconds = sum(seconds for _, seconds in runs)
        costs.append(RowCost(
            agent=agent, episodes=len(mine),
            episode_seconds=statistics.median(float(r["eval_seconds"]) for r in timed) if timed else None,
            eval_hours=eval_seconds / 3600,
            eval_decisions_per_hour=(3600 * sum(int(r["steps"]) for r in timed) / eval_seconds
                                     if eval_seconds > 0 else None),
            training_runs=len(runs), training_hours=train_seconds / 3600,
            training_decisions_per_hour=3600 * train_steps / train_seconds if train_seconds > 0 else None))
    return costs


def _number(value: float | None, form: str) -> str:
    return "—" if value is None else format(value, form)


def cost_section(rows: list[dict[str, str]]) -> str:
    """The report's section "Cost": one line per agent, and the whole folder's hours."""
    costs = row_costs(rows)
    if not any(c.episode_seconds is not None or c.training_runs for c in costs):
        return ""
    lines = ["", "## Cost", "",
             "Wall clock as the store recorded it, on the machines named above. An agent's line covers its sampled "
             "and greedy rows. Evaluation: episodes run, the median seconds of one (the final scoring of the target "
             "set included), decisions per hour over all of them. Training: runs (training seeds), their hours "
             "summed, decisions per hour. Hours in all: evaluation plus training; an agent whose cells were copied "
             "with `--reuse` shows what its source run took.", "",
             "| agent | episodes | median s per episode | evaluation decisions/h | training runs | training h "
             "| training decisions/h | hours in all |",
             "|---|---|---|---|---|---|---|---|"]
    for c in costs:
        lines.append(f"| {c.agent} | {c.episodes} | {_number(c.episode_seconds, '.0f')} | "
                     f"{_number(c.eval_decisions_per_hour, ',.0f')} | {c.training_runs} | "
                     f"{c.training_hours:.2f} | {_number(c.training_decisions_per_hour, ',.0f')} | {c.hours:.2f} |")
    lines += ["", f"All rows: {sum(c.hours for c in costs):.1f} h."]
    return "\n".join(lines) + "\n"
