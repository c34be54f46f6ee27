"""The report of a benchmark folder, regenerated from its results store alone.

Writes ``report.md`` (the table, the protocol as the rows state it, the paired per-cell
differences, every row against the tuned constant when there is one, the Pareto front of target
score against old-task agreement, and what each agent cost in wall-clock time), ``iqm.png`` (IQM
intervals of the target score and of old-task agreement), ``profiles.png`` (performance profiles
with their bands), ``pareto.png`` and, when learning rows saved their training episodes,
``training.png`` (training return and policy entropy per training episode).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from asg_benchmark.checkpoints import TrainingSummary, pooled, summarize_training, training_runs_by_seed
from asg_benchmark.cost import cost_section, training_hours
from asg_benchmark.errors import BenchmarkError
from asg_benchmark.pareto import pareto_section, plot_pareto
from asg_benchmark.seeds import MIN_EVAL_SEEDS
from asg_benchmark.stats import RowStats, Summary, compared_with, summarize
from asg_benchmark.store import open_store

REPORT, IQM_PLOT, PROFILE_PLOT, TRAINING_PLOT = "report.md", "iqm.png", "profiles.png", "training.png"
PARETO_PLOT = "pareto.png"
TUNED_CONSTANT = "tuned_constant"  # the registry's name of the Optuna-tuned constant agent
SMOKE = ("**Smoke run, not a result** (`--quick`: toy backbone, tiny images, a few steps of training): it shows "
         "that the benchmark runs end to end; run without `--quick` for numbers.\n\n")
CHANCE = "random"  # the uniform random policy: what a learned controller must beat to have learned anything


def write_report(folder: str | Path, *, reps: int = 2000, reference: str | None = None,
                 summary: Summary | None = None, eval_seeds: Collection[int] | None = None,
                 out: str | Path | None = None, storage: str | None = None) -> Path:
    """Compute the statistics of ``folder``'s results store and write the report files; returns report.md's path.

    ``reference``: the row the others are compared with (default: the best hand-designed schedule);
    ``summary``: statistics already computed from that folder (then ``reps`` and ``reference`` are its own);
    ``eval_seeds``: only the episodes of these evaluation seeds (e.g. seeds added after the rows were chosen, a
    held-out confirmation), the report then written to ``out`` (default: ``folder``); ``storage``: the store's
    URL when it is not ``folder/results.db``.
    """
    folder = Path(folder)
    out = folder if out is None else Path(out)
    if eval_seeds is not None and out == folder:
        raise BenchmarkError("a report of some evaluation seeds goes to its own folder (--out DIR), not over the "
                             "full one")
    store = open_store(folder, storage)
    rows = store.rows()
    if out == folder:
        store.export_results()  # results.csv is an export of the store, as the report is
    if eval_seeds is not None:
        wanted = set(eval_seeds)
        rows = [r for r in rows if int(r["eval_seed"]) in wanted]
        if not rows:
            raise BenchmarkError(f"{folder} has no episodes of evaluation seeds {sorted(eval_seeds)}")
    summary = summary or summarize(rows, reps=reps, reference=reference)
    tuned = tuned_constant_row(summary)
    against_tuned = "" if tuned is None else tuned_constant_section(compared_with(rows, summary, tuned))
    chance = CHANCE if CHANCE in summary.scores and CHANCE != summary.reference else None
    against_chance = "" if chance is None else chance_section(compared_with(rows, summary, chance))
    per_seed = training_seeds_section(rows, summary, [b for b in (tuned, chance) if b])
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT
    by_seed = training_runs_by_seed(folder)
    runs = pooled(by_seed)
    source = "" if eval_seeds is None else f"Evaluation seeds {_seeds(eval_seeds)} of `{folder}`.\n\n"
    if (store.protocol() or {}).get("smoke"):
        source = SMOKE + source
    metric = ", ".join(summary.protocol["target_metric"])
    path.write_text(source + markdown(summary) + against_tuned + against_chance + per_seed
                    + pareto_section(summary, metric)
                    + training_section(summarize_training(_with_each_seed(by_seed)), training_hours(rows))
                    + cost_section(rows))
    plot_intervals(summary, out / IQM_PLOT)
    plot_profiles(summary, out / PROFILE_PLOT)
    plot_pareto(summary.rows, metric, out / PARETO_PLOT)
    if runs:
        plot_training(runs, out / TRAINING_PLOT)
    return path


def _ci(value: float, ci: tuple[float, float]) -> str:
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def statistics_cells(s: RowStats) -> tuple[str, str, str, str, str]:
    """A row's statistics as table cells: IQM score, P(improvement) and paired Δ (each with its 95 % CI),
    wins/ties/losses against the reference, IQM old-task agreement; "—" for the reference itself."""
    improvement = "—" if s.improvement is None or s.improvement_ci is None else _ci(s.improvement, s.improvement_ci)
    paired = "—" if s.paired is None else _ci(s.paired.mean, s.paired.ci)
    counts = "—" if s.paired is None else f"{s.paired.wins}/{s.paired.ties}/{s.paired.losses}"
    if s.other_machine:  # episodes of two CPU models are not the same episode: those cells are not paired
        if s.paired is None:
            paired = "not paired: another machine"
        else:
            counts += f" ({s.other_machine} cells of another machine left out)"
    return _ci(s.iqm, s.iqm_ci), improvement, paired, counts, _ci(s.agreement_iqm, s.agreement_ci)


def _reference(summary: Summary) -> str:
    if summary.reference is None:
        return "the best hand-designed row (none benchmarked)"
    if summary.reference == summary.best_hand_designed:
        return f"the best hand-designed row ({summary.reference})"
    return f"row {summary.reference}"


def _is_tuned_constant(label: str) -> bool:
    return label.split("/")[0] == TUNED_CONSTANT


def _name(s: RowStats, summary: Summary) -> str:
    if s.label == summary.best_hand_designed:
        return f"**{s.label}** (best hand-designed schedule)"
    if _is_tuned_constant(s.label):
        return f"{s.label} (tuned constant)"
    return s.label


def tuned_constant_row(summary: Summary) -> str | None:
    """The tuned-constant row, the benchmark's second named bar, when there is one and it is not the reference."""
    rows = [s.label for s in summary.rows if _is_tuned_constant(s.label)]
    return rows[0] if rows and rows[0] != summary.reference else None


