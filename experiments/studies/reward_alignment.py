"""Does the env's reward point at what users want? Episode return against real-target accuracy in a benchmark.

    python -m experiments.studies.reward_alignment --benchmark results/benchmark_agents/v0.2

The reward is the drop of the training loss on *synthetic* data; target accuracy on *real* data is
what the controller is for. Every evaluation episode of a benchmark folder records both
(``episode_return``, ``target_score``), so the folder already holds the answer to two questions:

* alignment: across all episodes of all rows, does a higher return go with a higher target score?
  Spearman's ρ with a 95 % bootstrap CI that resamples evaluation seeds (an episode's score depends
  on its seed's data draw, so seeds, not episodes, are the independent units);
* optimisation: does a learned row reach a higher return than the rows it should beat? If a learned
  policy's return is below a random policy's, its training failed at the reward itself, whatever
  the reward's alignment.

Writes ``alignment.md`` (per row: episodes, mean return, mean target score, mean old-task agreement,
ρ within the row; then the pooled ρ) and ``scatter.png`` into ``--out``. Reads only; runs no episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro
from scipy.stats import spearmanr

from asg_benchmark import GREEDY_SUFFIX, read_rows
from experiments.common import REPO, repo_relative, write_provenance


@dataclass
class Args:
    """Episode return against target accuracy, from a benchmark folder's results.csv."""

    benchmark: str = str(REPO / "results" / "benchmark_agents" / "v0.2")
    """benchmark folder (its results.csv)"""
    out: str = ""
    """output folder; default results/reward_alignment/<name of the benchmark folder>"""
    reps: int = 2000
    """bootstrap replications (evaluation seeds resampled)"""
    seed: int = 0
    """bootstrap seed"""


@dataclass(frozen=True)
class Episodes:
    """One column per field, one entry per evaluation episode."""

    agent: np.ndarray
    eval_seed: np.ndarray
    episode_return: np.ndarray
    target_score: np.ndarray
    agreement: np.ndarray

    @classmethod
    def read(cls, folder: Path) -> Episodes:
        # a /greedy row is a deterministic re-run of a sampled row: not new evidence
        rows = [r for r in read_rows(folder) if not r["agent"].endswith(GREEDY_SUFFIX)]
        if not rows:
            raise SystemExit(f"no sampled or deterministic rows in {folder / 'results.csv'}")

        def column(key: str) -> np.ndarray:
            return np.array([float(r[key]) for r in rows])

        return cls(np.array([r["agent"] for r in rows]), np.array([r["eval_seed"] for r in rows]),
                   column("episode_return"), column("target_score"), column("old_task_agreement"))

    def where(self, mask: np.ndarray) -> Episodes:
        return Episodes(self.agent[mask], self.eval_seed[mask], self.episode_return[mask],
                        self.target_score[mask], self.agreement[mask])


def rank_correlation(episodes: Episodes) -> float:
    if len(episodes.agent) < 3 or np.ptp(episodes.episode_return) == 0 or np.ptp(episodes.target_score) == 0:
        return float("nan")  # a constant column (a deterministic row on one seed) has no ranks to correlate
    return float(spearmanr(episodes.episode_return, episodes.target_score).statistic)


def seed_bootstrap(episodes: Episodes, reps: int, rng: np.random.Generator) -> tuple[float, float]:
    """95 % percentile interval of Spearman's ρ over resampled evaluation seeds (all rows' episodes of a seed)."""
    seeds = np.unique(episodes.eval_seed)
    members = [np.flatnonzero(episodes.eval_seed == s) for s in seeds]
    values = []
    for _ in range(reps):
        drawn = np.concatenate([members[i] for i in rng.integers(len(seeds), size=len(seeds))])
        values.append(rank_correlation(episodes.where(drawn)))
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


def alignment_table(episodes: Episodes, folder: Path, reps: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    low, high = seed_bootstrap(episodes, reps, rng)
    lines = [
        f"# Reward against target accuracy: `{repo_relative(folder)}`",
        "",
        f"* episodes: every evaluation episode of `results.csv` except the `{GREEDY_SUFFIX}` re-runs; "
        "rows sorted by mean return",
        "* return: the episode's summed reward (drops of the training loss on synthetic data); "
        "target: the episode's final target score (real data)",
        "",
        "| row | episodes | mean return | mean target score | mean old-task agreement | ρ(return, target) in the row |",
        "|---|---|---|---|---|---|",
    ]
    names = sorted(set(episodes.agent), key=lambda a: -episodes.episode_return[episodes.agent == a].mean())
    for name in names:
        row = episodes.where(episodes.agent == name)
        rho = rank_correlation(row)
        lines.append(f"| {name} | {len(row.agent)} | {row.episode_return.mean():.3f} | {row.target_score.mean():.3f} | "
                     f"{row.agreement.mean():.3f} | {'—' if np.isnan(rho) else f'{rho:+.2f}'} |")
    lines += [
        "",
        f"Pooled over all {len(episodes.agent)} episodes of {len(names)} rows: Spearman ρ(return, target) = "
        f"{rank_correlation(episodes):+.2f}, 95 % CI [{low:+.2f}, {high:+.2f}] ({reps} resamples of the "
        f"{len(np.unique(episodes.eval_seed))} evaluation seeds).",
    ]
    return "\n".join(lines) + "\n"


def plot_scatter(episodes: Episodes, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in sorted(set(episodes.agent)):
        row = episodes.where(episodes.agent == name)
        ax.scatter(row.episode_return, row.target_score, s=14, alpha=0.75, label=name)
    ax.set_xlabel("episode return (training-loss drop, synthetic)")
    ax.set_ylabel("target accuracy (real)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> Path:
    args = tyro.cli(Args, args=argv)
    folder = Path(args.benchmark)
    out = Path(args.out) if args.out else REPO / "results" / "reward_alignment" / folder.name
    episodes = Episodes.read(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_provenance(out, args=vars(args))
    table = alignment_table(episodes, folder, args.reps, args.seed)
    (out / "alignment.md").write_text(table)
    plot_scatter(episodes, out / "scatter.png")
    print(table)
    return out


if __name__ == "__main__":
    main()
