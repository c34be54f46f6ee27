"""Sweep base LR, image size and λ on ASG-Digits-v0 to choose the env's defaults.

Three stages, each a grid of episodes of two constant policies ("all_large": every coordinate
at η_base; "hand_tuned": backbone 0.1·η_base, head η_base):

1. image size (at ``--stage1-lr``): final target accuracy (time per step: ``bench_env.py``;
   the ``ms_per_step`` column is wall time of the episode, only comparable between runs made
   on an otherwise idle machine);
2. base LR (at ``--size``): where does "all_large" become risky (diverges or generalises worse)?
3. λ (at ``--size`` and ``--lr``).

Rows are appended to ``results/sweep_defaults/sweep.csv`` as they finish; rerunning skips
finished rows. ``--quick`` runs a toy-backbone smoke version into a temporary folder.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import tyro

import asg_gym  # noqa: F401  (registers the ids)
from agents import ConstantPolicy
from experiments.common import REPO, ResumableCSV, run_episode, write_provenance

FIELDS = ["stage", "image_size", "base_lr", "lam", "policy", "seed", "total_steps", "diverged", "return",
          "final_loss_xe", "final_loss_kl", "target_accuracy", "old_task_agreement", "ms_per_step"]


@dataclass
class Args:
    """Sweep of ASG-Digits-v0 defaults."""

    sizes: list[int] = field(default_factory=lambda: [32, 48, 64])
    """image sizes of stage 1"""
    stage1_lr: float = 1e-3
    """base LR used in stage 1"""
    lrs: list[float] = field(default_factory=lambda: [3e-4, 1e-3, 3e-3, 1e-2])
    """base LRs of stage 2"""
    lams: list[float] = field(default_factory=lambda: [0.0, 0.1, 1.0])
    """λ values of stage 3 (empty list: skip the stage)"""
    size: int = 48
    """image size used in stages 2 and 3 (chosen from stage 1)"""
    lr: float = 1e-2
    """base LR used in stage 3 (chosen from stage 2)"""
    total_steps: int = 150
    """actions per episode"""
    seeds: list[int] = field(default_factory=lambda: [0])
    """episode seeds"""
    out: str = str(REPO / "results" / "sweep_defaults")
    """output folder"""
    quick: bool = False
    """toy backbone, 4 steps: a smoke test"""


def run_grid(args: Args, table: ResumableCSV) -> None:
    stage1 = [("size", s, args.stage1_lr, 0.1) for s in args.sizes]
    stage2 = [("lr", args.size, lr, 0.1) for lr in args.lrs]
    stage3 = [("lam", args.size, args.lr, lam) for lam in args.lams]
    env_kwargs = {"backbone": "toy", "num_source_images": 256, "eval_size": 100} if args.quick else {}
    for stage, size, lr, lam in stage1 + stage2 + stage3:
        for policy in ("all_large", "hand_tuned"):
            for seed in args.seeds:
                key = dict(stage=stage, image_size=size, base_lr=lr, lam=lam, policy=policy, seed=seed)
                if table.done(**key):
                    continue
                env = gym.make("ASG-Digits-v0", image_size=size, base_lr=lr, lam=lam, total_steps=args.total_steps,
                               eval_every=0, device="cpu", **env_kwargs)
                result = run_episode(env, ConstantPolicy(policy), seed)
                env.close()
                row = {**key, "total_steps": args.total_steps,
                       **{k: result[k] for k in FIELDS if k in result},
                       "ms_per_step": 1000 * result["seconds"] / args.total_steps}
                table.append(row)
                print(", ".join(f"{k}={v}" for k, v in row.items()), flush=True)


def write_table(table: ResumableCSV, path: Path) -> None:
    """The sweep as a markdown table, one line per configuration, the two policies side by side."""
    rows: dict[tuple[str, str, str], dict[str, dict[str, str]]] = {}
    for r in table.rows:
        rows.setdefault((r["image_size"], r["base_lr"], r["lam"]), {})[r["policy"]] = r
    lines = ["| image size | base LR | λ | all_large: target acc. / old-task agr. | "
             "hand_tuned: target acc. / old-task agr. |", "|---|---|---|---|---|"]
    for (size, lr, lam), by_policy in sorted(rows.items(), key=lambda kv: tuple(float(v) for v in kv[0])):
        cells = []
        for policy in ("all_large", "hand_tuned"):
            r = by_policy.get(policy)
            cells.append("–" if r is None else ("diverged" if r["diverged"] == "True" else
                         f"{100 * float(r['target_accuracy']):.1f} / {100 * float(r['old_task_agreement']):.1f}"))
        lines.append(f"| {size} | {float(lr):g} | {float(lam):g} | {cells[0]} | {cells[1]} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    args = tyro.cli(Args, args=argv)
    if args.quick:
        args.sizes, args.lrs, args.lams, args.size, args.total_steps = [32], [1e-3, 1e-1], [0.1], 32, 4
        args.out = tempfile.mkdtemp(prefix="asg_sweep_")
    out = Path(args.out)
    write_provenance(out, seeds=args.seeds, args=vars(args))
    # A configuration run in an earlier stage is not run again (the key leaves out the stage).
    table = ResumableCSV(out / "sweep.csv", FIELDS, ["image_size", "base_lr", "lam", "policy", "seed"])
    run_grid(args, table)
    write_table(table, out / "table.md")
    print(f"results in {out / 'sweep.csv'} and {out / 'table.md'}")


if __name__ == "__main__":
    main()
