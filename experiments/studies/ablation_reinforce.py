"""Ablation of the REINFORCE-LSTM controller: the paper preset against each option alone, and all together.

    python -m experiments.studies.ablation_reinforce --budget 600 --train-seeds 0 --eval-seeds 100-109 --draws 1 \\
        --out results/ablation_reinforce/budget600 [--variants paper entropy_bonus stabilized]

Each variant is a labelled row of the benchmark (``<variant>=reinforce_lstm`` with its keywords) under
the protocol of ``docs/benchmark.md`` (ASG-Digits-v0, a decision every 10 SGD steps, sampled
evaluation on all 5,000 MNIST images), every variant with the same budget and seeds; the report
compares each with ``paper``. Resumable (the benchmark's folder: rows, trained agents and their
training episodes). Beside the benchmark's files it writes ``ablation.md`` (per variant: options,
IQM target accuracy, P(improvement over paper), the policy's entropy at the start and end of
training, training return); the report's ``training.png`` shows each variant's return and entropy over training.

Beating ``paper`` is not the bar that matters: ``--bars`` reads rows that do not train (by default
hand_tuned and random_init) from another benchmark folder with the same evaluation protocol
(``--bars-from``, by default the reference benchmark ``results/benchmark_agents/v0.2``), and the table
compares every variant with the first of them too. Those rows are read, not re-run: a row that does not
train plays the same episodes under any training budget.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tyro

from asg_benchmark import (
    BenchmarkSpec,
    RowStats,
    StoreError,
    Summary,
    TrainingSummary,
    differing_settings,
    open_store,
    parse_seeds,
    quick,
    read_rows,
    run_benchmark,
    split_label,
    statistics_cells,
    summarize,
    training_summaries,
    write_report,
)
from experiments.common import REPO, parse_env_kwargs, repo_relative

REFERENCE = "paper"
BUDGET_FREE = ("budget", "draws")  # protocol keys on which a row that does not train does not depend
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
    # That row's entropy falls 2.39 -> 0.30 within 600 decisions and to 0.05 by 900 of the benchmark's 4,000: the same
    # with the entropy held above 1 nat per coordinate (about 3 live actions of 11) instead of the fixed bonus
    "entropy_floor": {"preset": "stabilized", "learning_rate": 1e-2, "entropy_coef": 0.0, "entropy_floor": 1.0},
    # The best found at the benchmark's 4,000 decisions (its row `horizon`, the preset `recommended`): the discount at
    # γ = 1 over one unroll per episode, a baseline per decision position, Adam at 1e-2
    "recommended": {"preset": "recommended"},
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
    bars: list[str] = field(default_factory=lambda: ["hand_tuned", "random_init"])
    """rows of --bars-from shown beside the variants, read, not re-run (rows that do not train); the first is
    the second reference of the table"""
    bars_from: str = str(REPO / "results" / "benchmark_agents" / "v0.2")
    """benchmark folder holding --bars under the same evaluation protocol (budget and draws aside); '' for none"""
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
        args.bars_from = args.bars_from if args.bars_from != Args.bars_from else ""  # another protocol
    spec, out = spec_of(args), Path(args.out)
    run_benchmark(spec, out, report=False)
    rows = read_rows(out)
    write_report(out, summary=summarize(rows, reps=args.reps, reference=REFERENCE))
    bars = bar_rows(out, Path(args.bars_from), args.bars) if args.bars_from and args.bars else []
    against_paper = summarize(rows + bars, reps=args.reps, reference=REFERENCE)
    against_bar = summarize(rows + bars, reps=args.reps, reference=args.bars[0]) if bars else None
    (out / "ablation.md").write_text(ablation_table(against_paper, against_bar, training_summaries(out), spec,
                                                    args.bars if bars else [], args.bars_from))
    print(f"ablation in {out / 'ablation.md'}")
    return out


def bar_rows(out: Path, there: Path, bars: list[str]) -> list[dict[str, str]]:
    """The rows of ``bars`` in the benchmark folder ``there``, after checking that they may stand beside ``out``'s:
    the same evaluation protocol but for the budget and draws, and rows that do not train."""
    protocols = []
    for folder in (out, there):
        try:
            protocols.append(open_store(folder).protocol() or {})
        except StoreError as exc:
            raise SystemExit(f"--bars-from must be a benchmark folder (or '' for no bars): {exc}") from None
    mine, theirs = protocols
    changed = [key for key in differing_settings(mine, theirs) if key not in BUDGET_FREE]
    if changed:
        raise SystemExit(f"{there} was run under another protocol ({', '.join(changed)} differ from {out}'s): its "
                         "rows cannot stand beside the ablation's; pass --bars-from '' or a folder of this protocol")
    rows = [r for r in read_rows(there) if r["agent"] in bars]
    missing = sorted(set(bars) - {r["agent"] for r in rows})
    if missing:
        raise SystemExit(f"no rows {missing} in {there}: run them there first, or leave them out of --bars")
    trained = sorted({r["agent"] for r in rows if float(r["train_env_steps"]) > 0})
    if trained:
        raise SystemExit(f"{trained} trained in {there}, under its budget: only rows that do not train can be bars")
    return rows


def _options(name: str) -> str:
    return "—" if not VARIANTS[name] else json.dumps(VARIANTS[name])[1:-1].replace('"', "")


def ablation_table(summary: Summary, against_bar: Summary | None, training: Mapping[str, TrainingSummary],
                   spec: BenchmarkSpec, bars: Sequence[str] = (), bars_from: str = "") -> str:
    """One line per variant (then per bar): IQM, P(improvement) over ``paper`` and over the first bar (with the
    paired Δ and wins/ties/losses against it), agreement, entropy and return early and late in training."""
    stats: dict[str, RowStats] = {s.label: s for s in summary.rows}
    bar_stats: dict[str, RowStats] = {} if against_bar is None else {s.label: s for s in against_bar.rows}
    bar = "" if against_bar is None else against_bar.reference
    variants = [split_label(a)[0] for a in spec.agents]
    lines = [
        "# REINFORCE-LSTM ablation: the paper preset against each option",
        "",
        f"* protocol: `docs/benchmark.md` on {spec.env} (keywords {json.dumps(spec.eval_env_kwargs())}); budget "
        f"{spec.budget} env steps per variant; training seeds {list(spec.train_seeds)}; evaluation seeds "
        f"{list(spec.eval_seeds)}, {spec.draws} sampled draw(s) each",
        "* target accuracy: IQM with 95 % stratified-bootstrap CI (rliable); P(improvement) over `paper`"
        + (f" and over `{bar}`, with the paired Δ against `{bar}` (wins/ties/losses over evaluation seeds)"
           if bar else "") + ", each with its 95 % CI",
        f"* entropy: the policy's mean per-coordinate entropy (nats; uniform ln 11 = {np.log(11):.2f}) over the first "
        "and last 20 % of training episodes; return: the same windows of training returns",
    ]
    if bar:
        lines.append(f"* bars: rows read from `{repo_relative(bars_from)}` (same evaluation protocol; "
                     "they do not train)")
    header = ["variant", "options", "IQM target accuracy [95 % CI]", "P(> paper) [95 % CI]"]
    if bar:
        header += [f"P(> {bar}) [95 % CI]", f"paired Δ vs {bar} [95 % CI], W/T/L"]
    header += ["IQM agreement [95 % CI]", "entropy first → last", "training return first → last", "training episodes"]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in [*variants, *bars]:
        s, t = stats.get(name), training.get(name)
        if s is None or (name in variants and t is None):
            continue
        score, over_paper, _, _, agreement = statistics_cells(s)
        cells = [name, _options(name) if name in variants else "bar (read, not re-run)", score, over_paper]
        if bar:
            _, over_bar, paired, counts, _ = statistics_cells(bar_stats[name])
            cells += [over_bar, paired if paired == "—" else f"{paired}, {counts}"]
        cells.append(agreement)
        cells += ["—"] * 3 if t is None else [f"{t.entropy_early:.2f} → {t.entropy_late:.2f}",
                                              f"{t.return_early:.3f} → {t.return_late:.3f}", str(t.episodes)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
