"""The benchmark's statistics, computed from the results rows alone with ``rliable`` (Agarwal et al., 2021).

A *run* is one (training seed, evaluation seed) cell; a stochastic policy's draws on that cell
are averaged first (its expected score on that episode). With one env there is one task, so a
row's scores are a ``(runs, 1)`` matrix, as ``rliable`` wants them. Per row: the interquartile
mean (IQM) of the final target score and of old-task agreement, each with a 95 % stratified-
bootstrap confidence interval; the probability of improvement over the best hand-designed row
(the hand-designed row with the highest IQM; or a ``reference`` row the caller names) with its
interval; and the paired per-cell differences to that row (the same evaluation episodes, so the
episode's own difficulty cancels). Two cells pair only when one machine ran both (column
``machine``; unknown pairs with anything): on another CPU model the "same" episode is another
draw, and a CPU change alone moves a row as much as the differences between the best rows.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np

CellKey = tuple[str, str]  # (train_seed, eval_seed); train_seed "-" for an unseeded agent


@dataclass
class Paired:
    """Paired differences ``row − best hand-designed`` over the cells they share."""

    differences: dict[CellKey, float]
    mean: float
    ci: tuple[float, float]
    wins: int
    ties: int
    losses: int


@dataclass
class RowStats:
    """One row of the table (an agent, or its ``/greedy`` evaluation)."""

    label: str
    hand_designed: bool
    deterministic: bool
    runs: int
    draws: int
    iqm: float
    iqm_ci: tuple[float, float]
    agreement_iqm: float
    agreement_ci: tuple[float, float]
    mean_return: float
    diverged: float
    train_env_steps: float
    improvement: float | None = None
    improvement_ci: tuple[float, float] | None = None
    paired: Paired | None = None
    machines: tuple[str, ...] = ()
    """The machines that ran the row's episodes ("" where the results do not say)."""
    other_machine: int = 0
    """Cells shared with the reference row but not paired with it: another machine ran them."""


@dataclass
class Summary:
    """Everything the report shows; ``scores`` is ``rliable``'s input, row label → (runs, 1)."""

    rows: list[RowStats]
    best_hand_designed: str | None
    scores: dict[str, np.ndarray]
    protocol: dict[str, Any]
    reps: int
    profile_taus: np.ndarray = field(default_factory=lambda: np.zeros(0))
    profiles: dict[str, np.ndarray] = field(default_factory=dict)
    profile_cis: dict[str, np.ndarray] = field(default_factory=dict)
    reference: str | None = None
    """The row the others are compared with (``improvement``, ``paired``): the best hand-designed by default."""
    agreement_scores: dict[str, np.ndarray] = field(default_factory=dict)
    """Old-task agreement, row label → (runs, 1), the runs in the order of ``scores``."""


def _rliable() -> Any:
    try:
        from rliable import library as rly
    except ImportError as exc:
        raise ImportError(f"the benchmark's statistics need rliable: pip install 'asg-gym[benchmark]' ({exc})") from exc
    return rly


