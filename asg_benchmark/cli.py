"""``asg-benchmark``, the one front door: benchmark agents under the protocol, report and compare results
folders, train a controller, ship it as an env's pretrained policy, and see policies side by side.

    asg-benchmark run --env ASG-Digits-v0 --agents hand_tuned ppo mypkg.mod:make_agent \\
        --train-seeds 0 1 --eval-seeds 100-109 --budget 4000 --out DIR [--ray [--ray-address ADDR]]
    asg-benchmark report DIR [--eval-seeds 110-129 --out DIR2]
    asg-benchmark compare DIR_A DIR_B [--out FILE]
    asg-benchmark migrate DIR [DIR ...]     # a folder of asg-gym 0.2 (results.csv) into its results store
    asg-benchmark train --env ASG-Digits-v0 --episodes 50 --out runs/policy [--resume]
    asg-benchmark ship --benchmark DIR --agent horizon --train-seed 2 [--greedy]
    asg-benchmark demo [--quick]

(also ``python -m asg_benchmark``). ``--quick`` is a smoke run: toy backbone, 6-step episodes, a
12-step budget, into a temporary folder unless ``--out`` is given; its report says so on its first line.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from agents import AGENT_NAMES
from asg_benchmark import demo, ship, train
from asg_benchmark.compare import write_comparison
from asg_benchmark.demo import Demo
from asg_benchmark.errors import BenchmarkError
from asg_benchmark.flags import json_object
from asg_benchmark.migration import migrate
from asg_benchmark.plan import describe_pending
from asg_benchmark.protocol import QUICK_BUDGET, BenchmarkSpec, quick
from asg_benchmark.report import write_report
from asg_benchmark.runner import Job, JobRunner, Record, run_benchmark
from asg_benchmark.scale_out import RayFlags, ray_session, run_tasks
from asg_benchmark.seeds import parse_seeds
from asg_benchmark.ship import Ship
from asg_benchmark.suite import env_folders, write_suite_report
from asg_benchmark.train import Train
from asg_gym.errors import MissingDependencyError


@dataclass
class Run(RayFlags):
    """Train every learning agent for the same budget, freeze it, evaluate it on the evaluation seeds."""

    agents: list[str] = field(default_factory=lambda: list(AGENT_NAMES))
    """agents: built-in names, names from asg_benchmark.register_agent, or import paths package.module:factory"""
    env: list[str] = field(default_factory=lambda: ["ASG-Digits-v0"])
    """environment id; several: one folder per env under --out and a report across them (suite.md)"""
    train_seeds: list[str] = field(default_factory=lambda: ["0", "1", "2"])
    """training seeds (one trained agent each); ranges such as 0-4 allowed"""
    eval_seeds: list[str] = field(default_factory=lambda: ["100-109"])
    """evaluation seeds: at least 10, none a training seed; ranges such as 100-109 allowed"""
    budget: int | None = None
    """env steps every learning agent trains for (required unless --quick)"""
    draws: int = 3
    """sampled episodes per evaluation seed of a stochastic policy"""
    out: str | None = None
    """results folder (resumable; required unless --quick)"""
    env_kwargs: str = "{}"
    """gym.make keywords over the protocol's, a JSON object, e.g. '{"total_steps": 100}'"""
    agent_kwargs: str = "{}"
    """agent name → constructor keywords, a JSON object, e.g. '{"ppo": {"n_steps": 16}}'"""
    allow_few_seeds: bool = False
    """accept fewer than 10 evaluation seeds (smoke tests; the report says preliminary)"""
    greedy: bool = True
    """also evaluate learned policies greedily (their /greedy rows); --no-greedy skips them"""
    quick: bool = False
    """smoke run: toy backbone, tiny sizes, a 12-step budget, a temporary folder"""
    reps: int = 2000
    """bootstrap replications of the report's confidence intervals"""
    reuse: list[str] = field(default_factory=list)
    """results folders whose cells run on this machine, same protocol and agents, are copied instead of run"""
    storage: str | None = None
    """the results store's URL (default: sqlite:///OUT/results.db)"""
    plan: bool = False
    """say what is left to run (episodes, training, estimated hours) and exit, running and writing nothing"""


@dataclass
class Report:
    """Regenerate the report (report.md, iqm.png, profiles.png) of a results folder from its results.csv."""

    folder: tyro.conf.Positional[str]
    """the folder given to run --out"""
    reps: int = 2000
    """bootstrap replications of the confidence intervals"""
    eval_seeds: list[str] | None = None
    """only these evaluation seeds (ranges such as 110-129 allowed), e.g. seeds added after the rows were chosen"""
    out: str | None = None
    """where to write the report (required with --eval-seeds; default: the folder itself)"""
    storage: str | None = None
    """the results store's URL (default: sqlite:///FOLDER/results.db)"""


@dataclass
class Compare:
    """Compare two results folders: the same rows on the same cells, paired differences B − A."""

    folder_a: tyro.conf.Positional[str]
    """the reference folder (A)"""
    folder_b: tyro.conf.Positional[str]
    """the folder compared with it (B)"""
    out: str | None = None
    """write the markdown here too (it is always printed)"""
    reps: int = 2000
    """bootstrap replications of the confidence intervals"""


