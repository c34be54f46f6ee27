"""Every learning-rate controller on one env: same training budget, then frozen on fresh episodes.

    python -m experiments.benchmark_agents --env ASG-Digits-v0 --seeds 0 1 2 --train-episodes 10 \\
        --env-kwargs '{"total_steps": 100, "eval_every": 20}'

Each learning agent trains for ``--train-episodes`` × ``total_steps`` env steps (SB3 agents train
in whole rollouts, so the steps they actually took are recorded); the fixed and random
policies do not train. Each policy, frozen, then runs ``--eval-episodes`` fresh episodes whose
seeds (``1_000_000 + 1000 · seed + i``) no training episode uses, acting deterministically
(argmax for the learned ones). Writes into ``--out`` (default ``results/benchmark_agents``):
``benchmark.csv`` (one row per agent × seed; rerunning skips finished rows), ``curves.jsonl``
(target accuracy at each evaluation point), ``benchmark.md`` (mean ± std over seeds),
``benchmark.png`` and ``provenance.json``. ``--quick`` is a toy-backbone smoke run (into a
temporary folder unless ``--out`` is given). ``--ray`` (or ``--ray-address``) runs each missing
agent × seed as a Ray task with its own env (:mod:`experiments.scale_out`); the rows are those
of a sequential run.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import tyro

import asg_gym  # noqa: F401  (registers the ids)
from agents import AGENT_NAMES, LEARNING_AGENTS, make_agent
from experiments.common import (
    REPO,
    ResumableCSV,
    json_object,
    mean_std,
    parse_env_kwargs,
    run_episode,
    write_provenance,
)
from experiments.scale_out import RayFlags, ray_session, run_tasks, sort_new_rows
from experiments.train_policy import episode_limit

METRICS = ["target_accuracy", "target_mean_class_accuracy", "old_task_agreement", "episode_return", "diverged",
           "train_seconds", "eval_seconds"]
FIELDS = ["agent", "seed", "train_env_steps", "eval_episodes", *METRICS]
EVAL_SEED_BASE = 1_000_000
QUICK_ENV = {"backbone": "toy", "image_size": 32, "num_source_images": 256, "eval_size": 100, "batch_size": 16,
             "total_steps": 6, "eval_every": 3, "device": "cpu"}
QUICK_AGENT_KWARGS = {"ppo": {"n_steps": 6, "batch_size": 6}, "recurrent_ppo": {"n_steps": 6, "batch_size": 6}}


@dataclass
class Args(RayFlags):
    """Benchmark every agent on one env: same budget, several seeds, frozen evaluation."""

    env: str = "ASG-Digits-v0"
    """environment id"""
    env_kwargs: str = "{}"
    """extra gym.make keywords, a JSON object, e.g. '{"total_steps": 100, "eval_every": 20}'"""
    agents: list[str] = field(default_factory=lambda: list(AGENT_NAMES))
    """agents (agents.make_agent names)"""
    agent_kwargs: str = "{}"
    """agent name → constructor options, a JSON object, e.g. '{"ppo": {"n_steps": 16}}'"""
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    """seeds (agent seed; evaluation seeds derive from it)"""
    train_episodes: int = 10
    """training budget of every learning agent, in env episodes"""
    eval_episodes: int = 3
    """fresh evaluation episodes per policy and seed"""
    out: str = str(REPO / "results" / "benchmark_agents")
    """output folder"""
    quick: bool = False
    """toy backbone, 6-step episodes, one seed, a temporary folder: a smoke test"""


def evaluation_seed(seed: int, episode: int) -> int:
    """Disjoint from the training seeds ``seed + k`` used by the REINFORCE agent."""
    return EVAL_SEED_BASE + 1000 * seed + episode


def benchmark_one(name: str, seed: int, args: Args, env: gym.Env,
                  agent_kwargs: dict[str, Any]) -> tuple[dict[str, Any], list[list[list[float]]]]:
    """Train (if it learns) and evaluate one agent × seed; returns the CSV row and the eval curves."""
    agent = make_agent(name, env, seed=seed, **agent_kwargs)
    started = time.perf_counter()
    if name in LEARNING_AGENTS:
        agent.learn(args.train_episodes * episode_limit(env))
    train_seconds = time.perf_counter() - started
    results = [run_episode(env, agent, evaluation_seed(seed, i)) for i in range(args.eval_episodes)]
    row = {"agent": name, "seed": seed, "train_env_steps": getattr(agent, "num_timesteps", 0),
           "eval_episodes": args.eval_episodes,
           **{k: float(np.mean([r[k] for r in results])) for k in METRICS[:3]},
           "episode_return": float(np.mean([r["return"] for r in results])),
           "diverged": float(np.mean([r["diverged"] for r in results])),
           "train_seconds": round(train_seconds, 3), "eval_seconds": round(sum(r["seconds"] for r in results), 3)}
    return row, [[list(point) for point in r["curve"]] for r in results]


def benchmark_cell(name: str, seed: int, args: Args, env_kwargs: dict[str, Any],
                   agent_kwargs: dict[str, Any]) -> tuple[dict[str, Any], list[list[list[float]]]]:
    """A Ray task: :func:`benchmark_one` on a new env."""
    env = gym.make(args.env, **env_kwargs)
    try:
        return benchmark_one(name, seed, args, env, agent_kwargs)
    finally:
        env.close()


def record(out: Path, table: ResumableCSV, row: dict[str, Any], curves: list[list[list[float]]]) -> None:
    """One agent × seed's curves and CSV row, and a line on stdout."""
    with (out / "curves.jsonl").open("a") as f:  # before the CSV row: a crash only repeats the run
        f.write(json.dumps({"agent": row["agent"], "seed": row["seed"], "curves": curves}) + "\n")
    table.append(row)
    print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)