@contextmanager
def _quiet() -> Iterator[None]:
    """rliable passes arch a RandomState, which arch >= 7 deprecates with a FutureWarning per call."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module="arch")
        yield


RESOLUTION = 10**6
"""The largest denominator a score is read with: accuracy on N ≤ 10⁶ images is recovered exactly as k/N."""


def exact_score(text: str) -> Fraction | float:
    """A score as the rational it stands for, so that equal scores compare equal whatever rounding their floats
    went through: the float of k/N (N ≤ 10⁶) is within 1e-16 of it, and any other fraction with a denominator
    ≤ 10⁶ is at least 1e-12 away. Other metrics (mIoU) are snapped to the nearest such rational, far below
    any difference that matters. Non-finite values stay floats."""
    value = float(text)
    return Fraction(text).limit_denominator(RESOLUTION) if math.isfinite(value) else value


def cell_scores(rows: list[dict[str, str]], column: str) -> dict[str, dict[CellKey, float]]:
    """Row label → cell → the mean of ``column`` over that cell's draws, in the order labels first appear.

    The mean is exact (:func:`exact_score`), then rounded once: identical draws give the draw's own score, two
    cells with the same scores give the same float, and their difference is a tie, not ±1e-17."""
    draws: dict[str, dict[CellKey, list[Fraction | float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        draws[row["agent"]][(row["train_seed"], row["eval_seed"])].append(exact_score(row[column]))
    return {label: {cell: float(sum(v, Fraction(0)) / len(v)) for cell, v in sorted(cells.items(), key=_cell_order)}
            for label, cells in draws.items()}


def cell_machines(rows: list[dict[str, str]]) -> dict[str, dict[CellKey, str]]:
    """Row label → cell → the machine that ran its draws ("" if not recorded; several joined by " + ")."""
    found: dict[str, dict[CellKey, set[str]]] = defaultdict(lambda: defaultdict(set))
    for row in rows:
        found[row["agent"]][(row["train_seed"], row["eval_seed"])].add(row.get("machine") or "")
    return {label: {cell: " + ".join(sorted(m)) if "" not in m else "" for cell, m in cells.items()}
            for label, cells in found.items()}


def same_machine(a: str, b: str) -> bool:
    """Whether two cells ran on one machine, as far as the results tell (an unknown machine matches any)."""
    return not a or not b or a == b


def _cell_order(item: tuple[CellKey, Any]) -> tuple[int, int]:
    train, evaluation = item[0]
    return (-1 if train == "-" else int(train)), int(evaluation)


def summarize(rows: list[dict[str, str]], *, reps: int = 2000, seed: int = 0, reference: str | None = None
              ) -> Summary:
    """The statistics of results ``rows`` (``results.csv``); ``reps`` bootstrap replications, seeded.

    A row needs ``agent``, ``train_seed``, ``eval_seed``, ``target_score`` and ``old_task_agreement``;
    the other columns of ``results.csv`` (``draw``, ``hand_designed``, ``deterministic``, ``episode_return``,
    ``diverged``, ``train_env_steps``, the protocol's) are read where present.

    Every row is compared with ``reference`` (probability of improvement, paired differences);
    by default with the best hand-designed schedule.
    """
    if not rows:
        raise ValueError("no results rows to summarize")
    if reference is not None and reference not in {r["agent"] for r in rows}:
        raise ValueError(f"reference row {reference!r} is not in the results")
    with _quiet():
        return _summarize(rows, reps, seed, reference)


def compared_with(rows: list[dict[str, str]], summary: Summary, reference: str, *, seed: int = 0) -> Summary:
    """``summary`` of ``rows`` with every row compared with ``reference`` instead: only the probabilities of
    improvement and the paired differences are computed again (the IQMs and profiles do not depend on it)."""
    if reference not in summary.scores:
        raise ValueError(f"reference row {reference!r} is not in the results")
    target, machines, rly = cell_scores(rows, "target_score"), cell_machines(rows), _rliable()
    stats = [replace(s, improvement=None, improvement_ci=None, paired=None, other_machine=0) for s in summary.rows]
    with _quiet():
        for s in stats:
            if s.label != reference:
                _compare(s, reference, target, machines, summary.scores, rly, summary.reps, seed)
    return replace(summary, rows=stats, reference=reference)


def iqm(scores: np.ndarray) -> float:
    """``rliable.metrics.aggregate_iqm`` (scipy's 25 % trimmed mean over all runs and tasks), without scipy's
    per-call overhead, which dominates thousands of bootstrap replications."""
    flat = np.sort(np.asarray(scores, dtype=float).reshape(-1))
    cut = int(0.25 * flat.size)
    return float(flat[cut:flat.size - cut].mean())


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """``rliable.metrics.probability_of_improvement`` (the Mann-Whitney U statistic / (n_x·n_y), per task,
    averaged over tasks), vectorised: P(X > Y) + ½·P(X = Y)."""
    per_task = [(x[:, t, None] > y[None, :, t]).mean() + 0.5 * (x[:, t, None] == y[None, :, t]).mean()
                for t in range(x.shape[1])]
    return float(np.mean(per_task))


def _score_profile(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """rliable's default profile (the fraction of all runs scoring above τ), vectorised over τ."""
    return (np.asarray(scores).reshape(-1)[:, None] > np.asarray(taus)[None, :]).mean(axis=0)


def _summarize(rows: list[dict[str, str]], reps: int, seed: int, reference: str | None) -> Summary:
    rly = _rliable()
    target, agreement = cell_scores(rows, "target_score"), cell_scores(rows, "old_task_agreement")
    machines = cell_machines(rows)
    scores = {label: np.array(list(cells.values()))[:, None] for label, cells in target.items()}
    agreement_scores = {label: np.array(list(cells.values()))[:, None] for label, cells in agreement.items()}

    def aggregate(x: np.ndarray) -> np.ndarray:
        return np.array([iqm(x)])

    points, intervals = _seeded_estimates(rly, scores, aggregate, reps, seed)
    a_points, a_intervals = _seeded_estimates(rly, agreement_scores, aggregate, reps, seed)
    stats = [_row_stats(label, [r for r in rows if r["agent"] == label], scores[label], points, intervals,
                        a_points, a_intervals) for label in scores]
    hand = [s for s in stats if s.hand_designed]
    best = max(hand, key=lambda s: s.iqm).label if hand else None
    compared_with = reference if reference is not None else best
    if compared_with is not None:
        for s in stats:
            if s.label != compared_with:
                _compare(s, compared_with, target, machines, scores, rly, reps, seed)
    taus = np.linspace(0.0, 1.0, 101)
    # What rly.create_performance_profile computes, with a seeded bootstrap (it takes no generator).
    profiles, profile_cis = _seeded_estimates(rly, scores, lambda x: _score_profile(x, taus), reps, seed)
    return Summary(stats, best, scores, protocol_of(rows), reps, taus, profiles, profile_cis, compared_with,
                   agreement_scores)


def _seeded_estimates(rly: Any, scores: dict[str, Any], aggregate: Any, reps: int, seed: int) -> tuple[dict, dict]:
    """``rly.get_interval_estimates`` key by key (a row, a comparison), each bootstrap seeded by ``seed`` and
    its key: reproducible, and a row's interval does not move when rows are added to the results.

    rliable's stratified bootstrap draws its resamples from NumPy's global generator (its
    ``random_state`` does not reach them), so that generator is seeded for the call and restored after.
    """
    points, intervals = {}, {}
    for key, x in scores.items():
        key_seed = (seed + zlib.crc32(key.encode())) % 2**32
        saved = np.random.get_state()
        np.random.seed(key_seed)
        try:
            point, interval = rly.get_interval_estimates({key: x}, aggregate, reps=reps,
                                                         random_state=np.random.RandomState(key_seed))
        finally:
            np.random.set_state(saved)
        points.update(point)
        intervals.update(interval)
    return points, intervals


def _row_stats(label: str, rows: list[dict[str, str]], scores: np.ndarray, points: dict, intervals: dict,
               a_points: dict, a_intervals: dict) -> RowStats:
    return RowStats(
        label=label, hand_designed=rows[0].get("hand_designed") == "True",
        deterministic=rows[0].get("deterministic") == "True", runs=len(scores),
        draws=max(int(r.get("draw", 0)) for r in rows) + 1,
        iqm=float(points[label][0]), iqm_ci=_interval(intervals[label]),
        agreement_iqm=float(a_points[label][0]), agreement_ci=_interval(a_intervals[label]),
        mean_return=float(np.mean([float(r.get("episode_return", "nan")) for r in rows])),
        diverged=float(np.mean([r.get("diverged") == "True" for r in rows])),
        train_env_steps=float(np.mean([float(r.get("train_env_steps", 0)) for r in rows])),
        machines=tuple(sorted({r.get("machine") or "" for r in rows})),
    )


def _compare(s: RowStats, best: str, target: dict[str, dict[CellKey, float]],
             machines: dict[str, dict[CellKey, str]], scores: dict[str, np.ndarray], rly: Any, reps: int,
             seed: int) -> None:
    """Probability of improvement over ``best`` (with its interval; it compares score distributions, not cells)
    and the paired differences on the cells one machine ran for both."""
    point, interval = _seeded_estimates(rly, {s.label: [scores[s.label], scores[best]]},
                                        lambda x, y: np.array([probability_of_improvement(x, y)]), reps, seed)
    s.improvement, s.improvement_ci = float(point[s.label][0]), _interval(interval[s.label])
    pairs = (machines[s.label], machines[best])
    # Two rows' training seeds are unrelated runs: a seed the reference lacks pairs with its cell of that episode.
    s.paired = paired(target[s.label], target[best], reps=reps, seed=seed, machines=pairs, across_seeds=True)
    s.other_machine = (len(_matches(target[s.label], target[best], across_seeds=True))
                       - len(_matches(target[s.label], target[best], pairs, across_seeds=True)))


def _matches(scores: dict[CellKey, Any], reference: dict[CellKey, Any],
             machines: tuple[dict[CellKey, str], dict[CellKey, str]] | None = None, *, across_seeds: bool = False
             ) -> dict[CellKey, tuple[CellKey, CellKey]]:
    """Each pair of cells to difference, keyed by the cell it is reported under: the same training and evaluation
    seeds, an unseeded ``("-", eval_seed)`` cell on either side standing for every training seed; with
    ``across_seeds`` (two different rows), a training seed the reference does not have pairs with the reference's
    one cell of that evaluation seed (none when it has several); with ``machines`` (each side's cell → machine),
    only cells that one machine ran for both."""
    found = {}
    for own in scores:
        train, evaluation = own
        if train == "-":  # e.g. a schedule against a trained reference: one difference per reference cell
            candidates = [(other, other) for other in reference if other[1] == evaluation]
        else:
            match = own if own in reference else ("-", evaluation)
            if match not in reference and across_seeds:
                episode = [other for other in reference if other[1] == evaluation]
                match = episode[0] if len(episode) == 1 else match
            candidates = [(own, match)] if match in reference else []
        for key, other in candidates:
            if machines is None or same_machine(machines[0].get(own, ""), machines[1].get(other, "")):
                found[key] = (own, other)
    return found


def paired(scores: dict[CellKey, float], reference: dict[CellKey, float], *, reps: int = 2000, seed: int = 0,
           machines: tuple[dict[CellKey, str], dict[CellKey, str]] | None = None, across_seeds: bool = False
           ) -> Paired | None:
    """``scores − reference`` on every cell both have, with a bootstrap 95 % CI of the mean; ``None`` when none
    is shared. An unseeded ``("-", eval_seed)`` cell, on either side, stands for every training seed. With
    ``machines`` (each side's cell → the machine that ran it), cells that different machines ran are left out;
    ``across_seeds``: see ``_matches`` (for two different rows, not one row in two folders)."""
    differences = {key: scores[own] - reference[other]
                   for key, (own, other) in _matches(scores, reference, machines, across_seeds=across_seeds).items()}
    if not differences:
        return None
    d = np.array(list(differences.values()))
    with _quiet():
        mean, ci = _seeded_estimates(_rliable(), {"d": d[:, None]}, lambda x: np.array([np.mean(x)]), reps, seed)
    return Paired(differences, float(mean["d"][0]), _interval(ci["d"]), int((d > 0).sum()), int((d == 0).sum()),
                  int((d < 0).sum()))


def _interval(ci: np.ndarray) -> tuple[float, float]:
    arr = np.asarray(ci, dtype=float).reshape(2, -1)
    return float(arr[0, 0]), float(arr[1, 0])


def protocol_of(rows: list[dict[str, str]]) -> dict[str, Any]:
    """The protocol as the rows state it: env, episode length, decision window, budget, score, seeds."""

    def values(column: str) -> list[str]:
        return sorted({r[column] for r in rows if column in r}, key=lambda v: (len(v), v))

    return {"env": values("env"), "episode_length": values("episode_length"),
            "decision_window": values("decision_window"), "budget": values("budget"),
            "target_metric": values("target_metric"),
            "train_seeds": [s for s in values("train_seed") if s != "-"], "eval_seeds": values("eval_seed")}
