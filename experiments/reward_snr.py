"""Signal-to-noise of the reward per decision window (``sgd_steps_per_action``) on ASG-Digits-v0.

A fixed policy (the hand-tuned constant scales) runs the same number of SGD steps with decision
windows of w SGD steps each; the reward of a decision is the drop of the window-mean loss. For
each w: the mean reward per decision, its standard deviation over decisions and seeds, and their
ratio (SNR). A learner's REINFORCE gradient sees the signal through this noise, so a window whose
SNR is higher makes the same budget of SGD steps more informative per decision.

Writes ``results/reward_snr/{rewards.csv, table.md, provenance.json}``; resumable per (window, seed).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import tyro

import asg_gym  # noqa: F401  (registers the ids)
from agents import ConstantPolicy
from experiments.common import REPO, ResumableCSV, parse_env_kwargs, write_provenance


@dataclass
class Args:
    """Reward signal-to-noise per decision window."""

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
    """toy backbone, 20 SGD steps, windows 1 and 5, one seed"""


def main(argv: list[str] | None = None) -> Path:
    args = tyro.cli(Args, args=argv)
    kwargs = {"eval_every": 0, "eval_size": 100, **parse_env_kwargs(args.env_kwargs)}
    if args.quick:
        kwargs.update(backbone="toy", image_size=32, num_source_images=256)
        args.windows, args.sgd_steps, args.seeds = [1, 5], 20, [0]
        args.out = tempfile.mkdtemp(prefix="asg_reward_snr_")  # never mix smoke rows into results
    out = Path(args.out)
    write_provenance(out, args=vars(args))
    table = ResumableCSV(out / "rewards.csv", ["window", "seed", "decision", "reward"], ["window", "seed"])
    policy = ConstantPolicy(args.policy)
    for window in args.windows:
        if args.sgd_steps % window:
            raise SystemExit(f"--sgd-steps {args.sgd_steps} is not a multiple of window {window}")
        env = gym.make("ASG-Digits-v0", sgd_steps_per_action=window, total_steps=args.sgd_steps // window, **kwargs)
        for seed in args.seeds:
            if table.done(window=window, seed=seed):
                continue
            obs, _ = env.reset(seed=seed)
            rewards, done = [], False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(policy.predict(obs)[0])
                rewards.append(reward)
                done = terminated or truncated
            for decision, reward in enumerate(rewards, start=1):
                table.append({"window": window, "seed": seed, "decision": decision, "reward": reward})
            print(f"window {window} seed {seed}: mean reward {np.mean(rewards):.4f}", flush=True)
        env.close()
    lines = ["| window (SGD steps per decision) | decisions per episode | seeds | mean reward | std | "
             "SNR = mean / std |", "|---|---|---|---|---|---|"]
    for window in args.windows:
        rows = [r for r in table.rows if int(r["window"]) == window]
        rewards = np.array([float(r["reward"]) for r in rows])
        seeds = len({r["seed"] for r in rows})
        lines.append(f"| {window} | {args.sgd_steps // window} | {seeds} | {rewards.mean():.4f} | "
                     f"{rewards.std(ddof=1):.4f} | {rewards.mean() / rewards.std(ddof=1):.3f} |")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return out


if __name__ == "__main__":
    main()
