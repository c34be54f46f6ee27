"""Episode history and its two renderings: a text line and a figure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from asg_gym.interfaces import LossTerms


@dataclass
class EpisodeHistory:
    """What happened so far in the episode, one row per action."""

    coordinate_names: Sequence[str]
    metric: str = "target_accuracy"  # the info key of the target-domain score (segmentation: target_miou)
    steps: list[int] = field(default_factory=list)
    losses: list[LossTerms] = field(default_factory=list)
    scales: list[np.ndarray] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    target_scores: list[float] = field(default_factory=list)

    def clear(self) -> None:
        for values in (self.steps, self.losses, self.scales, self.eval_steps, self.target_scores):
            values.clear()

    def record(self, t: int, loss: LossTerms, scales: np.ndarray, metrics: dict[str, float] | None) -> None:
        self.steps.append(t)
        self.losses.append(loss)
        self.scales.append(np.asarray(scales, dtype=float).copy())
        if metrics is not None:
            self.eval_steps.append(t)
            self.target_scores.append(metrics[self.metric])


def render_ansi(history: EpisodeHistory, total_steps: int) -> str:
    """One line: step, losses, scales, and the latest target score."""
    if not history.steps:
        return "(call reset() first)"
    loss = history.losses[-1]
    scales = " ".join(f"{s:.1f}" for s in history.scales[-1])
    acc = f" {history.metric}={history.target_scores[-1]:.3f}" if history.target_scores else ""
    return (
        f"t={history.steps[-1]:>4}/{total_steps} L={loss.total:.4f} L_XE={loss.xe:.4f} "
        f"L_KL={loss.kl:.4f} scales=[{scales}]{acc}"
    )


def render_rgb_array(history: EpisodeHistory, total_steps: int) -> np.ndarray:
    """Scales per coordinate over time (heatmap), losses, and the target score, as an RGB image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 6), dpi=80)
    canvas = FigureCanvasAgg(fig)
    ax_scales, ax_loss, ax_acc = fig.subplots(3, 1, sharex=True)
    if history.scales:
        ax_scales.imshow(
            np.stack(history.scales).T, aspect="auto", interpolation="nearest", vmin=0, vmax=1, cmap="viridis",
            extent=(-0.5, len(history.scales) - 0.5, len(history.coordinate_names) - 0.5, -0.5),
        )
    ax_scales.set_yticks(range(len(history.coordinate_names)), list(history.coordinate_names), fontsize=7)
    ax_scales.set_title("learning-rate scale per coordinate")
    ax_loss.plot(history.steps, [terms.total for terms in history.losses], label="L")
    ax_loss.plot(history.steps, [terms.xe for terms in history.losses], label="L_XE")
    ax_loss.plot(history.steps, [terms.kl for terms in history.losses], label="L_KL")
    ax_loss.legend(fontsize=7, loc="upper right")
    ax_loss.set_ylabel("loss")
    ax_acc.plot(history.eval_steps, history.target_scores, marker="o")
    ax_acc.set_ylabel(history.metric.replace("_", " "))
    ax_acc.set_xlabel("step")
    ax_acc.set_xlim(-0.5, max(total_steps, 1))
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
