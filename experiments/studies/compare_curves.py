"""Two curve folders side by side: each setting's final score, paired by evaluation seed.

The figure scripts' counterpart of ``asg-benchmark compare``: run a figure twice with one env keyword
changed (``--env-kwargs '{"momentum_style": "reference"}'`` into a second folder), then this pairs the
final score of every setting both folders ran on the seeds both ran (B − A, with the 95 % bootstrap CI
of the mean and wins/ties/losses) and names what differs in their commands' arguments. Writes
``compare.md`` into B unless ``--out`` says otherwise::

    python -m experiments.studies.compare_curves results/fig6_policies/v0.2_schedule \\
        results/fig6_policies/v0.2_schedule_reference
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tyro

from asg_benchmark import compare_rows, comparison_markdown, differing_settings
from experiments.curves import final_rows, load_curves


@dataclass
class Args:
    """Pair the final scores of two curve folders by setting and evaluation seed."""

    folder_a: tyro.conf.Positional[str]
    """the reference folder (A), holding curves.csv and provenance.json"""
    folder_b: tyro.conf.Positional[str]
    """the folder compared with it (B)"""
    out: str | None = None
    """the markdown file (default: FOLDER_B/compare.md)"""


def scored_rows(folder: Path) -> list[dict[str, Any]]:
    """The folder's final scores as benchmark rows (one per setting, λ and seed), with its machine."""
    machines = {run.get("machine", "") for run in _runs(folder)}
    machine = machines.pop() if len(machines) == 1 else ""  # several machines: not recorded per row
    rows = final_rows(load_curves(folder / "curves.csv"), lambda setting, lam: f"{setting} λ={lam:g}")
    return [{**row, "machine": machine} for row in rows]


def argument_differences(folder_a: Path, folder_b: Path) -> dict[str, tuple[Any, Any]]:
    """The arguments (env keywords one by one) of the two folders' last runs that differ, seeds and paths aside."""
    def last_args(folder: Path) -> dict[str, Any]:
        runs = _runs(folder)
        args = dict(runs[-1].get("args", {})) if runs else {}
        for key in ("out", "seeds", "report_only"):
            args.pop(key, None)
        return args

    return differing_settings(last_args(folder_a), last_args(folder_b))


def _runs(folder: Path) -> list[dict[str, Any]]:
    path = folder / "provenance.json"
    return json.loads(path.read_text()).get("runs", []) if path.is_file() else []


def main(argv: list[str] | None = None) -> str:
    args = tyro.cli(Args, args=argv)
    folder_a, folder_b = Path(args.folder_a), Path(args.folder_b)
    for folder in (folder_a, folder_b):
        if not (folder / "curves.csv").is_file():
            raise SystemExit(f"{folder} has no curves.csv: give two output folders of a figure script")
    comparisons = compare_rows(scored_rows(folder_a), scored_rows(folder_b))
    text = comparison_markdown(folder_a, folder_b, comparisons, argument_differences(folder_a, folder_b))
    out = Path(args.out) if args.out else folder_b / "compare.md"
    out.write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main()
