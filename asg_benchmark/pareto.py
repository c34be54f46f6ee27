"""The trade-off view: each row's target score against its old-task agreement, and the rows no other row beats on both.

The paper's thesis is that synthetic fine-tuning which keeps ImageNet knowledge generalises better; a
controller that wins on target accuracy by forgetting everything is a different kind of winner than one
that keeps agreement. A row is on the Pareto front when no other row has at least its IQM on both and
more on one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from asg_benchmark.stats import RowStats


def pareto_front(rows: Sequence[RowStats]) -> list[str]:
    """The labels of the rows no other row dominates on (IQM target score, IQM old-task agreement)."""

    def dominates(a: RowStats, b: RowStats) -> bool:
        return (a.iqm >= b.iqm and a.agreement_iqm >= b.agreement_iqm
                and (a.iqm > b.iqm or a.agreement_iqm > b.agreement_iqm))

    return [r.label for r in rows if not any(dominates(other, r) for other in rows)]


def pareto_section(rows: Sequence[RowStats], metric: str) -> str:
    """The report's Pareto section: the front, best target score first."""
    front = sorted((r for r in rows if r.label in pareto_front(rows)), key=lambda r: -r.iqm)
    lines = [f"| {r.label} | {r.iqm:.3f} | {r.agreement_iqm:.3f} |" for r in front]
    return ("\n## Target score against old-task agreement (Pareto view)\n\n"
            f"The rows no other row beats on both IQM {metric} and IQM old-task agreement (`pareto.png` plots every "
            "row with its 95 % intervals); a row off this list is beaten on both by one on it.\n\n"
            f"| row on the front | IQM {metric} | IQM old-task agreement |\n|---|---|---|\n" + "\n".join(lines) + "\n")


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
