"""Table 1: ablation of the proxy-guidance weight λ on ASG-Digits-v0.

The "hand_tuned" constant policy (backbone 0.1·η_base, head η_base), as in the paper, for
λ ∈ {0, 0.01, 0.05, 0.1, 0.5, 1} (λ = 0 is the unguided reference) and several seeds.

Writes ``results/table1_lambda/{curves.csv, table.md, curves.png, provenance.json}``.
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
from experiments.curves import CURVE_FIELDS, QUICK_ENV, run_curves, write_outputs


@dataclass
class Args:
    """λ ablation of proxy guidance (Table 1)."""

    lams: list = arg([0.0, 0.01, 0.05, 0.1, 0.5, 1.0], "λ values")
    policy: str = arg("hand_tuned", "constant-policy preset")
    seeds: list = arg([0, 1, 2], "episode seeds")
    total_steps: int = arg(300, "SGD steps per episode")
    eval_every: int = arg(100, "evaluate on real digits every this many steps")
    env_kwargs: str = arg("{}", "extra gym.make keywords as JSON")
    out: str = arg(str(REPO / "results" / "table1_lambda"), "output folder")
    quick: bool = arg(False, "toy backbone, 4 steps, one seed: a smoke test")


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(Args, argv)
    env_kwargs = json.loads(args.env_kwargs)
    if args.quick:
        args.seeds, args.lams, args.total_steps, args.eval_every = [0], [0.0, 0.1], 4, 2
        args.out = tempfile.mkdtemp(prefix="asg_table1_")
        env_kwargs.update(QUICK_ENV)
    out = Path(args.out)
    write_provenance(out, seeds=args.seeds, args=vars(args))
    table = ResumableCSV(out / "curves.csv", CURVE_FIELDS, ["setting", "lam", "seed"])
    runs = [(args.policy, lam, seed) for lam in args.lams for seed in args.seeds]

    def make_env(setting: str, lam: float) -> gym.Env:
        return gym.make("ASG-Digits-v0", lam=lam, total_steps=args.total_steps, eval_every=args.eval_every,
                        **env_kwargs)

    run_curves(table, runs, make_env, lambda setting, env: ConstantPolicy(setting))
    write_outputs(out, lambda s, lam: f"λ = {lam:g}", f"ASG-Digits-v0: λ ablation ({args.policy})",
                  sort_key=lambda r: float(r["setting"][4:]), reference=lambda s, lam: (s, 0.0))
    return out


if __name__ == "__main__":
    main()