def tuned_constant_section(summary: Summary) -> str:
    """Every row against the tuned constant (``summary.reference``): a learned controller should beat the best
    hand-designed schedule *and* the constant scales a black-box search found with the same budget."""
    return against_section(summary, "the tuned constant", "the constant scales Optuna's TPE tuned on training "
                           "episodes within the learning agents' budget")


def chance_section(summary: Summary) -> str:
    """Every row against the uniform random policy (``summary.reference``): on a short episode any spread of scales
    can beat a fixed schedule, so a learned controller has learned something only if it beats chance too."""
    return against_section(summary, "chance", "the uniform random policy (a new uniform action every decision): "
                           "what a controller that learned nothing scores")


def against_section(summary: Summary, name: str, what: str) -> str:
    """P(improvement) and paired Δ of every row against ``summary.reference`` (``what`` it is), titled by ``name``."""
    lines = ["", f"## Against {name} ({summary.reference})", "",
             f"P(improvement) and paired Δ of each row against {summary.reference}, {what}.", "",
             "| row | P(improvement) [95 % CI] | paired Δ mean [95 % CI] | wins/ties/losses |", "|---|---|---|---|"]
    for s in summary.rows:
        if s.label != summary.reference:
            _, improvement, paired, counts, _ = statistics_cells(s)
            lines.append(f"| {s.label} | {improvement} | {paired} | {counts} |")
    return "\n".join(lines) + "\n"


