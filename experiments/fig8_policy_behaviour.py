"""Fig. 8: which learning-rate scale the learned policy picks per coordinate over training.

Reads the learned policy's actions from ``results/fig6_policies/actions.csv`` (written by
``experiments/fig6_policies.py``), smooths them with a moving average (categorical actions are
noisy), and plots one line per coordinate (mean over episodes) plus a heatmap.

Writes ``results/fig8_policy_behaviour/{behaviour.png, mean_scales.md, provenance.json}``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from experiments.common import REPO, write_provenance


@dataclass
class Args:
    """Plot the learned policy's per-coordinate scales (Fig. 8)."""

    actions: str = str(REPO / "results" / "fig6_policies" / "actions.csv")
    """actions.csv of fig6_policies (or fig7_segmentation)"""
    window: int = 15
    """moving-average window in steps"""
    out: str = str(REPO / "results" / "fig8_policy_behaviour")
    """output folder"""


def load_actions(path: Path) -> tuple[list[str], np.ndarray]:
    """Coordinate names and an ``(episodes, steps, C)`` array of scales in [0, 1]."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `python -m experiments.fig6_policies` first")
    episodes: dict[str, list[list[int]]] = defaultdict(list)
    with path.open(newline="") as f:
        reader = csv.reader(f)
        names = next(reader)[2:]
        for row in reader:
            episodes[row[0]].append([int(v) for v in row[2:]])
    length = min(len(steps) for steps in episodes.values())
    return names, np.array([steps[:length] for steps in episodes.values()], dtype=float) / 10.0


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

    names, scales = load_actions(Path(args.actions))
    mean = scales.mean(axis=0)  # steps × C
    smoothed = smooth(mean, args.window)
    out = Path(args.out)
    write_provenance(out, args=vars(args), episodes=int(scales.shape[0]))
    fig, (ax_lines, ax_map) = plt.subplots(1, 2, figsize=(12, 4))
    steps = np.arange(args.window, args.window + len(smoothed)) if len(mean) >= args.window else np.arange(1, 2)
    for c, name in enumerate(names):
        ax_lines.plot(steps[: len(smoothed)], smoothed[:, c], label=name)
    ax_lines.set_xlabel("SGD step")
    ax_lines.set_ylabel(f"scale (moving average, {args.window} steps)")
    ax_lines.set_ylim(0, 1)
    ax_lines.legend(fontsize=7)
    image = ax_map.imshow(mean.T, aspect="auto", interpolation="nearest", vmin=0, vmax=1, cmap="viridis")
    ax_map.set_yticks(range(len(names)), names, fontsize=7)
    ax_map.set_xlabel("SGD step")
    fig.colorbar(image, ax=ax_map, label="scale (mean over episodes)")
    fig.suptitle(f"Learned policy on ASG-Digits-v0: scale per coordinate ({scales.shape[0]} episodes)")
    fig.tight_layout()
    fig.savefig(out / "behaviour.png", dpi=110)
    plt.close(fig)
    thirds = np.array_split(mean, 3)
    lines = ["| coordinate | mean scale, first third | middle third | last third |", "|---|---|---|---|"]
    lines += [f"| {n} | " + " | ".join(f"{part[:, c].mean():.2f}" for part in thirds) + " |"
              for c, n in enumerate(names)]
    (out / "mean_scales.md").write_text("\n".join(lines) + "\n")
    print((out / "mean_scales.md").read_text())
    return out


if __name__ == "__main__":
    main()
