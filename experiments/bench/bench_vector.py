"""Decisions per hour of ASG-Digits-v0: one env, and N envs in Gymnasium's sync and async vector envs.

Each contender takes ``steps`` vector steps (N env steps each) after a warm-up episode start, with
evaluation off (``eval_every=0`` and episodes longer than the run), so the number is the
RL-facing step throughput; evaluations add ``eval_size`` forward passes every ``eval_every``
steps on top. Async workers are forked (Gymnasium's default context) and run one torch thread
each (asg_gym.threads); the single env and the sync vector env run ``threads`` threads.
Run it alone: never beside another heavy job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import tyro

import asg_gym  # noqa: F401  (registers the ids)
from experiments.common import REPO, parse_env_kwargs, report_result


@dataclass
class Args:
    """Steps per second of one ASG env and of N vectorised envs."""

    num_envs: list[int] = field(default_factory=lambda: [2])
    """vector sizes N to measure (sync and async each)"""
    steps: int = 10
    """timed vector steps per contender"""
    threads: int = 2
    """torch threads of this process (single and sync contenders)"""
    env_kwargs: str = "{}"
    """extra gym.make keywords, a JSON object"""
    out: str | None = str(REPO / "results" / "bench_vector")
    """output folder (None: print only)"""
    quick: bool = False
    """toy backbone, 3 steps: a smoke test"""


def steps_per_second(envs: Any, num_envs: int, steps: int) -> float:
    """Env steps per second of ``envs`` (one env when ``num_envs`` is 0), after a reset and one warm-up step."""
    shape = (num_envs, 7) if num_envs else (7,)
    action = np.broadcast_to(np.array([1] * 6 + [10]), shape).copy()  # hand-tuned scales
    envs.reset(seed=list(range(num_envs)) if num_envs else 0)
    envs.step(action)
    start = time.perf_counter()
    for _ in range(steps):
        envs.step(action)
    return steps * max(num_envs, 1) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = tyro.cli(Args, args=argv)
    kwargs = {"device": "cpu", "eval_every": 0, "total_steps": 10**6, **parse_env_kwargs(args.env_kwargs)}
    if args.quick:
        kwargs.update(backbone="toy", image_size=32, num_source_images=256, eval_size=100)
        args.steps, args.out = 3, None
    torch.set_num_threads(args.threads)
    single = gym.make("ASG-Digits-v0", **kwargs)
    rates = {"single": steps_per_second(single, 0, args.steps)}
    single.close()
    for n in args.num_envs:
        for mode in ("sync", "async"):
            envs = gym.make_vec("ASG-Digits-v0", num_envs=n, vectorization_mode=mode, **kwargs)
            rates[f"{mode}_{n}"] = steps_per_second(envs, n, args.steps)
            envs.close()
    result = {
        "env_steps_per_second": {k: round(v, 3) for k, v in rates.items()},
        "decisions_per_hour": {k: round(3600 * v) for k, v in rates.items()},
        "speedup_over_single": {k: round(v / rates["single"], 3) for k, v in rates.items()},
        "config": {k: v for k, v in kwargs.items() if k != "total_steps"},
    }
    return report_result(result, args.out, "bench_vector", args)


if __name__ == "__main__":
    main()
