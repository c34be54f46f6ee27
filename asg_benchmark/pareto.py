"""The trade-off view: each row's target score against its old-task agreement, and the rows no other row beats on both.

The paper's thesis is that synthetic fine-tuning which keeps ImageNet knowledge generalises better; a
controller that wins on target accuracy by forgetting everything is a different kind of winner than one
that keeps agreement. A row is on the Pareto front when no other row has at least its IQM on both and
more on one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asg_benchmark.stats import RowStats, Summary, iqm


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's ρ across a table's rows between IQM target score and IQM old-task agreement."""

    rho: float
    ci: tuple[float, float]
    rows: int


def pareto_front(rows: Sequence[RowStats]) -> list[str]:
    """The labels of the rows no other row dominates on (IQM target score, IQM old-task agreement)."""

    def dominates(a: RowStats, b: RowStats) -> bool:
        return (a.iqm >= b.iqm and a.agreement_iqm >= b.agreement_iqm
                and (a.iqm > b.iqm or a.agreement_iqm > b.agreement_iqm))

    return [r.label for r in rows if not any(dominates(other, r) for other in rows)]


def agreement_correlation(scores: Mapping[str, np.ndarray], agreement: Mapping[str, np.ndarray], *,
                          reps: int = 2000, seed: int = 0) -> RankCorrelation | None:
    """Does keeping ImageNet knowledge go with a better target score across the rows? Spearman's ρ between the
    rows' IQM target score and IQM agreement, with a 95 % percentile interval from a bootstrap that resamples
    each row's runs (a run's score and agreement together), the rows held fixed: how sure the ordering is
    given the evaluation episodes. ``None`` with fewer than 3 rows; ρ is NaN when either IQM is equal on all rows.
    """
    from scipy.stats import spearmanr

    labels = [label for label in scores if label in agreement]
    if len(labels) < 3:
        return None

    def rho(target: list[float], kept: list[float]) -> float:
        if len(set(target)) < 2 or len(set(kept)) < 2:
            return float("nan")
        return float(spearmanr(target, kept).statistic)

    point = rho([iqm(scores[x]) for x in labels], [iqm(agreement[x]) for x in labels])
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(reps):
        picks = {x: rng.integers(0, len(scores[x]), len(scores[x])) for x in labels}
        draws.append(rho([iqm(scores[x][picks[x]]) for x in labels], [iqm(agreement[x][picks[x]]) for x in labels]))
    finite = np.array([d for d in draws if np.isfinite(d)])
    ci = (float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))) if finite.size else (np.nan, np.nan)
    return RankCorrelation(point, ci, len(labels))


def correlation_sentence(c: RankCorrelation | None) -> str:
    """One line for a report: ρ, its interval, and what its sign would mean."""
    if c is None:
        return "Fewer than 3 rows: no rank correlation between target score and agreement.\n"
    if not np.isfinite(c.rho):
        return f"Across the {c.rows} rows one of the two IQMs is the same on every row: no rank correlation.\n"
    verdict = ("rows that keep more ImageNet knowledge score higher on the target (the paper's thesis)"
               if c.ci[0] > 0 else "rows that keep less ImageNet knowledge score higher on the target"
               if c.ci[1] < 0 else "the interval holds 0: no relation shown either way")
    return (f"Across the {c.rows} rows, the rank correlation (Spearman's ρ) of IQM target score and IQM old-task "
            f"agreement is {c.rho:+.2f} [{c.ci[0]:+.2f}, {c.ci[1]:+.2f}] (95 % bootstrap over each row's runs): "
            f"{verdict}.\n")


def pareto_section(summary: Summary, metric: str, *, seed: int = 0) -> str:
    """The report's Pareto section: the front, best target score first, and the rank correlation across rows."""
    rows = summary.rows
    front = sorted((r for r in rows if r.label in pareto_front(rows)), key=lambda r: -r.iqm)
    lines = [f"| {r.label} | {r.iqm:.3f} | {r.agreement_iqm:.3f} |" for r in front]
    correlation = agreement_correlation(summary.scores, summary.agreement_scores, reps=summary.reps, seed=seed)
    return ("\n## Target score against old-task agreement (Pareto view)\n\n"
            f"The rows no other row beats on both IQM {metric} and IQM old-task agreement (`pareto.png` plots every "
            "row with its 95 % intervals); a row off this list is beaten on both by one on it.\n\n"
            f"| row on the front | IQM {metric} | IQM old-task agreement |\n|---|---|---|\n" + "\n".join(lines)
            + "\n\n" + correlation_sentence(correlation))


def plot_pareto(rows: Sequence[RowStats], metric: str, path: Path, title: str = "") -> None:
    """Every row at (IQM old-task agreement, IQM target score) with both intervals; the front joined by a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    front = set(pareto_front(rows))
    fig, ax = plt.subplots(figsize=(7, 5))
    for r in rows:
        on_front = r.label in front
        ax.errorbar(r.agreement_iqm, r.iqm, xerr=[[r.agreement_iqm - r.agreement_ci[0]], [r.agreement_ci[1]
                    - r.agreement_iqm]], yerr=[[r.iqm - r.iqm_ci[0]], [r.iqm_ci[1] - r.iqm]], fmt="o" if on_front
                    else "s", color="C3" if on_front else "C0", alpha=1.0 if on_front else 0.6, capsize=2)
        ax.annotate(r.label, (r.agreement_iqm, r.iqm), fontsize=7, xytext=(4, 3), textcoords="offset points")
    line = sorted((r.agreement_iqm, r.iqm) for r in rows if r.label in front)
    ax.plot([p[0] for p in line], [p[1] for p in line], color="C3", lw=1, alpha=0.6)
    ax.set_xlabel("IQM old-task agreement (ImageNet knowledge kept)")
    ax.set_ylabel(f"IQM final {metric}")
    ax.set_title(title or "target score against old-task agreement (red: Pareto front)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
