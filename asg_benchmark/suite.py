"""A benchmark over several envs: one results folder per env, and one report across them.

``asg-benchmark run --env A B ...`` runs the same agents, seeds and budget on each env into
``OUT/<env>/`` (each folder its own store, protocol and report) and writes ``OUT/suite.md``:

* per env, every row's IQM target score and old-task agreement with their 95 % intervals, and the rows
  on the Pareto front of the two (:mod:`asg_benchmark.pareto`; each env folder has its ``pareto.png``), and
  Spearman's ρ between the two across the rows, with its interval;
* the aggregate across envs: rliable's IQM over *normalised* scores, each env's scores mapped so that
  the ``low`` reference row's IQM is 0 and the ``high`` one's is 1 (by default the uniform random policy
  and the Optuna-tuned constant: the two bars a learned controller has to clear), with 95 %
  stratified-bootstrap intervals, the envs being rliable's tasks. Envs score on different scales
  (accuracy, mIoU) and differ in how much a controller can gain; the normalisation makes "how far from
  random towards the tuned constant" comparable. A row needs the same number of runs in every env
  (rliable's matrix): where they differ, each env's first runs in seed order are taken, and the suite
  says how many.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asg_benchmark.pareto import agreement_correlation, correlation_sentence, pareto_front
from asg_benchmark.stats import Summary, _quiet, _rliable, _seeded_estimates, cell_scores, iqm, summarize
from asg_benchmark.store import read_rows

SUITE = "suite.md"
NORMALISED_BY = ("random", "tuned_constant")


def env_folders(out: str | Path, envs: Sequence[str]) -> dict[str, Path]:
    """Each env's results folder: ``out`` itself for one env, ``out/<env>`` for several."""
    out = Path(out)
    return {env: out for env in envs} if len(envs) == 1 else {env: out / env for env in envs}


def write_suite_report(out: str | Path, envs: Sequence[str], *, reps: int = 2000, seed: int = 0,
                       normalised_by: tuple[str, str] = NORMALISED_BY) -> Path:
    """``out/suite.md`` from the stores of ``out/<env>`` (:func:`env_folders`); returns its path."""
    folders = env_folders(out, envs)
    rows = {env: read_rows(folder) for env, folder in folders.items()}
    summaries = {env: summarize(env_rows, reps=reps, seed=seed) for env, env_rows in rows.items()}
    text = [f"# Benchmark over {len(envs)} envs\n", "Each env's full report: `<env>/report.md`.\n"]
    for env, summary in summaries.items():
        text.append(_env_section(env, summary, seed))
    text.append(_aggregate_section(rows, summaries, normalised_by, reps, seed))
    path = Path(out) / SUITE
    path.write_text("\n".join(text))
    return path


def _env_section(env: str, summary: Summary, seed: int) -> str:
    front = set(pareto_front(summary.rows))
    metric = ", ".join(summary.protocol["target_metric"])
    lines = [f"| {s.label} | {s.runs} × {s.draws} | {s.iqm:.3f} [{s.iqm_ci[0]:.3f}, {s.iqm_ci[1]:.3f}] | "
             f"{s.agreement_iqm:.3f} [{s.agreement_ci[0]:.3f}, {s.agreement_ci[1]:.3f}] | "
             f"{'yes' if s.label in front else ''} |" for s in summary.rows]
    return (f"## {env}\n\n| row | runs × draws | IQM {metric} [95 % CI] | IQM old-task agreement [95 % CI] | "
            "Pareto front |\n|---|---|---|---|---|\n" + "\n".join(lines) + "\n\n"
            + correlation_sentence(agreement_correlation(summary.scores, summary.agreement_scores,
                                                         reps=summary.reps, seed=seed)))


def normalised_scores(rows: dict[str, list[dict[str, str]]], summaries: dict[str, Summary],
                      normalised_by: tuple[str, str]) -> tuple[dict[str, np.ndarray], int | None, str]:
    """Row label → ``(runs, envs)`` normalised final scores, for the rows every env has; the runs taken per env
    (``None`` when nothing could be normalised) and, then, why."""
    low, high = normalised_by
    scales = {}
    for env, summary in summaries.items():
        by_label = {s.label: s.iqm for s in summary.rows}
        if low not in by_label or high not in by_label:
            return {}, None, f"{env} has no `{low}` or no `{high}` row to normalise by"
        if by_label[high] == by_label[low]:
            return {}, None, f"in {env}, `{low}` and `{high}` have the same IQM: nothing to normalise by"
        scales[env] = (by_label[low], by_label[high] - by_label[low])
    per_env = {env: cell_scores(env_rows, "target_score") for env, env_rows in rows.items()}
    labels = [label for label in per_env[next(iter(per_env))] if all(label in cells for cells in per_env.values())]
    runs = min(len(cells[label]) for cells in per_env.values() for label in labels)
    matrices = {label: np.array([[(score - scales[env][0]) / scales[env][1]
                                  for score in list(per_env[env][label].values())[:runs]] for env in per_env]).T
                for label in labels}
    return matrices, runs, ""


def _aggregate_section(rows: dict[str, list[dict[str, str]]], summaries: dict[str, Summary],
                       normalised_by: tuple[str, str], reps: int, seed: int) -> str:
    low, high = normalised_by
    matrices, runs, why = normalised_scores(rows, summaries, normalised_by)
    head = "## Aggregate across envs\n\n"
    if runs is None:
        return head + f"Not computed: {why}.\n"
    with _quiet():
        points, intervals = _seeded_estimates(_rliable(), matrices, lambda x: np.array([iqm(x)]), reps, seed)
    ordered = sorted(matrices, key=lambda label: -float(points[label][0]))
    lines = [f"| {label} | {float(points[label][0]):.3f} [{float(intervals[label][0][0]):.3f}, "
             f"{float(intervals[label][1][0]):.3f}] |" for label in ordered]
    return (head + f"IQM of scores normalised per env (`{low}` = 0, `{high}` = 1), {runs} runs per env and "
            f"{len(summaries)} envs per row, with 95 % stratified-bootstrap intervals (`rliable`, {reps} "
            "replications). Above 1: better than the tuned constant across the envs; below 0: worse than random.\n\n"
            "| row | normalised IQM [95 % CI] |\n|---|---|\n" + "\n".join(lines) + "\n")
