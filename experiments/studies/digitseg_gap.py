"""Is ASG-DigitSeg-v0 limited by learning or by the synthetic-to-real gap?

Trains the hand-tuned constant policy without guidance for several episode lengths, then scores
the final FCN on *held-out synthetic* scenes (the source domain, unseen rendered scenes) and on the
env's real scenes, next to the mIoU of predicting background everywhere (the floor: ~96 % of the
pixels are background). A low source mIoU means the FCN has not learnt to segment digits yet,
whatever the domain; a high source and low target mIoU is the domain gap that ASG is about.

Writes ``results/digitseg_gap/{runs.csv, table.md, provenance.json}``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import torch
import tyro

import asg_gym  # noqa: F401
from agents import ConstantPolicy
from asg_gym import (
    BACKGROUND,
    DIGIT_SEG_DEFAULTS,
    IGNORE_INDEX,
    TARGET_SCENES_SEED,
    SegmentationEvaluation,
    TensorBatches,
    real_scenes,
    synthetic_scenes,
)
from experiments.common import REPO, ResumableCSV, parse_env_kwargs, run_episode, write_provenance
from experiments.curves import QUICK_SEG_ENV

HELD_OUT_SOURCE_SEED = 7  # rendered scenes the episode never trains on (the env renders its source from source_seed)
FIELDS = ["total_steps", "base_lr", "seed", "source_miou", "target_miou", "source_floor", "target_floor",
          "source_pixel_accuracy", "target_pixel_accuracy", "seconds"]


@dataclass
class Args:
    """Source (held-out synthetic) vs target (real) mIoU of hand-tuned training without guidance."""

    steps: list[int] = field(default_factory=lambda: [300, 1200])
    """episode lengths (SGD steps)"""
    lrs: list[float] = field(default_factory=lambda: [DIGIT_SEG_DEFAULTS["base_lr"]])
    """base learning rates"""
    seeds: list[int] = field(default_factory=lambda: [0])
    """episode seeds"""
    eval_size: int = DIGIT_SEG_DEFAULTS["eval_size"]
    """scenes per evaluation set"""
    env_kwargs: str = "{}"
    """extra gym.make keywords, a JSON object, e.g. '{"scene_size": 48}'"""
    out: str = str(REPO / "results" / "digitseg_gap")
    """output folder"""
    quick: bool = False
    """toy FCN, 4 steps: a smoke test"""


def background_floor(labels: torch.Tensor) -> float:
    """mIoU of predicting background everywhere: background's pixel share as its IoU, 0 for every
    digit present in ``labels`` (mIoU averages over the classes that occur)."""
    present = int(torch.unique(labels[labels != IGNORE_INDEX]).numel())
    return float((labels == BACKGROUND).double().mean()) / max(present, 1)


def main(argv: list[str] | None = None) -> Path:
    args = tyro.cli(Args, args=argv)
    env_kwargs = {**DIGIT_SEG_DEFAULTS, **parse_env_kwargs(args.env_kwargs)}
    if args.quick:
        args.steps, args.eval_size = [4], 8
        args.out = tempfile.mkdtemp(prefix="asg_digitseg_gap_")
        env_kwargs.update(QUICK_SEG_ENV)
    if env_kwargs.get("source_seed", 0) == HELD_OUT_SOURCE_SEED:
        raise SystemExit(f"source_seed {HELD_OUT_SOURCE_SEED} renders the held-out scenes themselves; pick another")
    out = Path(args.out)
    write_provenance(out, seeds=args.seeds, args=vars(args))
    table = ResumableCSV(out / "runs.csv", FIELDS, ["total_steps", "base_lr", "seed"])
    size, digits = env_kwargs["scene_size"], env_kwargs["max_digits"]
    sets = {"source": synthetic_scenes(args.eval_size, size, digits, HELD_OUT_SOURCE_SEED),
            "target": real_scenes(args.eval_size, size, digits, TARGET_SCENES_SEED)}
    for steps in args.steps:
        for lr in args.lrs:
            for seed in args.seeds:
                if table.done(total_steps=steps, base_lr=lr, seed=seed):
                    continue
                env = gym.make("ASG-DigitSeg-v0", **{**env_kwargs, "lam": 0.0, "base_lr": lr, "total_steps": steps,
                                                     "eval_every": 0, "eval_size": args.eval_size})
                result = run_episode(env, ConstantPolicy("hand_tuned"), seed)
                optimizee = env.unwrapped.optimizee
                row = {"total_steps": steps, "base_lr": lr, "seed": seed, "seconds": round(result["seconds"], 1)}
                for domain, (images, labels) in sets.items():
                    batches = TensorBatches(images, labels, optimizee.network.mean, optimizee.network.std,
                                            optimizee.device, batch_size=50)
                    scores = SegmentationEvaluation(batches)(optimizee)
                    row[f"{domain}_miou"] = scores["target_miou"]
                    row[f"{domain}_pixel_accuracy"] = scores["target_pixel_accuracy"]
                    row[f"{domain}_floor"] = background_floor(labels)
                env.close()
                table.append(row)
                print(f"{steps} steps, η_base {lr:g}, seed {seed}: source mIoU {row['source_miou']:.3f}, "
                      f"target mIoU {row['target_miou']:.3f}", flush=True)
    write_table(table.rows, out / "table.md")
    return out


def write_table(rows: list[dict[str, str]], path: Path) -> None:
    lines = ["| SGD steps | η_base | seed | source mIoU (%) | target mIoU (%) | "
             "all-background floor source / target (%) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['total_steps']} | {float(r['base_lr']):g} | {r['seed']} | "
                     f"{100 * float(r['source_miou']):.1f} "
                     f"| {100 * float(r['target_miou']):.1f} | {100 * float(r['source_floor']):.1f} / "
                     f"{100 * float(r['target_floor']):.1f} |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
