"""Training runs side by side, from their ``episodes.csv`` (``asg-benchmark train`` or a benchmark's
``agents/<row>-seed<k>/``): return and policy entropy over the first and last 20 % of episodes, as the
benchmark report's Training section computes them, and ``training.png`` (return and entropy per episode).

    python -m experiments.studies.training_runs paired=results/recipe_pilot/paired_digits_seed1000/episodes.csv \\
        horizon_seed1=results/benchmark_agents/v0.2_30seeds/agents/horizon-seed1/episodes.csv --out results/recipe_pilot
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import tyro

from asg_benchmark import plot_training, summarize_training
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
    summaries = summarize_training(runs)
    result = {label: {"episodes": s.episodes, "return_first": round(s.return_early, 4),
                      "return_last": round(s.return_late, 4),
                      "entropy_first": None if math.isnan(s.entropy_early) else round(s.entropy_early, 4),
                      "entropy_last": None if math.isnan(s.entropy_late) else round(s.entropy_late, 4)}
              for label, s in summaries.items()}
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        plot_training(runs, Path(args.out) / "training.png")
    return report_result(result, args.out, "training_runs", args)


if __name__ == "__main__":
    main()
