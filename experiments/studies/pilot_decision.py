"""A pilot's pre-registered go/no-go, applied mechanically to its training runs, and the recipe it picks.

A pilot trains one candidate recipe on one seed per task and is judged on the training side alone
(``episodes.csv``: return and policy entropy over the last 20 % of episodes, what a card's "training" says). The
rule is fixed before the runs, one threshold pair per run (or one pair for all), and holds when it holds on every
run; this script applies it and writes the chosen recipe's keywords where the runs that depend on the pilot read
them, so a queue of runs (``make pending``) needs nobody to read the pilot first::

    python -m experiments.studies.pilot_decision results/recipe_pilot/epochs4_digits_seed1001/episodes.csv \\
        --candidate '{"preset": "recommended", "update_epochs": 4}' --fallback '{"preset": "recommended"}' \\
        --max-entropy 2.0 --min-return 1.99 --out results/recipe_pilot/epochs4_decision

writes ``decision.json`` (the measured values, the rule, the verdict) and ``recipe.json`` (the chosen keywords).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import tyro

from asg_benchmark import how_it_trained
from experiments.common import json_object, report_result


@dataclass
class Args:
    """Apply a pilot's pre-registered rule to its training episodes."""

    episodes: tyro.conf.Positional[list[str]]
    """the pilot's episodes.csv, one per training run (asg-benchmark train --out)"""
    candidate: str
    """the candidate recipe's agent keywords, a JSON object: chosen if the rule holds"""
    fallback: str
    """the recipe's agent keywords otherwise, a JSON object"""
    max_entropy: list[float]
    """the rule: mean policy entropy per coordinate over the last 20 % of episodes below this (nats); one value,
    or one per run"""
    min_return: list[float]
    """the rule: mean training return over the last 20 % of episodes at least this; one value, or one per run"""
    min_episodes: int = 1
    """refuse a run with fewer finished episodes (an unfinished pilot decides nothing)"""
    out: str | None = None
    """folder for decision.json, recipe.json and the provenance"""


def decide(rows: list[dict[str, str]], max_entropy: float, min_return: float) -> tuple[bool, dict[str, float | None]]:
    """Whether the rule holds on the training rows, and the values it was decided on."""
    measured = how_it_trained(rows)
    entropy, late_return = measured["entropy_late"], measured["return_late"]
    holds = entropy is not None and late_return is not None and entropy < max_entropy and late_return >= min_return
    return holds, measured


def _per_run(values: list[float], runs: int, flag: str) -> list[float]:
    """One threshold for every run, or one per run."""
    if len(values) not in (1, runs):
        raise SystemExit(f"{flag} takes one value or one per episodes.csv ({runs}), got {len(values)}")
    return values * runs if len(values) == 1 else values


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv)
    candidate = json_object(args.candidate, "--candidate", '{"preset": "recommended"}')
    fallback = json_object(args.fallback, "--fallback", '{"preset": "recommended"}')
    max_entropy, min_return = (_per_run(values, len(args.episodes), name) for values, name in
                               ((args.max_entropy, "--max-entropy"), (args.min_return, "--min-return")))
    runs = []
    for path, entropy_bound, return_bound in zip(args.episodes, max_entropy, min_return, strict=True):
        with Path(path).open(newline="") as f:
            rows = list(csv.DictReader(f))
        if len(rows) < args.min_episodes:
            raise SystemExit(f"{path} holds {len(rows)} training episodes, fewer than the pilot's "
                             f"{args.min_episodes}: finish the pilot (asg-benchmark train ... --resume) first")
        holds, measured = decide(rows, entropy_bound, return_bound)
        runs.append({"episodes_csv": path, "episodes": len(rows), "measured": measured, "holds": holds,
                     "rule": {"entropy_late_below": entropy_bound, "return_late_at_least": return_bound}})
    adopted = all(run["holds"] for run in runs)
    result = {"runs": runs, "adopted": adopted, "recipe": candidate if adopted else fallback}
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "recipe.json").write_text(json.dumps(result["recipe"]) + "\n")
    return report_result(result, args.out, "decision", args)


if __name__ == "__main__":
    main()
