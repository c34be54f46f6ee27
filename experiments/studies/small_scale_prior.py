"""The training-side evidence behind pilot 3's prior towards small scales (``results/recipe_pilot/``), and the prior.

Reads what learning agents already left on disk, never a target score: the tuned constant's trials (each a
constant action on one training episode, with its return) and training ``episodes.csv`` files. Prints, per
trials file, the median return, the best constant and its median coordinate, the trials with every scale ≤ 0.5,
and the trials whose return is below ``--collapse`` with their actions; per ``episodes.csv`` how many episodes
returned less than that; and for ``--slope`` β the prior p(k) ∝ exp(−β·k) (mean scale, share of draws ≤ 0.4,
probability of scale 1.0, entropy)::

    python -m experiments.studies.small_scale_prior \\
        --trials photos=results/suite/ASG-DigitsOnPhotos-v1/agents/tuned_constant-seed0/agent \\
                 digits=results/benchmark_agents/v0.2/agents/tuned_constant-seed0/agent \\
        --episodes photos_recommended=results/suite/ASG-DigitsOnPhotos-v1/agents/recommended-seed0/episodes.csv \\
        --slope 0.5 --out results/recipe_pilot/small_scale_prior
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tyro

from experiments.common import report_result

SCALES = np.linspace(0.0, 1.0, 11)  # the env's scales: action index k of MultiDiscrete([11] * C) is k / 10


@dataclass
class Args:
    """Summarise tuned-constant trials and training returns, and the prior of one initial logit slope."""

    trials: list[str] = field(default_factory=list)
    """LABEL=PATH of a tuned_constant agent file (its JSON holds the trials)"""
    episodes: list[str] = field(default_factory=list)
    """LABEL=PATH of a training episodes.csv"""
    slope: float = 0.5
    """β of the prior p(k) ∝ exp(−β·k)"""
    collapse: float = 0.1
    """a return below this counts as an episode that hardly trained"""
    out: str | None = None
    """folder for small_scale_prior.json and the provenance"""


def _labelled(items: list[str]) -> dict[str, Path]:
    pairs = [item.split("=", 1) for item in items]
    if any(len(pair) != 2 for pair in pairs):
        raise SystemExit(f"give LABEL=PATH, got {items}")
    return {label: Path(path) for label, path in pairs}


def constant_trials(path: Path, collapse: float) -> dict:
    """What a tuned constant's trials say about small and large scales."""
    trials = json.loads(path.read_text())["trials"]
    actions = np.array([trial["action"] for trial in trials])
    values = np.array([trial["value"] for trial in trials], dtype=float)
    best = actions[values.argmax()]
    small = actions.max(axis=1) <= 5
    return {"trials": len(values), "median_return": float(np.median(values)), "best_action": best.tolist(),
            "best_median_scale": float(np.median(SCALES[best])),
            "all_scales_at_most_0.5": {"trials": int(small.sum()),
                                       "mean_return": float(values[small].mean()) if small.any() else None},
            "below_collapse": [{"action": actions[i].tolist(), "return": float(values[i])}
                               for i in np.flatnonzero(values < collapse)]}


def prior(slope: float) -> dict:
    """The untrained policy's distribution over one coordinate's scales at ``initial_logit_slope`` β."""
    p = np.exp(-slope * np.arange(len(SCALES)))
    p /= p.sum()
    return {"slope": slope, "mean_scale": float(p @ SCALES), "share_at_most_0.4": float(p[SCALES <= 0.4].sum()),
            "p_scale_1.0": float(p[-1]), "entropy_nats": float(-(p * np.log(p)).sum()),
            "uniform_entropy_nats": float(np.log(len(SCALES)))}


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv)
    result: dict = {"collapse_below": args.collapse, "prior": prior(args.slope)}
    result["trials"] = {label: constant_trials(path, args.collapse) for label, path in _labelled(args.trials).items()}
    result["episodes"] = {}
    for label, path in _labelled(args.episodes).items():
        with path.open(newline="") as f:
            returns = [float(row["return"]) for row in csv.DictReader(f)]
        below = sum(r < args.collapse for r in returns)
        result["episodes"][label] = {"episodes": len(returns), "below_collapse": below}
    return report_result(result, args.out, "small_scale_prior", args)


if __name__ == "__main__":
    main()
