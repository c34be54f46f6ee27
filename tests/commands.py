"""The installed ``asg-benchmark`` subcommands called as its console script calls them: flags in, result out."""

from __future__ import annotations

from pathlib import Path

import tyro

from asg_benchmark import demo as demo_command
from asg_benchmark import ship as ship_command
from asg_benchmark import train as train_command
from asg_benchmark.cli import Run, run


def train(argv: list[str]) -> Path:
    """``asg-benchmark train ARGV``; returns the final policy's path."""
    return train_command.main(tyro.cli(train_command.Train, args=argv))


def ship(argv: list[str]) -> Path:
    """``asg-benchmark ship ARGV``; returns the shipped policy's path."""
    return ship_command.main(tyro.cli(ship_command.Ship, args=argv))


def demo(argv: list[str]) -> None:
    """``asg-benchmark demo ARGV``."""
    demo_command.main(tyro.cli(demo_command.Demo, args=argv))


def benchmark(argv: list[str]) -> Path:
    """``asg-benchmark run ARGV`` (with ``--out``); returns the results folder."""
    args = tyro.cli(Run, args=argv)
    assert args.out is not None
    run(args)
    return Path(args.out)
