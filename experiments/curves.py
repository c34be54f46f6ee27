"""Evaluation curves: the curves CSV of (setting, λ, seed) episodes, its tables and plots.

The episodes themselves are run by :mod:`experiments.runner`.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import asg_gym
from experiments.common import ResumableCSV

SCORE_NAMES = {"target_accuracy": "target acc.", "target_mean_class_accuracy": "target mean class acc.",
               "target_miou": "target mIoU"}  # the env's target_metric


def curve_fields(metric: str = "target_accuracy") -> list[str]:
    """Columns of a curves CSV; the fifth is the target score (accuracy, or mIoU for segmentation)."""
    return ["setting", "lam", "seed", "sgd_step", metric, "old_task_agreement", "diverged", "seconds"]


CURVE_FIELDS = curve_fields()


def load_curves(path: Path) -> dict[tuple[str, float], dict[int, list[tuple[int, float, float]]]]:
    """``{(setting, lam): {seed: [(sgd_step, target score, old_task_agreement), …]}}``."""
    curves: dict[tuple[str, float], dict[int, list]] = defaultdict(lambda: defaultdict(list))
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        metric = score_field(reader.fieldnames)
        for row in reader:
            curves[(row["setting"], float(row["lam"]))][int(row["seed"])].append(
                (int(row["sgd_step"]), float(row[metric]), float(row["old_task_agreement"])))
    return curves


def score_field(fieldnames: Sequence[str] | None) -> str:
    if not fieldnames or len(fieldnames) < 5:
        raise ValueError(f"not a curves CSV (columns {fieldnames})")
    return fieldnames[4]


Reference = Callable[[str, float], "tuple[str, float] | None"]


def final_table(curves: dict, label: Callable[[str, float], str], reference: Reference | None = None
                ) -> list[dict[str, Any]]:
    """Mean ± std over seeds of the final and the best-over-training values.

    ``reference(setting, lam)`` names the run to compare with: ``delta`` holds the per-seed
    differences of the final target score (same seeds, so the seed's own luck cancels out).
    """
    rows = []
    for (setting, lam), seeds in curves.items():
        final = np.array([points[-1][1:] for points in seeds.values()])
        best = np.array([max(p[1] for p in points) for points in seeds.values()])
        row = {"setting": label(setting, lam), "seeds": len(seeds),
               "final_target": final[:, 0], "best_target": best, "final_agreement": final[:, 1]}
        other = reference(setting, lam) if reference else None
        if other is not None and other != (setting, lam) and other in curves:
            common = sorted(set(seeds) & set(curves[other]))
            row["delta"] = np.array([seeds[s][-1][1] - curves[other][s][-1][1] for s in common])
            row["reference"] = label(*other)
        rows.append(row)
    return rows


def markdown_table(rows: list[dict[str, Any]], score: str = "target acc.") -> str:
    def fmt(values: np.ndarray) -> str:
        std = values.std(ddof=1) if len(values) > 1 else 0.0
        return f"{100 * values.mean():.1f} ± {100 * std:.1f}"

    paired = any("delta" in r for r in rows)
    lines = [f"| setting | seeds | final {score} (%) | best {score} during training (%) | "
             "final old-task agreement (%) |" + (" Δ final vs reference, paired by seed (pp) |" if paired else ""),
             "|---|---|---|---|---|" + ("---|" if paired else "")]
    for r in rows:
        cells = f"| {r['setting']} | {r['seeds']} | {fmt(r['final_target'])} | {fmt(r['best_target'])} | " \
                f"{fmt(r['final_agreement'])} |"
        if paired:
            cells += f" {fmt(r['delta'])} vs {r['reference']} |" if "delta" in r else " – |"
        lines.append(cells)
    return "\n".join(lines) + "\n"


def final_rows(curves: dict, label: Callable[[str, float], str]) -> list[dict[str, Any]]:
    """One row per curve and seed in the agent benchmark's form (``agent``, ``train_seed``, ``eval_seed``,
    ``target_score``, ``old_task_agreement``): the last evaluation's scores, for :mod:`asg_benchmark`'s statistics."""
    return [{"agent": label(setting, lam), "train_seed": "-", "eval_seed": str(seed),
             "target_score": points[-1][1], "old_task_agreement": points[-1][2]}
            for (setting, lam), seeds in curves.items() for seed, points in seeds.items()]


def interval_table(curves: dict, label: Callable[[str, float], str], reference: Reference | None = None,
                   score: str = "target acc.", reps: int = 2000) -> str:
    """The final scores as the benchmark reports them (:func:`asg_benchmark.summarize`, ``rliable``): per
    curve the IQM over seeds with its 95 % stratified-bootstrap CI, and, when ``reference`` names one curve
    for all, the probability of improvement over it and the paired mean difference."""
    from asg_benchmark import statistics_cells, summarize

    rows = final_rows(curves, label)
    named = {reference(*key) for key in curves} if reference else set()
    named = {r for r in named if r is not None and r in curves}
    against = label(*named.pop()) if len(named) == 1 else None  # one reference for all, or no comparison here
    summary = summarize(rows, reps=reps, reference=against)
    versus = f" over {against}" if against else ""
    lines = [f"| setting | seeds | IQM final {score} [95 % CI] | P(improvement{versus}) [95 % CI] | "
             "paired Δ mean [95 % CI] | wins/ties/losses | IQM final old-task agreement [95 % CI] |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.label} | {r.runs} | " + " | ".join(statistics_cells(r)) + " |" for r in summary.rows]
    return "\n".join(lines) + "\n"


def mean_curves_table(curves: dict, label: Callable[[str, float], str], score: str) -> str:
    """The target score (%), mean over seeds, at every evaluation step: the curves as numbers."""
    steps = sorted({p[0] for seeds in curves.values() for points in seeds.values() for p in points})
    lines = [f"| mean {score} (%) at step | " + " | ".join(map(str, steps)) + " |", "|---" * (len(steps) + 1) + "|"]
    for (setting, lam), seeds in curves.items():
        by_step: dict[int, list[float]] = defaultdict(list)
        for points in seeds.values():
            for step, value, _ in points:
                by_step[step].append(value)
        cells = [f"{100 * np.mean(by_step[t]):.1f}" if by_step[t] else "–" for t in steps]
        lines.append(f"| {label(setting, lam)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(curves: dict, label: Callable[[str, float], str], path: Path, title: str,
                score: str = "target accuracy on real digits") -> None:
    """Target score and old-task agreement over SGD steps: mean over seeds with a ±std band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for (setting, lam), seeds in sorted(curves.items()):
        length = min(len(points) for points in seeds.values())
        arr = np.array([points[:length] for points in seeds.values()])  # seeds × evals × 3
        steps = arr[0, :, 0]
        style = "-" if lam > 0 else "--"
        for ax, index in zip(axes, (1, 2), strict=True):
            mean, std = arr[:, :, index].mean(0), arr[:, :, index].std(0)
            line, = ax.plot(steps, 100 * mean, style, label=label(setting, lam))
            low, high = np.clip(mean - std, 0, 1), np.clip(mean + std, 0, 1)  # both scores are fractions
            ax.fill_between(steps, 100 * low, 100 * high, alpha=0.15, color=line.get_color())
    axes[0].set_ylabel(f"{score} (%)")
    axes[1].set_ylabel("old-task agreement with teacher (%)")
    for ax in axes:
        ax.set_xlabel("SGD step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# The --quick smoke configurations of the curve scripts: toy networks, tiny images and sets.
QUICK_ENV = {"backbone": "toy", "image_size": 32, "num_source_images": 256, "eval_size": 100}  # ASG-Digits-v0
QUICK_SEG_ENV = {"network": "fcn_toy", "weights": None, "scene_size": 32, "num_source_scenes": 64,
                 "eval_size": 8, "batch_size": 4, "patch_size": 1}  # ASG-DigitSeg-v0


def _always(key: tuple[str, float]) -> Reference:
    """The reference that names ``key`` for every curve."""
    return lambda setting, lam: key


def write_outputs(out: Path, label: Callable[[str, float], str], title: str,
                  sort_key: Callable[[dict[str, Any]], Any] | None = None, reference: Reference | None = None,
                  against: Sequence[tuple[str, float]] = ()) -> None:
    """From ``out/curves.csv``: ``table.md`` (final and best values) and ``curves.png``; prints the table.

    ``against`` names further curves every curve is compared with (probability of improvement, paired
    difference), one interval table each: the claim of a figure is often against another curve than the
    reference of its paired column (Fig. 7: the learned policy against the hand-tuned one, both guided)."""
    curves = load_curves(out / "curves.csv")
    with (out / "curves.csv").open(newline="") as f:
        metric = score_field(csv.DictReader(f).fieldnames)
    score = SCORE_NAMES.get(metric, metric)
    rows = final_table(curves, label, reference)
    statistics = ("\n## Final scores with 95 % confidence intervals (as the agent benchmark reports them)\n\n"
                  "IQM over seeds, stratified bootstrap (`rliable`, 2,000 replications, seeded); with few seeds "
                  "the intervals are wide, and the benchmark protocol asks for at least 10.\n\n"
                  + interval_table(curves, label, reference, score)
                  + "".join(f"\n### Against {label(*key)}\n\n" + interval_table(curves, label, _always(key), score)
                            for key in against if key in curves))
    (out / "table.md").write_text(markdown_table(sorted(rows, key=sort_key) if sort_key else rows, score)
                                  + statistics)
    (out / "mean_curves.md").write_text(mean_curves_table(curves, label, score))
    plot_curves(curves, label, out / "curves.png", title,
                "target accuracy on real digits" if metric == "target_accuracy" else f"{score} on real scenes")
    print((out / "table.md").read_text())


def copy_prefix(donor_dir: Path, table: ResumableCSV, donors: dict[tuple[str, float], tuple[str, float]],
                seeds: Iterable[int], total_steps: int, eval_every: int, env_kwargs: dict[str, Any]) -> list[str]:
    """Fill ``table`` with the first ``total_steps`` of episodes already run by another script.

    Sound only for policies that ignore the observation's t/T (constant policies): then the first
    ``total_steps`` SGD steps of a longer episode *are* the shorter episode, bit for bit on CPU.
    ``donors`` maps ``(setting, lam)`` here to ``(setting, lam)`` in ``donor_dir/curves.csv``; the
    donor must have used the same env keywords and evaluated at every step we evaluate at.
    Returns the settings copied.
    """
    csv_path, provenance = donor_dir / "curves.csv", donor_dir / "provenance.json"
    if not csv_path.exists() or not provenance.exists():
        return []
    donor = json.loads(provenance.read_text())["runs"][-1]
    donor_args = donor["args"]
    # Env defaults change between versions (0.2.0: channels-last on CPU): only copy from the same version.
    if (donor.get("asg_gym_version", "0.1.0") != asg_gym.__version__
            or json.loads(donor_args["env_kwargs"]) != env_kwargs or donor_args["total_steps"] < total_steps
            or eval_every % donor_args["eval_every"]):
        return []
    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    copied = []
    for (setting, lam), (donor_setting, donor_lam) in donors.items():
        episodes = {seed: [r for r in rows if r["setting"] == donor_setting and float(r["lam"]) == donor_lam
                           and int(r["seed"]) == seed] for seed in seeds}
        if not all(episodes.values()):
            continue
        for seed, points in episodes.items():
            if table.done(setting=setting, lam=lam, seed=seed):
                continue
            last = int(points[-1]["sgd_step"])
            diverged = points[-1]["diverged"] == "True" and last <= total_steps  # within our horizon?
            for r in points:
                step = int(r["sgd_step"])
                if step <= total_steps and (step % eval_every == 0 or (diverged and step == last)):
                    table.append({**r, "setting": setting, "lam": lam, "diverged": diverged, "seconds": "copied"})
        copied.append(setting)
    return copied
