"""Fig. 1 + Fig. 5: learning-rate heuristics without and with proxy guidance on ASG-Digits-v0.

Settings (constant policies): "all_large" (every coordinate at η_base), "hand_tuned" (backbone
0.1·η_base, head η_base) and "head_only" (backbone frozen), each with λ = 0 (Fig. 1) and with
proxy guidance λ > 0 (Fig. 5; not for head_only, where L_KL stays exactly 0). Long episodes with
periodic evaluation on real MNIST show whether accuracy peaks early and decays without guidance.

Writes ``results/fig1_heuristics/{curves.csv, table.md, curves.png, provenance.json}``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym

import asg_gym  # noqa: F401
from agents import ConstantPolicy
from experiments.common import REPO, ResumableCSV, arg, parse_args, write_provenance
from experiments.curves import CURVE_FIELDS, QUICK_ENV, run_curves, write_outputs


@dataclass
class Args:
    """LR heuristics with and without proxy guidance (Fig. 1 and Fig. 5)."""

    settings: list = arg(["all_large", "hand_tuned", "head_only"], "constant-policy presets")
    lam: float = arg(0.1, "λ of the proxy-guided runs")
    seeds: list = arg([0, 1, 2], "episode seeds")
    total_steps: int = arg(600, "SGD steps per episode")
    eval_every: int = arg(50, "evaluate on real digits every this many steps")
    env_kwargs: str = arg("{}", "extra gym.make keywords as JSON (e.g. '{\"image_size\": 32}')")
    out: str = arg(str(REPO / "results" / "fig1_heuristics"), "output folder")
    quick: bool = arg(False, "toy backbone, 4 steps, one seed: a smoke test")


def label(setting: str, lam: float) -> str:
    return f"{setting}, λ={lam:g}" if lam > 0 else f"{setting}, no guidance"


def main(argv: list[str] | None = None) -> Path:
    import json

    args = parse_args(Args, argv)
    env_kwargs = json.loads(args.env_kwargs)
    if args.quick:
        args.seeds, args.total_steps, args.eval_every, args.out = [0], 4, 2, tempfile.mkdtemp(prefix="asg_fig1_")
        env_kwargs.update(QUICK_ENV)
    out = Path(args.out)
    write_provenance(out, seeds=args.seeds, args=vars(args))
    table = ResumableCSV(out / "curves.csv", CURVE_FIELDS, ["setting", "lam", "seed"])
    runs = [(s, lam, seed) for s in args.settings for lam in (0.0, args.lam)
            for seed in args.seeds if not (s == "head_only" and lam > 0)]

    def make_env(setting: str, lam: float) -> gym.Env:
        return gym.make("ASG-Digits-v0", lam=lam, total_steps=args.total_steps, eval_every=args.eval_every,
                        **env_kwargs)

    run_curves(table, runs, make_env, lambda setting, env: ConstantPolicy(setting))
    write_outputs(out, label, "ASG-Digits-v0: LR heuristics ± proxy guidance",
                  reference=lambda s, lam: (s, 0.0))  # each heuristic with guidance vs without
    return out


if __name__ == "__main__":
    main()