@dataclass
class Migrate:
    """Move results folders of asg-gym 0.2 (results.csv, episodes.jsonl, protocol.json, provenance.json) into
    their results stores, checking that the stored rows equal the CSV's."""

    folders: tyro.conf.Positional[list[str]]
    """the folders to migrate"""


Command = (Annotated[Run, tyro.conf.subcommand("run")] | Annotated[Report, tyro.conf.subcommand("report")]
           | Annotated[Compare, tyro.conf.subcommand("compare")] | Annotated[Migrate, tyro.conf.subcommand("migrate")]
           | Annotated[Train, tyro.conf.subcommand("train")] | Annotated[Ship, tyro.conf.subcommand("ship")]
           | Annotated[Demo, tyro.conf.subcommand("demo")])


def spec_from(args: Run, env: str) -> BenchmarkSpec:
    """The benchmark of ``env`` that ``run``'s flags describe."""
    agent_kwargs = json_object(args.agent_kwargs, "--agent-kwargs", '{"ppo": {"n_steps": 16}}')
    bad = [name for name, value in agent_kwargs.items() if not isinstance(value, dict)]
    if bad:
        raise BenchmarkError(f"--agent-kwargs maps agent names to JSON objects; not objects: {bad}")
    budget = args.budget if args.budget is not None else QUICK_BUDGET if args.quick else None
    if budget is None:
        raise BenchmarkError("state the training budget of the learning agents: --budget ENV_STEPS")
    env_kwargs = json_object(args.env_kwargs, "--env-kwargs", '{"total_steps": 100}')
    if args.use_ray:  # each task's torch threads = its CPUs, unless --env-kwargs says otherwise
        env_kwargs = args.task_env_kwargs(env_kwargs)
    spec = BenchmarkSpec(env=env, agents=tuple(args.agents), train_seeds=tuple(parse_seeds(args.train_seeds)),
                         eval_seeds=tuple(parse_seeds(args.eval_seeds)), budget=budget, draws=args.draws,
                         env_kwargs=env_kwargs, agent_kwargs=agent_kwargs, allow_few_seeds=args.allow_few_seeds,
                         greedy=args.greedy)
    return quick(spec) if args.quick else spec


def output_folder(args: Run) -> Path:
    """``--out``, or under ``--quick`` without it a new temporary folder."""
    if args.out is None and not args.quick:
        raise BenchmarkError("give the results folder: --out DIR")
    return Path(args.out) if args.out is not None else Path(tempfile.mkdtemp(prefix="asg_benchmark_quick_"))


def run_job(runner: JobRunner, job: Job) -> list[Record]:
    """A Ray task: one job on envs of its own (the runner builds them where it runs)."""
    return runner(job)


def run(args: Run) -> int:
    """``asg-benchmark run``: the benchmark of each env into its folder (on Ray with ``--ray``), then the reports
    (one per env, and ``suite.md`` across several)."""
    if not args.env or len(set(args.env)) != len(args.env):
        raise BenchmarkError(f"give each env once with --env, got {args.env}")
    if len(args.env) > 1 and args.storage is not None:
        raise BenchmarkError("--storage names one store, and each of several --env has its own (OUT/<env>/results.db)")
    specs = [spec_from(args, env) for env in args.env]  # every spec checked before anything runs
    out = output_folder(args)
    folders = env_folders(out, args.env)
    if args.plan:
        print("\n".join(describe_pending(spec, folders[spec.env], args.storage) for spec in specs))
        return 0

    def on_ray(runner: JobRunner, jobs: Sequence[Job]) -> Iterator[list[Record]]:
        for _, records in run_tasks(run_job, [(runner, job) for job in jobs], args):
            yield records

    with ray_session(args) if args.use_ray else contextlib.nullcontext():
        for spec in specs:
            folder = folders[spec.env]
            summary = run_benchmark(spec, folder, report=False, reuse=args.reuse, storage=args.storage,
                                    map_jobs=on_ray if args.use_ray else None)
            path = write_report(folder, reps=args.reps, storage=args.storage)
            print(f"{spec.env}: {summary.cells_written} new episodes; results and report in {folder} ({path.name})")
    if len(args.env) > 1:
        print(f"across the envs: {write_suite_report(out, args.env, reps=args.reps)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The ``asg-benchmark`` console script; returns the exit status (2: a user error, said in one line)."""
    command = tyro.cli(Command, args=argv, prog="asg-benchmark")
    try:
        if isinstance(command, Run):
            return run(command)
        if isinstance(command, Report):
            seeds = None if command.eval_seeds is None else parse_seeds(command.eval_seeds)
            path = write_report(command.folder, reps=command.reps, eval_seeds=seeds, out=command.out,
                                storage=command.storage)
            print(f"report in {path}")
        elif isinstance(command, Compare):
            print(write_comparison(command.folder_a, command.folder_b, command.out, reps=command.reps), end="")
        elif isinstance(command, Migrate):
            for folder in command.folders:
                done = migrate(folder)
                print(f"{folder}: {done.rows} rows ({done.duplicates} repeated lines read once) and {done.runs} "
                      f"runs moved into {done.database}; results.csv is now exported from it")
        elif isinstance(command, Train):
            train.main(command)
        elif isinstance(command, Ship):
            ship.main(command)
        else:
            demo.main(command)
    except (BenchmarkError, FileNotFoundError, MissingDependencyError) as exc:
        print(f"asg-benchmark: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