def training_seeds_section(rows: list[dict[str, str]], summary: Summary, bars: list[str]) -> str:
    """Each row trained with several training seeds, one line per seed, against the reference and ``bars``: a
    training run is one draw of what training gives, so a pooled lead should hold for every seed, not one."""
    seeds: dict[str, set[str]] = {}
    for r in rows:
        if r["train_seed"] != "-":
            seeds.setdefault(r["agent"], set()).add(r["train_seed"])
    split = [s.label for s in summary.rows if len(seeds.get(s.label, ())) > 1]
    if not split:
        return ""
    references = [b for b in (summary.reference, *bars) if b is not None]
    mine = sorted((r for r in rows if r["agent"] in split),
                  key=lambda r: (split.index(r["agent"]), int(r["train_seed"])))
    per_seed = [{**r, "agent": f"{r['agent']} (training seed {r['train_seed']})"} for r in mine]
    base = [r for r in rows if r["agent"] in references]
    by_seed = summarize(base + per_seed, reps=summary.reps, reference=summary.reference)
    against = [compared_with(base + per_seed, by_seed, b) for b in bars]
    header = ["row", "IQM target [95 % CI]", f"P(> {summary.reference or 'reference'}) [95 % CI]", "paired Δ, W/T/L",
              *(h for b in bars for h in (f"P(> {b}) [95 % CI]", f"paired Δ to {b} [95 % CI]")), "beats every bar"]
    lines = ["", "## Per training seed", "", "Rows trained with more than one training seed, each seed's runs on "
             "their own (the table above pools them). *Beats every bar*: the paired Δ's interval lies above 0 against "
             f"each of {', '.join(bars) or 'no bar (none benchmarked)'}.", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for i, s in enumerate(by_seed.rows):
        if s.label in references:
            continue
        score, improvement, paired, counts, _ = statistics_cells(s)
        to_bars = [a.rows[i] for a in against]
        beats = bool(bars) and all(b.paired is not None and b.paired.ci[0] > 0 for b in to_bars)
        cells = [s.label, score, improvement, f"{paired}, {counts}",
                 *(cell for b in to_bars for cell in statistics_cells(b)[1:3]), "yes" if beats else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown(summary: Summary) -> str:
    """The report as markdown."""
    p = summary.protocol
    metric = ", ".join(p["target_metric"])
    few = len(p["eval_seeds"]) < MIN_EVAL_SEEDS
    lines = [
        "# Agent benchmark" + (" (preliminary: fewer than 10 evaluation seeds)" if few else ""),
        "",
        f"* env: {', '.join(p['env'])}; episode length {', '.join(p['episode_length'])} actions; decision window "
        f"{', '.join(p['decision_window'])} SGD step(s) per action",
        f"* training budget of every learning agent: {', '.join(p['budget'])} env steps (steps actually taken: "
        "column *train steps*)",
        f"* training seeds {_seeds(p['train_seeds'])}; evaluation seeds {_seeds(p['eval_seeds'])} "
        f"({len(p['eval_seeds'])}, disjoint from the training seeds)",
        f"* score: final {metric} on the env's real target set; old-task agreement reported beside it",
        "* a run is one (training seed, evaluation seed) cell, a stochastic policy's draws averaged; rows "
        "`<agent>/greedy` act with `deterministic=True`, the others as they were trained (sampling)",
        f"* IQM with 95 % stratified-bootstrap confidence intervals ({summary.reps} replications, `rliable`); "
        f"P(improvement) and paired Δ against {_reference(summary)}",
        "* single episodes are reproducible only bitwise on the same machine and build: compare the intervals, "
        "not single runs; paired Δ pairs only episodes that one machine ran",
        *machines_lines(summary),
        "",
        f"| row | runs × draws | IQM {metric} [95 % CI] | P(improvement) [95 % CI] | paired Δ mean [95 % CI] "
        "| wins/ties/losses | IQM old-task agreement [95 % CI] | mean return | diverged | train steps |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary.rows:
        cells = " | ".join(statistics_cells(s))
        lines.append(f"| {_name(s, summary)} | {s.runs} × {s.draws} | {cells} | {s.mean_return:.3f} | "
                     f"{s.diverged:.2f} | {s.train_env_steps:.0f} |")
    lines += ["", *paired_table(summary)]
    return "\n".join(lines) + "\n"


def machines_lines(summary: Summary) -> list[str]:
    """The machines that ran the episodes (``results.csv``'s column), and which rows each ran when they differ."""
    rows_of: dict[str, list[str]] = {}
    for s in summary.rows:
        for m in s.machines:
            rows_of.setdefault(m or "not recorded", []).append(s.label)
    if len(rows_of) == 1:
        return [f"* machine of every episode: {next(iter(rows_of))}"]
    return ["* machines (episodes of different CPU models are different draws, not the same episode):",
            *(f"  * {m}: {', '.join(labels)}" for m, labels in rows_of.items())]


def _with_each_seed(by_seed: dict[str, dict[str, list[dict[str, str]]]]) -> dict[str, list[list[dict[str, str]]]]:
    """Each row's training runs pooled, followed, for a row trained with several seeds, by each run on its own
    (``"<row> (training seed k)"``): runs that learned differently should not hide in one mean."""
    runs: dict[str, list[list[dict[str, str]]]] = {}
    for label, seeds in by_seed.items():
        runs[label] = list(seeds.values())
        if len(seeds) > 1:
            runs.update({f"{label} (training seed {seed})": [rows] for seed, rows in seeds.items()})
    return runs


def training_section(summaries: dict[str, TrainingSummary], hours: dict[str, float] | None = None) -> str:
    """How each learning row trained: its return and policy entropy over the first and last 20 % of training,
    and ``hours`` of training per run (wall clock, on the machine of its rows)."""
    if not summaries:
        return ""
    hours = hours or {}
    lines = ["", "## Training", "",
             "Training episodes of each learning row (kept in `agents/<row>-seed<k>/episodes.csv`): mean over the "
             "first and last 20 % of each run's episodes. Entropy: the policy's mean per-coordinate entropy (nats; "
             "uniform ln 11 = 2.40, near 0 a policy collapsed onto one action; — where the agent does not report it). "
             "A row trained with several training seeds: its runs pooled, then each run on its own. Hours: wall "
             "clock of one run's training (the mean over a row's runs), on the machine its rows name.",
             "", "| row | runs | episodes | training return first → last | entropy first → last | hours per run |",
             "|---|---|---|---|---|---|"]
    for label, t in summaries.items():
        entropy = "—" if math.isnan(t.entropy_early) else f"{t.entropy_early:.2f} → {t.entropy_late:.2f}"
        took = f"{hours[label]:.2f}" if label in hours else "—"
        lines.append(f"| {label} | {t.runs} | {t.episodes} | {t.return_early:.3f} → {t.return_late:.3f} | "
                     f"{entropy} | {took} |")
    return "\n".join(lines) + "\n"


def paired_table(summary: Summary) -> list[str]:
    """Per-cell differences to the best hand-designed row: one line per row and training seed."""
    paired = [(s, s.paired) for s in summary.rows if s.paired is not None]
    if not paired:
        return []
    evals = sorted({e for _, p in paired for (_, e) in p.differences}, key=int)
    lines = [f"## Paired per-seed differences to {summary.reference}", "",
             f"Score of the row minus that of {_reference(summary)} on the same evaluation episode.", "",
             "| row | train seed | " + " | ".join(f"eval {e}" for e in evals) + " |",
             "|---|---|" + "---|" * len(evals)]
    for s, p in paired:
        for train in sorted({t for (t, _) in p.differences}, key=lambda t: -1 if t == "-" else int(t)):
            cells = [p.differences.get((train, e)) for e in evals]
            text = ["" if d is None else f"{d:+.3f}" for d in cells]
            lines.append(f"| {s.label} | {train} | " + " | ".join(text) + " |")
    return lines


def _seeds(seeds: Iterable[int | str]) -> str:
    values = sorted(int(s) for s in seeds)
    if values and values == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}-{values[-1]}"
    return " ".join(str(v) for v in values)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def plot_intervals(summary: Summary, path: Path) -> None:
    """rliable's interval plot: IQM of the target score and of old-task agreement, with 95 % CIs."""
    plt = _pyplot()
    from rliable import plot_utils

    labels = [s.label for s in summary.rows]
    points = {s.label: np.array([s.iqm, s.agreement_iqm]) for s in summary.rows}
    intervals = {s.label: np.array([[s.iqm_ci[0], s.agreement_ci[0]], [s.iqm_ci[1], s.agreement_ci[1]]])
                 for s in summary.rows}
    metric = ", ".join(summary.protocol["target_metric"])
    fig, _ = plot_utils.plot_interval_estimates(points, intervals, metric_names=[f"IQM {metric}",
                                                                                 "IQM old-task agreement"],
                                                algorithms=labels, xlabel="score (95 % CI)")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_profiles(summary: Summary, path: Path) -> None:
    """rliable's performance profiles: fraction of runs with a score above τ, with bootstrap bands."""
    plt = _pyplot()
    from rliable import plot_utils

    fig, ax = plt.subplots(figsize=(8, 5))
    metric = ", ".join(summary.protocol["target_metric"])
    plot_utils.plot_performance_profiles(summary.profiles, summary.profile_taus,
                                         performance_profile_cis=summary.profile_cis, ax=ax,
                                         xlabel=f"final {metric} (τ)", ylabel="fraction of runs with score > τ")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_training(runs: dict[str, list[list[dict[str, str]]]], path: Path, smooth: int = 5) -> None:
    """Training return (a running mean over ``smooth`` episodes: single returns are noisy) and mean per-coordinate
    policy entropy (where the agent reports it) against the training episode, one line per run."""
    plt = _pyplot()
    fig, (returns, entropies) = plt.subplots(1, 2, figsize=(11, 4))
    colors = itertools.cycle(plt.rcParams["axes.prop_cycle"].by_key()["color"])  # one per row, all its runs
    for (label, label_runs), color in zip(runs.items(), colors, strict=False):
        for k, rows in enumerate(label_runs):
            for ax, column in ((returns, "return"), (entropies, "entropy")):
                values = [float(r[column]) for r in rows if r.get(column) not in ("", None)]
                if values:  # an episode's entropy is already a mean over its decisions: drawn as it is
                    curve = _running_mean(values, smooth) if column == "return" else values
                    ax.plot(curve, color=color, alpha=0.8, label=label if k == 0 else None)
    entropies.axhline(math.log(11), color="grey", ls=":", lw=1, label="uniform (ln 11)")
    returns.set(xlabel="training episode", ylabel=f"episode return (running mean of {smooth})")
    entropies.set(xlabel="training episode", ylabel="policy entropy per coordinate (nats)")
    for ax in (returns, entropies):
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _running_mean(values: list[float], width: int) -> np.ndarray:
    """Mean of each value and the ``width - 1`` before it (fewer at the start)."""
    sums = np.cumsum(np.insert(np.asarray(values, dtype=float), 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - width, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)
