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

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

import asg_gym  # noqa: F401
from agents import ConstantPolicy, ReinforceLSTMAgent, load_pretrained
from experiments.common import REPO, ResumableCSV, arg, parse_args, write_provenance
from experiments.curves import CURVE_FIELDS, QUICK_ENV, copy_prefix, run_curves, write_outputs


@dataclass
class Args:
    """Retention vs generalisation, with ROAD-style, L2 and SI baselines (Table 2)."""

    lam: float = arg(0.1, "λ of the proxy-guided rows")
    feature_l2: float = arg(0.01, "weight of the feature-level L2 regulariser (row 6)")
    weight_l2: float = arg(1.0, "weight of the vanilla L2 regulariser (row 7)")
    si: float = arg(1.0, "weight of the Synaptic Intelligence regulariser (row 8)")
    policy: str = arg("", "saved ReinforceLSTMAgent for row 9 ('' = the shipped policy)")
    seeds: list = arg([0, 1, 2], "episode seeds")
    total_steps: int = arg(300, "SGD steps per episode")
    eval_every: int = arg(100, "evaluate every this many steps")
    env_kwargs: str = arg("{}", "extra gym.make keywords as JSON")
    reuse: str = arg(str(REPO / "results" / "fig1_heuristics"),
                     "take rows 1–5 from this Fig. 1 folder when it ran them with the same env ('' = run them)")
    out: str = arg(str(REPO / "results" / "table2_retention"), "output folder")
    quick: bool = arg(False, "toy backbone, 4 steps, one seed: a smoke test")
    report_only: bool = arg(False, "only rewrite table.md and the plots from the rows already in curves.csv")


def rows(args: Args) -> dict[str, tuple[str, float, dict[str, Any]]]:
    """setting → (policy, λ, extra env keywords)."""
    return {
        "1_all_large": ("all_large", 0.0, {}),
        "2_all_large+PG": ("all_large", args.lam, {}),
        "3_hand_tuned": ("hand_tuned", 0.0, {}),
        "4_hand_tuned+PG": ("hand_tuned", args.lam, {}),
        "5_head_only": ("head_only", 0.0, {}),
        "6_feature_l2": ("hand_tuned", 0.0, {"regulariser": "feature_l2", "regulariser_weight": args.feature_l2}),
        "7_weight_l2": ("hand_tuned", 0.0, {"regulariser": "weight_l2", "regulariser_weight": args.weight_l2}),
        "8_si": ("hand_tuned", 0.0, {"regulariser": "si", "regulariser_weight": args.si}),
        "9_asg": ("learned", args.lam, {}),
    }


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(Args, argv)
    env_kwargs = json.loads(args.env_kwargs)
    if args.quick:
        args.seeds, args.total_steps, args.eval_every = [0], 4, 2
        args.out = tempfile.mkdtemp(prefix="asg_table2_")
        env_kwargs.update(QUICK_ENV)
    out = Path(args.out)
    write_provenance(out, seeds=args.seeds, args=vars(args))
    settings = rows(args)
    table = ResumableCSV(out / "curves.csv", CURVE_FIELDS, ["setting", "lam", "seed"])

    def make_env(setting: str, lam: float) -> gym.Env:
        return gym.make("ASG-Digits-v0", lam=lam, total_steps=args.total_steps, eval_every=args.eval_every,
                        **env_kwargs, **settings[setting][2])

    def make_agent(setting: str, env: gym.Env) -> Any:
        policy = settings[setting][0]
        if policy != "learned":
            return ConstantPolicy(policy)
        if args.quick:
            return ReinforceLSTMAgent(env, seed=0)
        return ReinforceLSTMAgent.load(args.policy) if args.policy else load_pretrained("ASG-Digits-v0")

    if args.reuse and not args.quick:
        # Rows 1–5 are constant policies of Fig. 1 (same seeds, env): their first total_steps are these rows.
        donors = {(name, lam): (policy, lam) for name, (policy, lam, extra) in settings.items()
                  if policy != "learned" and not extra}
        copied = copy_prefix(Path(args.reuse), table, donors, args.seeds, args.total_steps, args.eval_every, env_kwargs)
        if copied:
            write_provenance(out, copied_from=args.reuse, copied_rows=copied)
    runs = [(name, lam, seed) for name, (_, lam, _) in settings.items() for seed in args.seeds]
    if not args.report_only:
        run_curves(table, runs, make_env, make_agent)
    write_outputs(out, lambda setting, lam: setting.replace("_", " ", 1),
                  "ASG-Digits-v0: retention vs generalisation (Table 2)", sort_key=lambda r: r["setting"],
                  reference=lambda s, lam: ("3_hand_tuned", 0.0))  # the paper's baseline row
    return out


if __name__ == "__main__":
    main()
