"""Table 2: target accuracy vs old-task retention, with lifelong-learning baselines.

Rows (λ = 0 unless said): #1 all_large; #2 all_large + proxy guidance; #3 hand_tuned;
#4 hand_tuned + proxy guidance; #5 head_only ("oracle": backbone frozen); #6 hand_tuned +
feature-level L2 to the frozen model (ROAD-style); #7 hand_tuned + vanilla L2 to the pretrained
weights; #8 hand_tuned + Synaptic Intelligence; #9 the learned RL-L2O policy + proxy guidance
(ASG). Retention is the top-1 agreement of the student's ImageNet head with the frozen teacher
on the real target images (no ImageNet data ships on PyPI).

Writes ``results/table2_retention/{curves.csv, table.md, curves.png, provenance.json}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from experiments.common import REPO, ResumableCSV, write_provenance
from experiments.curves import copy_prefix
from experiments.runner import (
    CurveArgs,
    Setting,
    constant,
    frozen_policy,
    learned_setting,
    parse_curve_args,
    run_curve_experiment,
)

ENV = "ASG-Digits-v0"
LEARNED = "learned"


@dataclass
class Args(CurveArgs):
    """Retention vs generalisation, with ROAD-style, L2 and SI baselines (Table 2)."""

    lam: float = 0.1
    """λ of the proxy-guided rows"""
    feature_l2: float = 0.01
    """weight of the feature-level L2 regulariser (row 6)"""
    weight_l2: float = 1.0
    """weight of the vanilla L2 regulariser (row 7)"""
    si: float = 1.0
    """weight of the Synaptic Intelligence regulariser (row 8)"""
    policy: str | None = None
    """saved ReinforceLSTMAgent for row 9 (None: the shipped policy)"""
    total_steps: int = 300
    reuse: str | None = str(REPO / "results" / "fig1_heuristics")
    """take rows 1–5 from this Fig. 1 folder when it ran them with the same env (None or '': run them)"""
    out: str = str(REPO / "results" / "table2_retention")
    rows: list[int] = field(default_factory=lambda: list(range(1, 10)))
    """run only these rows (numbers 1–9; row 3, the reference, always runs), e.g. --rows 3 4 9 --seeds 100 ... 109
    for a rerun of the learned row on more seeds, into its own --out"""


def rows(args: Args) -> dict[str, tuple[str, float, dict[str, Any]]]:
    """setting → (policy, λ, extra env keywords), the rows ``--rows`` asks for."""
    unknown = sorted(set(args.rows) - set(range(1, 10)))
    if unknown:
        raise SystemExit(f"--rows: Table 2 has rows 1–9, not {unknown}")
    table = {
        "1_all_large": ("all_large", 0.0, {}),
        "2_all_large+PG": ("all_large", args.lam, {}),
        "3_hand_tuned": ("hand_tuned", 0.0, {}),
        "4_hand_tuned+PG": ("hand_tuned", args.lam, {}),
        "5_head_only": ("head_only", 0.0, {}),
        "6_feature_l2": ("hand_tuned", 0.0, {"regulariser": "feature_l2", "regulariser_weight": args.feature_l2}),
        "7_weight_l2": ("hand_tuned", 0.0, {"regulariser": "weight_l2", "regulariser_weight": args.weight_l2}),
        "8_si": ("hand_tuned", 0.0, {"regulariser": "si", "regulariser_weight": args.si}),
        "9_asg": (LEARNED, args.lam, {}),
    }
    wanted = {*args.rows, 3}
    return {name: row for name, row in table.items() if int(name.split("_")[0]) in wanted}


def reuse_fig1(donor: Path, args: Args, table: ResumableCSV) -> None:
    """Rows 1–5 are constant policies of Fig. 1 (same seeds, env): their first total_steps are these rows."""
    donors = {(name, lam): (policy, lam) for name, (policy, lam, extra) in rows(args).items()
              if policy != LEARNED and not extra}
    copied = copy_prefix(donor, table, donors, args.seeds, args.total_steps, args.eval_every, args.gym_kwargs())
    if copied:
        write_provenance(Path(args.out), copied_from=str(donor), copied_rows=copied)


def main(argv: list[str] | None = None) -> Path:
    args = parse_curve_args(Args, argv)
    learned = frozen_policy(args.policy, ENV, untrained=args.quick)
    settings = [learned_setting(name, lam, learned, args, extra) if policy == LEARNED
                else Setting(name, lam, constant(policy), extra) for name, (policy, lam, extra) in rows(args).items()]
    return run_curve_experiment(
        args, ENV, settings, label=lambda setting, lam: setting.replace("_", " ", 1),
        title="ASG-Digits-v0: retention vs generalisation (Table 2)", sort_key=lambda r: r["setting"],
        reference=lambda s, lam: ("3_hand_tuned", 0.0),  # the paper's baseline row
        prefill=partial(reuse_fig1, Path(args.reuse), args) if args.reuse and not args.quick else None)


if __name__ == "__main__":
    main()
