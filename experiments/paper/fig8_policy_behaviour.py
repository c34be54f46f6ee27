"""Fig. 8: which learning-rate scale the learned policy picks per coordinate over training.

Reads the learned policy's actions from ``results/fig6_policies/actions_greedy.csv`` (written by
``experiments/paper/fig6_policies.py``), or with ``--benchmark DIR --agent LABEL`` the evaluation
episodes of one row of a benchmark folder (``episodes.jsonl``: sampled or greedy, every training
and evaluation seed, as the benchmark deployed it); smooths them with a moving average
(categorical actions are noisy), and plots one line per coordinate (mean over episodes) plus a
heatmap. The table says whether the policy is a schedule: the mean scale per third of the
episode, and how often a coordinate's action changes between consecutive decisions.

    python -m experiments.paper.fig8_policy_behaviour --benchmark results/benchmark_agents/v0.2 \
        --agent reinforce_lstm --out results/fig8_policy_behaviour/benchmark_v0.2

Writes ``<out>/{behaviour.png, mean_scales.md, provenance.json}``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tyro

from asg_benchmark import open_store, read_episodes
from experiments.common import REPO, write_provenance


@dataclass
class Args:
    """Plot the learned policy's per-coordinate scales (Fig. 8)."""

    actions: str = str(REPO / "results" / "fig6_policies" / "actions_greedy.csv")
    """actions.csv (sampled rows) or actions_greedy.csv (greedy rows) of fig6_policies or fig7_segmentation"""
    benchmark: str | None = None
    """a benchmark folder: read --agent's evaluation episodes from its episodes.jsonl instead of --actions"""
    agent: str = "reinforce_lstm"
    """the benchmark row (label) whose episodes to read"""
    train_seed: str | None = None
    """only the episodes of this training seed of --agent (each seed trains its own policy; None: every seed's)"""
    window: int = 15
    """moving-average window in decisions"""
    out: str = str(REPO / "results" / "fig8_policy_behaviour")
    """output folder"""


def load_actions(path: Path) -> tuple[list[str], np.ndarray]:
    """Coordinate names and an ``(episodes, steps, C)`` array of scales in [0, 1]."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `python -m experiments.paper.fig6_policies` first")
    episodes: dict[str, list[list[int]]] = defaultdict(list)
    with path.open(newline="") as f:
        reader = csv.reader(f)
        names = next(reader)[2:]
        for row in reader:
            episodes[row[0]].append([int(v) for v in row[2:]])
    length = min(len(steps) for steps in episodes.values())
    return names, np.array([steps[:length] for steps in episodes.values()], dtype=float) / 10.0


def load_benchmark_actions(folder: Path, label: str, train_seed: str | None = None
                           ) -> tuple[list[str], np.ndarray, int]:
    """Coordinate names, ``(episodes, decisions, C)`` scales and the decision window of ``label``'s rows (of
    ``train_seed`` only, when given)."""
    episodes = [record["actions"] for (agent, seed, *_), record in read_episodes(folder).items()
                if agent == label and train_seed in (None, seed)]
    if not episodes:
        of_seed = "" if train_seed is None else f" with training seed {train_seed}"
        raise SystemExit(f"no episodes of row {label!r}{of_seed} in {folder}")
    protocol = open_store(folder).protocol() or {}
    import gymnasium as gym

    import asg_gym  # noqa: F401  (registers the ids)

    env = gym.make(protocol["env"], **{**protocol["env_kwargs"], "eval_size": 1})  # for its coordinate names
    unwrapped: Any = env.unwrapped  # an ASG env
    names = list(unwrapped.coordinate_names)
    env.close()
    length = min(len(actions) for actions in episodes)
    scales = np.array([actions[:length] for actions in episodes], dtype=float) / 10.0
    return names, scales, int(protocol.get("decision_window", 1))


def change_rate(scales: np.ndarray) -> np.ndarray:
    """Per coordinate: the fraction of consecutive decisions whose action differs (0 for a constant policy)."""
    if scales.shape[1] < 2:
        return np.zeros(scales.shape[2])
    return (np.diff(scales, axis=1) != 0).mean(axis=(0, 1))


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average along the first axis (``valid`` part only)."""
    window = max(1, min(window, len(values)))
    kernel = np.ones(window) / window
    return np.stack([np.convolve(values[:, c], kernel, mode="valid") for c in range(values.shape[1])], axis=1)


def main(argv: list[str] | None = None) -> Path:
    args = tyro.cli(Args, args=argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if args.benchmark is not None:
        names, scales, decision_window = load_benchmark_actions(Path(args.benchmark), args.agent, args.train_seed)
        seed = "" if args.train_seed is None else f" (training seed {args.train_seed})"
        title = f"{args.agent}{seed} in {args.benchmark}"
    else:
        (names, scales), decision_window = load_actions(Path(args.actions)), 1
        title = "Learned policy on ASG-Digits-v0"
    mean = scales.mean(axis=0)  # decisions × C
    smoothed = smooth(mean, args.window)
    out = Path(args.out)
    write_provenance(out, args=vars(args), episodes=int(scales.shape[0]))
    fig, (ax_lines, ax_map) = plt.subplots(1, 2, figsize=(12, 4))
    steps = np.arange(args.window, args.window + len(smoothed)) if len(mean) >= args.window else np.arange(1, 2)
    for c, name in enumerate(names):
        ax_lines.plot(steps[: len(smoothed)], smoothed[:, c], label=name)
    unit = "decision" if decision_window == 1 else f"decision ({decision_window} SGD steps each)"
    ax_lines.set_xlabel(unit)
    ax_lines.set_ylabel(f"scale (moving average, {args.window} decisions)")
    ax_lines.set_ylim(0, 1)
    ax_lines.legend(fontsize=7)
    image = ax_map.imshow(mean.T, aspect="auto", interpolation="nearest", vmin=0, vmax=1, cmap="viridis")
    ax_map.set_yticks(range(len(names)), names, fontsize=7)
    ax_map.set_xlabel(unit)
    fig.colorbar(image, ax=ax_map, label="scale (mean over episodes)")
    fig.suptitle(f"{title}: scale per coordinate ({scales.shape[0]} episodes)")
    fig.tight_layout()
    fig.savefig(out / "behaviour.png", dpi=110)
    plt.close(fig)
    thirds = np.array_split(mean, 3)
    changes = change_rate(scales)
    lines = ["| coordinate | mean scale, first third | middle third | last third | action changes between "
             "decisions |", "|---|---|---|---|---|"]
    lines += [f"| {n} | " + " | ".join(f"{part[:, c].mean():.2f}" for part in thirds) + f" | {changes[c]:.2f} |"
              for c, n in enumerate(names)]
    (out / "mean_scales.md").write_text("\n".join(lines) + "\n")
    print((out / "mean_scales.md").read_text())
    return out


if __name__ == "__main__":
    main()