def run_on_ray(args: Args, table: ResumableCSV, out: Path, env_kwargs: dict[str, Any],
               agent_kwargs: dict[str, Any]) -> None:
    """The agent × seed runs ``table`` lacks as Ray tasks; recorded as they finish, then put in the sequential
    order."""
    cells = [(name, seed) for name in args.agents for seed in args.seeds if not table.done(agent=name, seed=seed)]
    if not cells:
        return
    first_new = len(table.rows)
    position = {table.key({"agent": name, "seed": seed}): i for i, (name, seed) in enumerate(cells)}
    with ray_session(args):
        calls = [(name, seed, args, args.task_env_kwargs(env_kwargs), agent_kwargs.get(name, {}))
                 for name, seed in cells]
        for _, (row, curves) in run_tasks(benchmark_cell, calls, args):
            record(out, table, row, curves)
    sort_new_rows(table, first_new, lambda row: position[table.key(row)])


def write_table(rows: list[dict[str, str]], agents: list[str], caption: str, path: Path) -> None:
    """Markdown: mean ± std over seeds per agent, agents in the order benchmarked."""
    header = ["agent", "seeds", *METRICS]
    lines = [caption, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in agents:
        mine = [r for r in rows if r["agent"] == name]
        if mine:
            cells = [mean_std(float(r[k]) for r in mine) for k in METRICS]
            lines.append(f"| {name} | {len(mine)} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")


def read_curves(path: Path) -> dict[str, list[list[list[float]]]]:
    """agent → every evaluation episode's [sgd_step, target_accuracy, old_task_agreement] points."""
    latest: dict[tuple[str, int], list[list[list[float]]]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            record = json.loads(line)
            latest[(record["agent"], record["seed"])] = record["curves"]  # a repeated row: the last one wins
    by_agent: dict[str, list[list[list[float]]]] = defaultdict(list)
    for (name, _), curves in latest.items():
        by_agent[name].extend(curves)
    return by_agent


def plot_curves(curves: dict[str, list[list[list[float]]]], agents: list[str], title: str, path: Path) -> None:
    """Mean target accuracy over SGD steps per agent (over seeds and evaluation episodes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in agents:
        points: dict[int, list[float]] = defaultdict(list)
        for curve in curves.get(name, []):
            for sgd_step, accuracy, _ in curve:
                points[int(sgd_step)].append(accuracy)
        if points:
            steps = sorted(points)
            ax.plot(steps, [np.mean(points[s]) for s in steps], marker="o", label=name)
    ax.set(xlabel="SGD step", ylabel="target accuracy (real images)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> Path:
    """Run the benchmark; returns the output folder."""
    args = tyro.cli(Args, args=argv)
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    agent_kwargs = json_object(args.agent_kwargs, "--agent-kwargs", '{"ppo": {"n_steps": 16}}')
    if args.quick:
        env_kwargs = {**QUICK_ENV, **env_kwargs}
        agent_kwargs = {**QUICK_AGENT_KWARGS, **agent_kwargs}
        args.seeds, args.train_episodes, args.eval_episodes = args.seeds[:1], 1, 1
        if args.out == Args().out:  # never mix smoke rows into the real results
            args.out = tempfile.mkdtemp(prefix="asg_benchmark_agents_")
    unknown = [a for a in [*args.agents, *agent_kwargs] if a not in AGENT_NAMES]
    if unknown or args.train_episodes < 1 or args.eval_episodes < 1:
        raise SystemExit(f"unknown agents {unknown} (choose from {', '.join(AGENT_NAMES)}) or "
                         f"--train-episodes/--eval-episodes < 1")
    out = Path(args.out)
    write_provenance(out, seeds=args.seeds, args=vars(args), env_kwargs=env_kwargs, agent_kwargs=agent_kwargs)
    table = ResumableCSV(out / "benchmark.csv", FIELDS, ["agent", "seed"])
    if args.use_ray:
        run_on_ray(args, table, out, env_kwargs, agent_kwargs)
    else:
        # One env for all runs: every episode starts from reset(seed=…), which restores the pretrained
        # weights and draws head and data order from the seed, so runs do not see each other.
        env = gym.make(args.env, **env_kwargs)
        for name in args.agents:
            for seed in args.seeds:
                if not table.done(agent=name, seed=seed):
                    record(out, table, *benchmark_one(name, seed, args, env, agent_kwargs.get(name, {})))
        env.close()
    caption = (f"{args.env} {json.dumps(env_kwargs)}: {args.train_episodes} training episodes per learning agent, "
               f"{args.eval_episodes} frozen evaluation episodes per seed; mean ± std over seeds.")
    write_table(table.rows, args.agents, caption, out / "benchmark.md")
    plot_curves(read_curves(out / "curves.jsonl"), args.agents, f"{args.env}: frozen policies", out / "benchmark.png")
    print(f"results in {out}")
    return out


if __name__ == "__main__":
    main()
