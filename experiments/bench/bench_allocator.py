"""What keeping freed memory mapped (:mod:`asg_gym.allocator`) saves per env step, against glibc's defaults.

The thresholds are process-wide and glibc's defaults depend on the heap's history, so each contender runs in a fresh
process: build the env, take ``warmup`` steps (the teacher cache fills), then time ``steps`` steps and count their
page faults and kernel time. Contenders alternate over ``rounds``; medians are reported. Each process also hashes its
observations and rewards, to show that the setting changes the time and nothing else. Run it alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import tyro

from experiments.bench.bench_env import Args as EnvArgs
from experiments.bench.bench_env import make_env
from experiments.common import REPO, report_result

CONTENDERS = {"kept": "1", "glibc_default": "0"}  # ASG_GYM_KEEP_FREED_MEMORY


@dataclass
class Args:
    """Env steps with freed memory kept mapped against glibc's malloc defaults, each in fresh processes."""

    env: str = "ASG-DigitsOnPhotos-v1"
    """env id (its defaults: student, image size, batch)"""
    warmup: int = 25
    """untimed steps first (one epoch of the 20-batch source fills the teacher cache)"""
    steps: int = 40
    """timed steps per process"""
    rounds: int = 3
    """processes per contender, alternating"""
    out: str | None = str(REPO / "results" / "bench_env" / "allocator")
    """output folder (None: print only)"""
    quick: bool = False
    """toy backbone at 32 px, 3 steps, one round, print only: a smoke test"""


def measure(env_id: str, warmup: int, steps: int, quick: bool = False) -> dict[str, float | str]:
    """In this process: ms, page faults and kernel ms per env step of single SGD steps, and a hash of what the
    env returned."""
    env_args = EnvArgs(env=env_id, backbone="toy", image_size=32) if quick else EnvArgs(env=env_id)
    env = make_env(env_args, eval_size=10, sgd_steps_per_action=1)  # bench_env's env: 20 source batches, no evaluation
    env.reset(seed=0)
    action, digest = np.full(7, 5), hashlib.sha256()
    for _ in range(warmup):
        env.step(action)
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(steps):
        observation, reward, *_ = env.step(action)
        digest.update(observation.tobytes() + np.float64(reward).tobytes())
    seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return {"ms_per_step": 1000 * seconds / steps,
            "page_faults_per_step": (after.ru_minflt - before.ru_minflt) / steps,
            "kernel_ms_per_step": 1000 * (after.ru_stime - before.ru_stime) / steps,
            "returns_sha256": digest.hexdigest()}


def _in_fresh_process(args: Args, keep: str) -> dict[str, float | str]:
    code = (f"import json; from experiments.bench.bench_allocator import measure; "
            f"print(json.dumps(measure({args.env!r}, {args.warmup}, {args.steps}, {args.quick})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                          env={**os.environ, "ASG_GYM_KEEP_FREED_MEMORY": keep})
    result: dict[str, float | str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv)
    if args.quick:
        args.warmup, args.steps, args.rounds, args.out = 2, 3, 1, None
    runs: dict[str, list[dict[str, float | str]]] = {name: [] for name in CONTENDERS}
    for _ in range(args.rounds):
        for name, keep in CONTENDERS.items():
            runs[name].append(_in_fresh_process(args, keep))
    medians = {name: {key: round(statistics.median(float(r[key]) for r in rows), 2)
                      for key in ("ms_per_step", "page_faults_per_step", "kernel_ms_per_step")}
               for name, rows in runs.items()}
    hashes = {str(r["returns_sha256"]) for rows in runs.values() for r in rows}
    result = {
        "median": medians,
        "default_over_kept": round(medians["glibc_default"]["ms_per_step"] / medians["kept"]["ms_per_step"], 3),
        "identical_returns": len(hashes) == 1,
        "runs": runs,
        "config": {"env": args.env, "warmup": args.warmup, "steps": args.steps, "rounds": args.rounds},
    }
    return report_result(result, args.out, "bench_allocator", args)


if __name__ == "__main__":
    main()
