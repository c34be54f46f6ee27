"""The agent benchmark (the installed :mod:`asg_benchmark`, ``asg-benchmark run``), with Ray scale-out.

    python -m experiments.benchmark_agents --agents hand_tuned ppo reinforce_lstm --train-seeds 0 1 \\
        --eval-seeds 100-109 --budget 4000 --out results/benchmark_agents/v0.2 [--ray]

Every flag of ``asg-benchmark run`` (the protocol: ``docs/benchmark.md``), plus the scale-out
flags of the grid scripts: with ``--ray`` (or ``--ray-address``) each job (one agent and training
seed: its training, then its evaluation episodes) is a Ray task; rows are appended as jobs finish
and the report is made from the CSV, so it does not depend on the order. Writes ``results.csv``,
``episodes.jsonl``, ``report.md``, ``iqm.png``, ``profiles.png`` and ``provenance.json`` into ``--out``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import tyro

from asg_benchmark import Job, JobRunner, Record, run_benchmark, write_report
from asg_benchmark.cli import Run, spec_from
from asg_benchmark.errors import BenchmarkError
from experiments.common import parse_env_kwargs
from experiments.scale_out import RayFlags, ray_session, run_tasks


@dataclass
class Args(RayFlags, Run):
    """Benchmark agents under the protocol of docs/benchmark.md, optionally on Ray."""


def run_job(runner: JobRunner, job: Job) -> list[Record]:
    """A Ray task: one job on envs of its own (the runner builds them where it runs)."""
    return runner(job)


def main(argv: list[str] | None = None) -> Path:
    """Run the benchmark; returns the output folder."""
    args = tyro.cli(Args, args=argv)
    env_kwargs = parse_env_kwargs(args.env_kwargs)  # the scripts' one format, checked before anything is written
    if args.use_ray:  # each task's torch threads = its CPUs, unless --env-kwargs says otherwise
        args.env_kwargs = json.dumps(args.task_env_kwargs(env_kwargs))
    try:
        spec, out = spec_from(args)
    except BenchmarkError as exc:
        raise SystemExit(f"benchmark_agents: {exc}") from exc

    def on_ray(runner: JobRunner, jobs: Sequence[Job]) -> Iterator[list[Record]]:
        for _, records in run_tasks(run_job, [(runner, job) for job in jobs], args):
            yield records

    if args.use_ray:
        with ray_session(args):
            run_benchmark(spec, out, map_jobs=on_ray, report=False, reuse=args.reuse)
    else:
        run_benchmark(spec, out, report=False, reuse=args.reuse)
    print(f"report in {write_report(out, reps=args.reps)}")
    return out


if __name__ == "__main__":
    main()
