"""Signal-to-noise of the reward per decision window (``sgd_steps_per_action``), on any embedded env.

A fixed policy (the hand-tuned constant scales) runs the same number of SGD steps with decision
windows of w SGD steps each; the reward of a decision is the drop of the window-mean loss. For
each w: the mean reward per decision, its standard deviation over decisions and seeds, and their
ratio (SNR). A learner's REINFORCE gradient sees the signal through this noise, so a window whose
SNR is higher makes the same budget of SGD steps more informative per decision.

That std also holds the reward's drift over an episode (large drops early, small late), which a
baseline per decision position removes. So the table adds the noise such a baseline leaves: the std
over seeds at the same decision, pooled over decisions (``within-position std``; needs ≥ 2 seeds).

Writes ``rewards.csv``, ``table.md`` and ``provenance.json`` into ``--out`` (default ``results/reward_snr/``);
resumable per (window, seed).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import tyro

import asg_gym  # noqa: F401  (registers the ids)
from agents import ConstantPolicy
from experiments.common import REPO, ResumableCSV, parse_env_kwargs, write_provenance
from experiments.curves import QUICK_ENV, QUICK_SEG_ENV

QUICK_ENVS: dict[str, dict[str, Any]] = {"ASG-Digits-v0": QUICK_ENV, "ASG-DigitSeg-v0": QUICK_SEG_ENV}


@dataclass
class Args:
    """Reward signal-to-noise per decision window."""

    env: str = "ASG-Digits-v0"
    """the env id (an embedded one: ASG-Digits-v0 or ASG-DigitSeg-v0)"""
    windows: list[int] = field(default_factory=lambda: [1, 5, 10, 20])
    """decision windows (SGD steps per action)"""
    sgd_steps: int = 200
    """SGD steps per episode, the same for every window"""
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    """episode seeds"""
    policy: str = "hand_tuned"
    """the fixed policy (a constant preset)"""
    env_kwargs: str = "{}"
    """extra gym.make keywords, a JSON object"""
    out: str = str(REPO / "results" / "reward_snr")
    """output folder"""
    quick: bool = False
    """toy network, 20 SGD steps, windows 1 and 5, two seeds"""


def main(argv: list[str] | None = None) -> Path:
    args = tyro.cli(Args, args=argv)
    kwargs: dict[str, Any] = {"eval_every": 0, "eval_size": 100, **parse_env_kwargs(args.env_kwargs)}
    if args.quick:
        if args.env not in QUICK_ENVS:
            raise SystemExit(f"--quick knows {sorted(QUICK_ENVS)}, not {args.env!r}")
        kwargs.update(QUICK_ENVS[args.env])
        args.windows, args.sgd_steps, args.seeds = [1, 5], 20, [0, 1]
        args.out = tempfile.mkdtemp(prefix="asg_reward_snr_")  # never mix smoke rows into results
    out = Path(args.out)
    write_provenance(out, args=vars(args))
    table = ResumableCSV(out / "rewards.csv", ["window", "seed", "decision", "reward"], ["window", "seed"])
    policy = ConstantPolicy(args.policy)
    for window in args.windows:
        if args.sgd_steps % window:
            raise SystemExit(f"--sgd-steps {args.sgd_steps} is not a multiple of window {window}")
        env = gym.make(args.env, sgd_steps_per_action=window, total_steps=args.sgd_steps // window, **kwargs)
        for seed in args.seeds:
            if table.done(window=window, seed=seed):
                continue
            obs, _ = env.reset(seed=seed)
            rewards: list[float] = []
            done = False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(policy.predict(obs)[0])
                rewards.append(float(reward))
                done = terminated or truncated
            for decision, reward in enumerate(rewards, start=1):
                table.append({"window": window, "seed": seed, "decision": decision, "reward": reward})
            print(f"window {window} seed {seed}: mean reward {np.mean(rewards):.4f}", flush=True)
        env.close()
    print(write_table(out, args.windows, args.sgd_steps, table.rows))
    return out


def write_table(out: Path, windows: list[int], sgd_steps: int, rows: list[dict[str, str]]) -> str:
    """``out/table.md`` from the rows of ``rewards.csv``; returns its text."""
    lines = ["| window (SGD steps per decision) | decisions per episode | seeds | mean reward | std | "
             "SNR = mean / std | within-position std | SNR with a position baseline |",
             "|---|---|---|---|---|---|---|---|"]
    for window in windows:
        mine = [r for r in rows if int(r["window"]) == window]
        by_seed: dict[str, dict[int, float]] = {}
        for r in mine:
            by_seed.setdefault(r["seed"], {})[int(r["decision"])] = float(r["reward"])
        rewards = np.array([float(r["reward"]) for r in mine])
        mean, std = rewards.mean(), rewards.std(ddof=1)
        within = snr_within = "–"
        if len(by_seed) >= 2:  # seeds × decisions; the variance over seeds at each decision, pooled
            grid = np.array([[episode[d] for d in sorted(episode)] for episode in by_seed.values()])
            pooled = float(np.sqrt(grid.var(axis=0, ddof=1).mean()))
            within, snr_within = f"{pooled:.4f}", f"{mean / pooled:.3f}"
        lines.append(f"| {window} | {sgd_steps // window} | {len(by_seed)} | {mean:.4f} | {std:.4f} | "
                     f"{mean / std:.3f} | {within} | {snr_within} |")
    text = "\n".join(lines) + "\n"
    (out / "table.md").write_text(text)
    return text


if __name__ == "__main__":
    main()
