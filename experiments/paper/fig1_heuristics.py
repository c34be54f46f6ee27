"""Fig. 1 + Fig. 5: learning-rate heuristics without and with proxy guidance on ASG-Digits-v0.

Settings (constant policies): "all_large" (every coordinate at η_base), "hand_tuned" (backbone
0.1·η_base, head η_base) and "head_only" (backbone frozen), each with λ = 0 (Fig. 1) and with
proxy guidance λ > 0 (Fig. 5; not for head_only, where L_KL stays exactly 0). Long episodes with
periodic evaluation on real MNIST show whether accuracy peaks early and decays without guidance.

Writes ``results/fig1_heuristics/{curves.csv, table.md, curves.png, provenance.json}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from experiments.common import REPO
from experiments.runner import CurveArgs, Setting, constant, parse_curve_args, run_curve_experiment


@dataclass
class Args(CurveArgs):
    """LR heuristics with and without proxy guidance (Fig. 1 and Fig. 5)."""

    settings: list[str] = field(default_factory=lambda: ["all_large", "hand_tuned", "head_only"])
    """constant-policy presets"""
    lam: float = 0.1
    """λ of the proxy-guided runs"""
    total_steps: int = 600
    eval_every: int = 50
    env: str = "ASG-Digits-v0"
    """a classification env id of the Digits family (ASG-Digits-v0, ASG-DigitsOnPhotos-v1, -v0)"""
    out: str = str(REPO / "results" / "fig1_heuristics")


def label(setting: str, lam: float) -> str:
    return f"{setting}, λ={lam:g}" if lam > 0 else f"{setting}, no guidance"


def main(argv: list[str] | None = None) -> Path:
    args = parse_curve_args(Args, argv)
    settings = [Setting(preset, lam, constant(preset)) for preset in args.settings for lam in (0.0, args.lam)
                if not (preset == "head_only" and lam > 0)]  # head_only: L_KL is 0, guidance changes nothing
    return run_curve_experiment(args, args.env, settings, label=label,
                                title=f"{args.env}: LR heuristics ± proxy guidance",
                                reference=lambda s, lam: (s, 0.0))  # each heuristic with guidance vs without


if __name__ == "__main__":
    main()
