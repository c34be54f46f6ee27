"""Sweep η_base and λ on ASG-DigitSeg-v0 to choose the embedded segmentation env's defaults.

Short episodes of two constant policies ("hand_tuned": backbone 0.1·η_base, head η_base, for
every λ; "all_large": every coordinate at η_base, at the middle λ) per base LR. A setting is
``<policy>@<base LR>``. ``seconds`` in the CSV gives the time per episode (only comparable
between runs made on an otherwise idle machine).

Writes ``results/sweep_digitseg/{curves.csv, table.md, curves.png, provenance.json}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from experiments.common import REPO
from experiments.curves import QUICK_SEG_ENV
from experiments.runner import CurveArgs, Setting, constant, parse_curve_args, run_curve_experiment


@dataclass
class Args(CurveArgs):
    """η_base × λ sweep of ASG-DigitSeg-v0 defaults."""

    QUICK: ClassVar[dict[str, Any]] = {"lrs": [1e-2], "lams": [0.0, 1.0], "total_steps": 4, "eval_every": 2}
    QUICK_ENV: ClassVar[dict[str, Any]] = QUICK_SEG_ENV

    lrs: list[float] = field(default_factory=lambda: [3e-3, 1e-2])
    """base learning rates"""
    lams: list[float] = field(default_factory=lambda: [0.0, 1.0, 10.0])
    """λ values (hand_tuned); all_large runs at the middle one"""
    seeds: list[int] = field(default_factory=lambda: [0])
    total_steps: int = 100
    eval_every: int = 50
    out: str = str(REPO / "results" / "sweep_digitseg")


def settings(args: Args) -> list[Setting]:
    middle = args.lams[len(args.lams) // 2]
    grid = []
    for lr in args.lrs:
        for policy, lams in (("hand_tuned", args.lams), ("all_large", [middle])):
            name = f"{policy}@{lr:g}"
            # The env runs at the LR the setting's name records (6 significant digits): the CSV names its env.
            grid += [Setting(name, lam, constant(policy), {"base_lr": float(name.split("@")[1])}) for lam in lams]
    return grid


def main(argv: list[str] | None = None) -> Path:
    args = parse_curve_args(Args, argv)
    return run_curve_experiment(args, "ASG-DigitSeg-v0", settings(args), label=lambda s, lam: f"{s}, λ={lam:g}",
                                title="ASG-DigitSeg-v0: base LR × λ sweep", sort_key=lambda r: r["setting"],
                                metric="target_miou")


if __name__ == "__main__":
    main()
