"""Ablation of the REINFORCE-LSTM controller: the paper preset against each option alone, and all together.

    python -m experiments.ablation_reinforce --budget 600 --train-seeds 0 --eval-seeds 100-109 --draws 1 \\
        --out results/ablation_reinforce/budget600 [--variants paper entropy_bonus stabilized]

Each variant is a labelled row of the benchmark (``<variant>=reinforce_lstm`` with its keywords) under
the protocol of ``docs/benchmark.md`` (ASG-Digits-v0, a decision every 10 SGD steps, sampled
evaluation on all 5,000 MNIST images), every variant with the same budget and seeds; the report
compares each with ``paper``. Resumable (the benchmark's folder: rows, trained agents and their
training episodes). Beside the benchmark's files it writes ``ablation.md`` (per variant: options,
IQM target accuracy, P(improvement over paper), the policy's entropy at the start and end of
training, training return) and ``entropy.png`` (mean per-coordinate entropy over training).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tyro

from asg_benchmark import BenchmarkSpec, read_rows, run_benchmark, summarize, write_report
from asg_benchmark.checkpoints import TrainedAgent, TrainingSummary, training_summaries
from asg_benchmark.protocol import quick
from asg_benchmark.registry import split_label
from asg_benchmark.seeds import parse_seeds
from asg_benchmark.stats import RowStats, Summary
from experiments.common import REPO, parse_env_kwargs

REFERENCE = "paper"
VARIANTS: dict[str, dict[str, Any]] = {
    REFERENCE: {},  # the paper's settings (agents.reinforce_lstm.PRESETS["paper"])
    "baseline": {"baseline": True},  # a running-mean reward baseline
    "normalize_advantages": {"normalize_advantages": True},
    "normalize_observations": {"normalize_observations": True},  # θ_n mean/std stop being constants
    "reference_init": {"lstm_init": "reference"},  # orthogonal LSTM weights, zero biases
    "adam_clip": {"optimizer": "adam", "learning_rate": 1e-3, "max_grad_norm": 1.0},
    "entropy_bonus": {"entropy_coef": 0.01},
    "discount": {"gamma": 0.9},
    "stabilized": {"preset": "stabilized"},  # all of the above but the discount
    # Adam at 1e-3 barely moves the policy within 600 decisions (entropy stays ln 11 to 4 digits): 10x the step
    "stabilized_lr1e-2": {"preset": "stabilized", "learning_rate": 1e-2},
}


@dataclass
class Args:
    """REINFORCE-LSTM options against the paper preset, on the benchmark protocol."""

    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    """variants to run (names of VARIANTS); paper is always included"""
    budget: int = 600
    """env steps (decisions) each variant trains for"""
    train_seeds: list[str] = field(default_factory=lambda: ["0"])
    """training seeds (ranges such as 0-2 allowed)"""
    eval_seeds: list[str] = field(default_factory=lambda: ["100-109"])
    """evaluation seeds (at least 10)"""
    draws: int = 1
    """sampled evaluation episodes per evaluation seed"""
    greedy: bool = False
    """also evaluate each variant greedily"""
    env_kwargs: str = "{}"
    """gym.make keywords over the protocol's, a JSON object"""
    out: str = str(REPO / "results" / "ablation_reinforce")
    """results folder (resumable)"""
    reps: int = 2000
    """bootstrap replications"""
    quick: bool = False
    """smoke run: toy backbone, tiny sizes, 3 evaluation seeds"""


def spec_of(args: Args) -> BenchmarkSpec:
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    names = [REFERENCE, *(v for v in args.variants if v != REFERENCE)]
    spec = BenchmarkSpec(env="ASG-Digits-v0", agents=tuple(f"{name}=reinforce_lstm" for name in names),
                         train_seeds=tuple(parse_seeds(args.train_seeds)),
                         eval_seeds=tuple(parse_seeds(args.eval_seeds)),
                         budget=args.budget, draws=args.draws, env_kwargs=parse_env_kwargs(args.env_kwargs),
                         agent_kwargs={name: VARIANTS[name] for name in names if VARIANTS[name]},
                         allow_few_seeds=args.quick, greedy=args.greedy)
    return quick(spec) if args.quick else spec


