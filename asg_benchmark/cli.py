"""``asg-benchmark``: run the agent benchmark under the protocol, and report a results folder.

    asg-benchmark run --env ASG-Digits-v0 --agents hand_tuned ppo mypkg.mod:make_agent \\
        --train-seeds 0 1 --eval-seeds 100-109 --budget 4000 --out DIR
    asg-benchmark report DIR [--eval-seeds 110-129 --out DIR2]
    asg-benchmark compare DIR_A DIR_B [--out FILE]
    asg-benchmark migrate DIR [DIR ...]     # a folder of asg-gym 0.2 (results.csv) into its results store

(also ``python -m asg_benchmark``). ``--quick`` is a smoke run: toy backbone, 6-step episodes, a
12-step budget, into a temporary folder unless ``--out`` is given.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tyro

from agents import AGENT_NAMES
from asg_benchmark.compare import write_comparison
from asg_benchmark.errors import BenchmarkError
from asg_benchmark.protocol import QUICK_BUDGET, BenchmarkSpec, quick
from asg_benchmark.report import write_report
from asg_benchmark.runner import run_benchmark
from asg_benchmark.seeds import parse_seeds
from asg_benchmark.store import migrate


@dataclass
class Run:
    """Train every learning agent for the same budget, freeze it, evaluate it on the evaluation seeds."""

    agents: list[str] = field(default_factory=lambda: list(AGENT_NAMES))
    """agents: built-in names, names from asg_benchmark.register_agent, or import paths package.module:factory"""
    env: str = "ASG-Digits-v0"
    """environment id"""
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
           | Annotated[Compare, tyro.conf.subcommand("compare")] | Annotated[Migrate, tyro.conf.subcommand("migrate")])


def json_object(text: str, flag: str, example: str) -> dict[str, Any]:
    """The JSON object given to ``flag``, else a message with an example of the format."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchmarkError(f"{flag} takes a JSON object, e.g. {flag} '{example}'; got {text!r} ({exc})") from exc
    if not isinstance(value, dict):
        raise BenchmarkError(f"{flag} takes a JSON object, e.g. {flag} '{example}'; got {text!r}")
    return value


def spec_from(args: Run) -> tuple[BenchmarkSpec, Path]:
    """The benchmark and output folder that ``run``'s flags describe."""
    agent_kwargs = json_object(args.agent_kwargs, "--agent-kwargs", '{"ppo": {"n_steps": 16}}')
    bad = [name for name, value in agent_kwargs.items() if not isinstance(value, dict)]
    if bad:
        raise BenchmarkError(f"--agent-kwargs maps agent names to JSON objects; not objects: {bad}")
    budget = args.budget if args.budget is not None else QUICK_BUDGET if args.quick else None
    if budget is None:
        raise BenchmarkError("state the training budget of the learning agents: --budget ENV_STEPS")
    if args.out is None and not args.quick:
        raise BenchmarkError("give the results folder: --out DIR")
    out = Path(args.out) if args.out is not None else Path(tempfile.mkdtemp(prefix="asg_benchmark_quick_"))
    spec = BenchmarkSpec(env=args.env, agents=tuple(args.agents), train_seeds=tuple(parse_seeds(args.train_seeds)),
                         eval_seeds=tuple(parse_seeds(args.eval_seeds)), budget=budget, draws=args.draws,
                         env_kwargs=json_object(args.env_kwargs, "--env-kwargs", '{"total_steps": 100}'),
                         agent_kwargs=agent_kwargs, allow_few_seeds=args.allow_few_seeds, greedy=args.greedy)
    return (quick(spec) if args.quick else spec), out


def main(argv: list[str] | None = None) -> int:
    """The ``asg-benchmark`` console script; returns the exit status."""
    command = tyro.cli(Command, args=argv, prog="asg-benchmark")
    try:
        if isinstance(command, Report):
            seeds = None if command.eval_seeds is None else parse_seeds(command.eval_seeds)
            path = write_report(command.folder, reps=command.reps, eval_seeds=seeds, out=command.out,
                                storage=command.storage)
            print(f"report in {path}")
            return 0
        if isinstance(command, Migrate):
            for folder in command.folders:
                done = migrate(folder)
                print(f"{folder}: {done.rows} rows ({done.duplicates} repeated lines read once) and {done.runs} "
                      f"runs moved into {done.database}; results.csv is now exported from it")
            return 0
        if isinstance(command, Compare):
            print(write_comparison(command.folder_a, command.folder_b, command.out, reps=command.reps), end="")
            return 0
        spec, out = spec_from(command)
        summary = run_benchmark(spec, out, report=False, reuse=command.reuse, storage=command.storage)
        path = write_report(out, reps=command.reps, storage=command.storage)
    except (BenchmarkError, FileNotFoundError) as exc:
        print(f"asg-benchmark: error: {exc}", file=sys.stderr)
        return 2
    print(f"{summary.cells_written} new episodes; results and report in {out} ({path.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
