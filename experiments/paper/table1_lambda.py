"""Table 1: ablation of the proxy-guidance weight λ on ASG-Digits-v0.

The "hand_tuned" constant policy (backbone 0.1·η_base, head η_base), as in the paper, for
λ ∈ {0, 0.01, 0.05, 0.1, 0.5, 1} (λ = 0 is the unguided reference) and several seeds.

Writes ``results/table1_lambda/{curves.csv, table.md, curves.png, provenance.json}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from experiments.common import REPO
from experiments.runner import CurveArgs, Setting, constant, parse_curve_args, run_curve_experiment


@dataclass
class Args(CurveArgs):
    """λ ablation of proxy guidance (Table 1)."""

    QUICK: ClassVar[dict[str, Any]] = {**CurveArgs.QUICK, "lams": [0.0, 0.1]}

    lams: list[float] = field(default_factory=lambda: [0.0, 0.01, 0.05, 0.1, 0.5, 1.0])
    """λ values (0: the unguided reference)"""
    policy: str = "hand_tuned"
    """constant-policy preset"""
    total_steps: int = 300
    env: str = "ASG-Digits-v0"
    """a classification env id of the Digits family (ASG-Digits-v0, ASG-DigitsOnPhotos-v1, -v0)"""
    out: str = str(REPO / "results" / "table1_lambda")


def main(argv: list[str] | None = None) -> Path:
    args = parse_curve_args(Args, argv)
    settings = [Setting(args.policy, lam, constant(args.policy)) for lam in args.lams]
    return run_curve_experiment(args, args.env, settings, label=lambda s, lam: f"λ = {lam:g}",
                                title=f"{args.env}: λ ablation ({args.policy})",
                                sort_key=lambda r: float(r["setting"][4:]), reference=lambda s, lam: (s, 0.0))


if __name__ == "__main__":
    main()