def main(argv: list[str] | None = None) -> Path:
    args = tyro.cli(Args, args=argv)
    if args.quick:  # never into the results folder
        args.eval_seeds, args.budget = ["100-102"], min(args.budget, 12)
        args.out = args.out if args.out != Args.out else tempfile.mkdtemp(prefix="asg_ablation_")
    spec, out = spec_of(args), Path(args.out)
    run_benchmark(spec, out, report=False)
    summary = summarize(read_rows(out), reps=args.reps, reference=REFERENCE)
    write_report(out, summary=summary)
    (out / "ablation.md").write_text(ablation_table(summary, training_summaries(out), spec))
    plot_entropy(training_curves(out, spec), out / "entropy.png")
    print(f"ablation in {out / 'ablation.md'}")
    return out


def training_curves(out: Path, spec: BenchmarkSpec) -> dict[str, list[list[dict[str, str]]]]:
    """Variant → one list of training-episode rows per training seed (``agents/<variant>-seed<k>/episodes.csv``)."""
    curves: dict[str, list[list[dict[str, str]]]] = {}
    for name in (split_label(a)[0] for a in spec.agents):
        runs = [TrainedAgent.of(out, name, seed).episodes() for seed in spec.train_seeds]
        curves[name] = [rows for rows in runs if rows]
    return curves


def _options(name: str) -> str:
    return "—" if not VARIANTS[name] else json.dumps(VARIANTS[name])[1:-1].replace('"', "")


def ablation_table(summary: Summary, training: Mapping[str, TrainingSummary], spec: BenchmarkSpec) -> str:
    stats: dict[str, RowStats] = {s.label: s for s in summary.rows}
    lines = [
        "# REINFORCE-LSTM ablation: the paper preset against each option",
        "",
        f"* protocol: `docs/benchmark.md` on {spec.env} (keywords {json.dumps(spec.eval_env_kwargs())}); budget "
        f"{spec.budget} env steps per variant; training seeds {list(spec.train_seeds)}; evaluation seeds "
        f"{list(spec.eval_seeds)}, {spec.draws} sampled draw(s) each",
        "* target accuracy: IQM with 95 % stratified-bootstrap CI (rliable); P(improvement) over `paper` with its CI",
        f"* entropy: the policy's mean per-coordinate entropy (nats; uniform ln 11 = {np.log(11):.2f}) over the first "
        "and last 20 % of training episodes; return: the same windows of training returns",
        "",
        "| variant | options | IQM target accuracy [95 % CI] | P(> paper) [95 % CI] | entropy first → last "
        "| training return first → last | training episodes |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in (split_label(a)[0] for a in spec.agents):
        s, t = stats.get(name), training.get(name)
        if s is None or t is None:
            continue
        improvement = "—" if s.improvement is None or s.improvement_ci is None else (
            f"{s.improvement:.2f} [{s.improvement_ci[0]:.2f}, {s.improvement_ci[1]:.2f}]")
        lines.append(
            f"| {name} | {_options(name)} | {s.iqm:.3f} [{s.iqm_ci[0]:.3f}, {s.iqm_ci[1]:.3f}] | {improvement} | "
            f"{t.entropy_early:.2f} → {t.entropy_late:.2f} | {t.return_early:.3f} → {t.return_late:.3f} | "
            f"{t.episodes} |")
    return "\n".join(lines) + "\n"


def plot_entropy(curves: Mapping[str, list[list[dict[str, str]]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, runs in curves.items():
        for k, rows in enumerate(runs):
            values = [float(r["entropy"]) for r in rows if r["entropy"]]
            ax.plot(range(len(values)), values, label=name if k == 0 else None, alpha=0.8)
    ax.axhline(np.log(11), color="grey", ls=":", lw=1, label="uniform")
    ax.set_xlabel("training episode")
    ax.set_ylabel("mean per-coordinate entropy (nats)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
