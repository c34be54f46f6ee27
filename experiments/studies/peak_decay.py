"""Fig. 1's peak-and-decay, counted in a curve folder: per setting, how many seeds end below their best earlier
evaluation (by more than ``--margin``), with the seconds per episode (least and median) beside it.

    python -m experiments.studies.peak_decay results/task_screen/digits96/curves.csv --margin 0.02
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import tyro

from experiments.curves import load_curves


@dataclass
class Args:
    """Count the seeds of each setting whose final accuracy is below an earlier evaluation."""

    curves: tyro.conf.Positional[Path]
    """a curves.csv written by the curve scripts (experiments/paper/fig1_heuristics, table1_lambda, …)"""
    margin: float = 0.0
    """count a seed only when its final accuracy is this much below its best earlier evaluation"""


def main(argv: list[str] | None = None) -> list[str]:
    args = tyro.cli(Args, args=argv)
    curves = load_curves(args.curves)
    seconds: dict[tuple[str, float], dict[int, float]] = defaultdict(dict)  # every row of an episode has its seconds
    with args.curves.open(newline="") as f:
        for row in csv.DictReader(f):
            seconds[(row["setting"], float(row["lam"]))][int(row["seed"])] = float(row["seconds"])
    lines = []
    for key, by_seed in curves.items():
        decayed = 0
        for points in by_seed.values():
            points = sorted(points)
            earlier = [score for _, score, _ in points[:-1]]
            decayed += bool(earlier) and points[-1][1] < max(earlier) - args.margin
        per_episode = list(seconds[key].values())
        lines.append(f"{key[0]}, λ = {key[1]}: {decayed}/{len(by_seed)} seeds end below an earlier evaluation "
                     f"(by more than {args.margin:g}); seconds per episode: least {min(per_episode):.0f}, "
                     f"median {statistics.median(per_episode):.0f}")
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
