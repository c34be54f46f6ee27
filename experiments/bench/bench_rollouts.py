"""Decisions per hour of REINFORCE training: one local env (K = 1) against K rollout workers on Ray.

    python -m experiments.bench.bench_rollouts                                   # toy backbone, then the default env
    python -m experiments.bench.bench_rollouts --configs toy --toy-steps 400 --workers 4

A decision is one action of the policy on one env (one env step, with its SGD step). Each
measurement builds the env(s) and a :class:`~agents.ReinforceLSTMAgent` on ``ASG-Digits-v0``,
takes ``--warmup`` lockstep steps, then times ``agent.learn(n)``: sampling, env steps and policy
updates, not the env construction (reported apart). ``local`` is the plain single-env run in this
process with torch's default threads (all cores), ``local_1thread`` the same with one torch
thread (on a busy machine more threads can be slower), ``ray`` K Ray actors of one CPU and one
torch thread each, stepped in parallel, with the policy batched in this process. Evaluations are switched off
(``eval_every=0``, and the measured steps stay inside the first episode), so both modes time the
same work. Writes ``results/bench_rollouts/{results.json, README.md, provenance.json}``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
import tyro

import asg_gym  # noqa: F401  (registers the ids)
from agents import RayRollouts, ReinforceLSTMAgent
from asg_benchmark import RayFlags, ray_session
from experiments.common import REPO, git_revision, machine, parse_env_kwargs, write_provenance

ENV = "ASG-Digits-v0"
CONFIGS: dict[str, dict[str, Any]] = {"toy": {"backbone": "toy", "image_size": 32}, "default": {}}
"""gym.make keywords of each configuration ("default": the env's defaults, EfficientNet-Lite0 at 48 px)."""
MODES = ("local", "local_1thread", "ray")
DEFAULT_THREADS = torch.get_num_threads()  # before any env sets it


@dataclass
class Args:
    """Decisions/hour of REINFORCE training: K = 1 local vs K Ray rollout workers."""

    configs: list[str] = field(default_factory=lambda: ["toy", "default"])
    """env configurations (toy: toy backbone at 32 px; default: the env's defaults)"""
    toy_steps: int = 100
    """timed decisions per measurement on the toy configuration"""
    default_steps: int = 10
    """timed decisions per measurement on the default configuration"""
    warmup: int = 2
    """untimed lockstep steps before the timing"""
    workers: int = 2
    """K, the Ray rollout workers"""
    env_kwargs: str = "{}"
    """extra gym.make keywords for every configuration, a JSON object"""
    out: str = str(REPO / "results" / "bench_rollouts")
    """output folder"""


def make_env(kwargs: dict[str, Any]) -> gym.Env:
    """The benchmarked env (module-level: Ray actors build it from a pickled reference)."""
    return gym.make(ENV, **kwargs)


def measure(mode: str, kwargs: dict[str, Any], steps: int, args: Args) -> dict[str, Any]:
    """Time ``steps`` decisions of REINFORCE training in ``mode`` (one of :data:`MODES`)."""
    started = time.perf_counter()
    if mode == "ray":
        env: Any = RayRollouts(partial(make_env, RayFlags().task_env_kwargs(kwargs)), args.workers)
        slots, threads = args.workers, RayFlags().task_threads
    else:  # the env keyword sets this process's torch threads, back to the default for "local"
        threads = 1 if mode == "local_1thread" else DEFAULT_THREADS
        env, slots = make_env({"num_threads": threads, **kwargs}), 1
    built = time.perf_counter() - started
    try:
        agent = ReinforceLSTMAgent(env, seed=0)
        agent.learn(args.warmup * slots)
        started = time.perf_counter()
        agent.learn(steps)
        seconds = time.perf_counter() - started
        taken = agent.num_timesteps - args.warmup * slots
    finally:
        env.close()
    return {"mode": mode, "workers": slots, "torch_threads": threads, "decisions": taken, "seconds": round(seconds, 3),
            "decisions_per_hour": round(taken / seconds * 3600), "build_seconds": round(built, 1)}


def write_readme(path: Path, results: dict[str, Any]) -> None:
    lines = ["# Decisions per hour of REINFORCE training: K = 1 local vs Ray rollout workers", "",
             f"Command: `{results['command']}`  ", f"Git revision: {results['git_revision']}  ",
             f"Machine: {results['machine']}  ", f"Date: {results['date']}", "",
             f"1-minute load average of the {os.cpu_count()} cores: {results['load_before'][0]:.2f} before, "
             f"{results['load_after'][0]:.2f} after the run (it lags: it includes jobs that ended just before). "
             "Single measurements of a short budget: only large ratios are worth reading.", "",
             "| configuration | mode | K | torch threads per env | decisions timed | seconds | decisions/hour | "
             "× local | env build (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for config, rows in results["measurements"].items():
        base = rows[0]["decisions_per_hour"]
        for row in rows:
            lines.append(f"| {config} | {row['mode']} | {row['workers']} | {row['torch_threads']} | {row['decisions']} "
                         f"| {row['seconds']} | {row['decisions_per_hour']:,} | "
                         f"{row['decisions_per_hour'] / base:.2f} | {row['build_seconds']} |")
    lines += ["", "A decision is one env step (one SGD step of the optimizee) chosen by the policy; the timing covers "
              "sampling, env steps and policy updates after a warm-up, not building the envs. `local`: one env in "
              "the learner's process with torch's default threads; `local_1thread`: the same with one torch "
              "thread; `ray`: K actors of one CPU / one torch thread each, stepped in parallel, the policy batched "
              "in the learner. Evaluations off (`eval_every=0`).",
              "", "gym.make keywords per configuration:", ""]
    lines += [f"* {config}: `{json.dumps(kwargs)}`" for config, kwargs in results["env_kwargs"].items()]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> Path:
    args = tyro.cli(Args, args=argv)
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown or args.workers < 1 or args.warmup < 0:
        raise SystemExit(f"unknown configs {unknown} (choose from {', '.join(CONFIGS)}) or --workers < 1 "
                         "or --warmup < 0")
    extra = parse_env_kwargs(args.env_kwargs)
    out = Path(args.out)
    write_provenance(out, args=vars(args))
    env_kwargs = {c: {**CONFIGS[c], "eval_every": 0, "device": "cpu", **extra} for c in args.configs}
    results: dict[str, Any] = {"command": json.loads((out / "provenance.json").read_text())["runs"][-1]["command"],
                               "git_revision": git_revision(), "machine": machine(),
                               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_before": os.getloadavg(),
                               "env_kwargs": env_kwargs, "measurements": {}}
    with ray_session(RayFlags(ray=True)):
        for config, kwargs in env_kwargs.items():
            steps = args.toy_steps if config == "toy" else args.default_steps
            results["measurements"][config] = rows = []
            for mode in MODES:
                rows.append(measure(mode, kwargs, steps, args))
                print(config, rows[-1], flush=True)
    results["load_after"] = os.getloadavg()
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_readme(out / "README.md", results)
    print((out / "README.md").read_text())
    return out


if __name__ == "__main__":
    main()
