"""Training runs side by side, from their ``episodes.csv`` (``asg-benchmark train`` or a benchmark's
``agents/<row>-seed<k>/``): return and policy entropy over the first and last 20 % of episodes (what
``asg-benchmark train`` writes into a policy's card), and ``training.png`` (return and entropy per episode).

    python -m experiments.studies.training_runs paired=results/recipe_pilot/paired_digits_seed1000/episodes.csv \\
        horizon_seed1=results/benchmark_agents/v0.2_30seeds/agents/horizon-seed1/episodes.csv --out results/recipe_pilot
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import tyro

from asg_benchmark import how_it_trained, plot_training
from experiments.common import report_result


@dataclass
class Args:
    """Summarise labelled training runs (``label=path/to/episodes.csv``)."""

    runs: tyro.conf.Positional[list[str]]
    """one ``label=episodes.csv`` per run"""
    out: str | None = None
    """folder for training_runs.json, training.png and the provenance (None: print only)"""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv)
    runs = {}
    for item in args.runs:
        label, _, path = item.partition("=")
        if not path:
            raise SystemExit(f"each run reads label=path/to/episodes.csv, got {item!r}")
        with Path(path).open(newline="") as f:
            runs[label] = [list(csv.DictReader(f))]
    result = {label: {"episodes": len(rows), **how_it_trained(rows)} for label, (rows,) in runs.items()}
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        plot_training(runs, Path(args.out) / "training.png")
    return report_result(result, args.out, "training_runs", args)


if __name__ == "__main__":
    main()
