"""Two benchmark folders side by side: the same rows on the same cells under two settings.

What differs between the folders (env keywords such as ``momentum_style``, a package version,
another machine) is read from their stores (protocol and provenance); for every row label in both,
the report gives each folder's IQM and the paired differences ``B − A`` over the cells both ran
(same training and evaluation seeds, so each episode's own difficulty cancels), with a 95 %
bootstrap CI of their mean and wins/ties/losses, and names the machines that ran each folder
(across CPU models the pairing is the comparison itself: how far another machine moves a row).
``asg-benchmark compare A B`` writes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asg_benchmark.stats import Paired, cell_machines, cell_scores, iqm, paired
from asg_benchmark.store import open_store, read_rows


@dataclass
class RowComparison:
    """One row label in both folders: each one's IQM, and ``B − A`` per shared cell."""

    label: str
    iqm_a: float
    iqm_b: float
    difference: Paired
    machines_a: tuple[str, ...] = ()
    machines_b: tuple[str, ...] = ()
    """The machines that ran the label's cells in each folder ("" where the results do not say)."""


def compare_rows(rows_a: list[dict[str, str]], rows_b: list[dict[str, str]], *, reps: int = 2000,
                 seed: int = 0) -> list[RowComparison]:
    """Every label of ``rows_a`` that ``rows_b`` has on at least one shared cell, in ``rows_a``'s order."""
    a, b = cell_scores(rows_a, "target_score"), cell_scores(rows_b, "target_score")
    machines_a, machines_b = cell_machines(rows_a), cell_machines(rows_b)
    comparisons = []
    for label, cells in a.items():
        if label not in b:
            continue
        difference = paired(b[label], cells, reps=reps, seed=seed)
        if difference is not None:
            comparisons.append(RowComparison(label, iqm(np.array(list(cells.values()))),
                                             iqm(np.array(list(b[label].values()))), difference,
                                             _distinct(machines_a[label]), _distinct(machines_b[label])))
    return comparisons


def protocol_differences(folder_a: Path, folder_b: Path) -> dict[str, tuple[Any, Any]]:
    """The protocol entries (env keywords one by one) whose values differ between the folders."""
    def read(folder: Path) -> dict[str, Any]:
        protocol = open_store(folder).protocol() or {}
        protocol.pop("train_env_kwargs", None)
        return protocol

    return differing_settings(read(folder_a), read(folder_b))


def differing_settings(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``key: (value in a, value in b)`` for every key whose values differ; ``env_kwargs`` (a dict, or its
    JSON text as a CLI took it) is compared keyword by keyword, as ``env_kwargs.<name>``."""
    def flat(settings: dict[str, Any]) -> dict[str, Any]:
        settings = dict(settings)
        env_kwargs = settings.pop("env_kwargs", None) or {}
        if isinstance(env_kwargs, str):
            env_kwargs = json.loads(env_kwargs)
        return {**settings, **{f"env_kwargs.{k}": v for k, v in env_kwargs.items()}}

    a, b = flat(a), flat(b)
    return {key: (a.get(key), b.get(key)) for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)}


def _distinct(cells: dict[Any, str]) -> tuple[str, ...]:
    return tuple(sorted(set(cells.values())))


def comparison_markdown(folder_a: Path, folder_b: Path, comparisons: list[RowComparison],
                        differences: dict[str, tuple[Any, Any]]) -> str:
    names: dict[str, str] = {}  # machine → its short name in the table, M1, M2, ... in order of appearance
    for c in comparisons:
        for m in (*c.machines_a, *c.machines_b):
            names.setdefault(m, f"M{len(names) + 1}")

    def short(found: tuple[str, ...]) -> str:
        return " + ".join(names[m] for m in found) or "?"

    lines = [f"# {folder_b.name} against {folder_a.name}", "",
             f"* A: `{folder_a}`; B: `{folder_b}`",
             "* machines: " + ("; ".join(f"{n} = {m or 'not recorded'}" for m, n in names.items()) or "none"),
             "* what differs in their protocols: " + ("; ".join(f"`{k}` {a!r} → {b!r}"
                                                              for k, (a, b) in differences.items()) or "nothing"),
             "* Δ = B − A on the cells both ran (same training and evaluation seeds), draws averaged per cell; "
             "95 % bootstrap CI of the mean Δ", "",
             "| row | machines A → B | cells | IQM A | IQM B | mean Δ [95 % CI] | B better/tie/worse |",
             "|---|---|---|---|---|---|---|"]
    for c in comparisons:
        d = c.difference
        lines.append(f"| {c.label} | {short(c.machines_a)} → {short(c.machines_b)} | {len(d.differences)} | "
                     f"{c.iqm_a:.3f} | {c.iqm_b:.3f} | {d.mean:+.3f} [{d.ci[0]:+.3f}, {d.ci[1]:+.3f}] | "
                     f"{d.wins}/{d.ties}/{d.losses} |")
    if not comparisons:
        lines.append("| (no row label with shared cells) | | | | | | |")
    return "\n".join(lines) + "\n"


def write_comparison(folder_a: str | Path, folder_b: str | Path, out: str | Path | None = None, *,
                     reps: int = 2000) -> str:
    """The comparison of two results folders as markdown (written to ``out`` when given)."""
    folder_a, folder_b = Path(folder_a), Path(folder_b)
    comparisons = compare_rows(read_rows(folder_a), read_rows(folder_b), reps=reps)
    text = comparison_markdown(folder_a, folder_b, comparisons, protocol_differences(folder_a, folder_b))
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
    return text
