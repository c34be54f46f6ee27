"""Sweep η_base and λ on ASG-DigitSeg-v0 to choose the embedded segmentation env's defaults.

Short episodes of two constant policies ("hand_tuned": backbone 0.1·η_base, head η_base, for
every λ; "all_large": every coordinate at η_base, at the middle λ) per base LR. A setting is
``<policy>@<base LR>``. ``seconds`` in the CSV gives the time per episode (only comparable
between runs made on an otherwise idle machine).

Writes ``results/sweep_digitseg/{curves.csv, table.md, curves.png, provenance.json}``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym

import asg_gym  # noqa: F401
from agents import ConstantPolicy
from experiments.common import REPO, ResumableCSV, arg, parse_args, write_provenance
from experiments.curves import curve_fields, run_curves, write_outputs

QUICK_SEG_ENV = {"network": "fcn_toy", "weights": None, "scene_size": 32, "num_source_scenes": 64,
                 "eval_size": 8, "batch_size": 4, "patch_size": 1}


@dataclass
class Args:
    """η_base × λ sweep of ASG-DigitSeg-v0 defaults."""

    lrs: list = arg([3e-3, 1e-2], "base learning rates")
    lams: list = arg([0.0, 1.0, 10.0], "λ values (hand_tuned); all_large runs at the middle one")
    seeds: list = arg([0], "episode seeds")
    total_steps: int = arg(100, "SGD steps per episode")
    eval_every: int = arg(50, "evaluate every this many steps")
    env_kwargs: str = arg("{}", "extra gym.make keywords as JSON")
    out: str = arg(str(REPO / "results" / "sweep_digitseg"), "output folder")
    quick: bool = arg(False, "toy FCN, 4 steps: a smoke test")


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(Args, argv)
    env_kwargs = json.loads(args.env_kwargs)
    if args.quick:
        args.lrs, args.lams, args.total_steps, args.eval_every = [1e-2], [0.0, 1.0], 4, 2
        args.out = tempfile.mkdtemp(prefix="asg_sweep_seg_")
        env_kwargs.update(QUICK_SEG_ENV)
    out = Path(args.out)
    write_provenance(out, seeds=args.seeds, args=vars(args))
    table = ResumableCSV(out / "curves.csv", curve_fields("target_miou"), ["setting", "lam", "seed"])
    middle = args.lams[len(args.lams) // 2]
    runs = [(f"{policy}@{lr:g}", lam, seed) for lr in args.lrs
            for policy, lams in (("hand_tuned", args.lams), ("all_large", [middle])) for lam in lams
            for seed in args.seeds]

    def make_env(setting: str, lam: float) -> gym.Env:
        base_lr = float(setting.split("@")[1])
        return gym.make("ASG-DigitSeg-v0", lam=lam, base_lr=base_lr, total_steps=args.total_steps,
                        eval_every=args.eval_every, **env_kwargs)

    run_curves(table, runs, make_env, lambda setting, env: ConstantPolicy(setting.split("@")[0]))
    write_outputs(out, lambda s, lam: f"{s}, λ={lam:g}", "ASG-DigitSeg-v0: base LR × λ sweep",
                  sort_key=lambda r: r["setting"])
    return out


if __name__ == "__main__":
    main()
