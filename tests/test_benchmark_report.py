"""The report from a results store alone: rliable IQM with CIs, P(improvement), paired differences, plots."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from asg_benchmark import ResultsStore, read_rows, summarize, write_report
from asg_benchmark.stats import iqm, probability_of_improvement
from tests.results_fixtures import add_results

EVAL_SEEDS = range(100, 110)


def _row(agent: str, train_seed: str, eval_seed: int, draw: int, score: float, hand: bool) -> dict[str, object]:
    return {"agent": agent, "train_seed": train_seed, "eval_seed": eval_seed, "draw": draw,
            "deterministic": agent.endswith("/greedy"), "hand_designed": hand, "env": "ASG-Digits-v0",
            "episode_length": 300, "decision_window": 1, "budget": 4000, "train_env_steps": 0 if hand else 4000,
            "train_seconds": 1.0, "target_metric": "target_accuracy", "target_score": score,
            "old_task_agreement": 0.5, "episode_return": 1.0, "final_loss": 0.5, "diverged": False, "steps": 300,
            "eval_seconds": 1.0}


def _synthetic(folder: Path) -> None:
    """Two hand-designed rows (unseeded), a sampled learner (2 train seeds × 2 draws) and its greedy row."""
    rng = np.random.default_rng(0)
    rows = []
    for e in EVAL_SEEDS:
        rows.append(_row("hand_tuned", "-", e, 0, 0.40 + 0.01 * (e - 100), True))
        rows.append(_row("hand_tuned_cosine", "-", e, 0, 0.30 + 0.01 * (e - 100), True))
        for t in ("0", "1"):
            for d in range(2):
                rows.append(_row("ppo", t, e, d, 0.45 + 0.01 * (e - 100) + 0.02 * rng.standard_normal(), False))
            rows.append(_row("ppo/greedy", t, e, 0, 0.35 + 0.01 * (e - 100), False))
    add_results(folder, rows)


def test_report_from_synthetic_results(tmp_path: Path) -> None:
    _synthetic(tmp_path)
    summary = summarize(read_rows(tmp_path), reps=300)
    assert summary.best_hand_designed == "hand_tuned"
    by_label = {s.label: s for s in summary.rows}
    assert list(by_label) == ["hand_tuned", "hand_tuned_cosine", "ppo", "ppo/greedy"]
    ppo = by_label["ppo"]
    assert ppo.runs == 20 and ppo.draws == 2 and summary.scores["ppo"].shape == (20, 1)
    assert ppo.iqm_ci[0] <= ppo.iqm <= ppo.iqm_ci[1]
    for s in summary.rows[1:]:
        assert s.improvement is not None and s.improvement_ci is not None and s.paired is not None
        assert 0.0 <= s.improvement_ci[0] <= s.improvement <= s.improvement_ci[1] <= 1.0
    assert by_label["hand_tuned"].improvement is None  # the reference itself
    assert by_label["hand_tuned_cosine"].improvement == 0.0
    assert (by_label["ppo/greedy"].improvement or 1.0) < 0.5
    cosine = by_label["hand_tuned_cosine"].paired
    assert cosine is not None and cosine.mean == pytest.approx(-0.1) and cosine.losses == 10
    greedy = by_label["ppo/greedy"].paired
    assert greedy is not None and set(greedy.differences) == {(t, str(e)) for t in "01" for e in EVAL_SEEDS}
    assert greedy.differences[("1", "105")] == pytest.approx(-0.05)
    assert summary.profiles["hand_tuned"].shape == summary.profile_taus.shape

    report = write_report(tmp_path, reps=300).read_text()
    assert "**hand_tuned** (best hand-designed schedule)" in report and "IQM target_accuracy [95 % CI]" in report
    assert "preliminary" not in report and "100-109" in report and "4000 env steps" in report
    assert "## Paired per-seed differences to hand_tuned" in report and "| ppo/greedy | 1 |" in report
    assert "Against the tuned constant" not in report  # no such row
    for plot in ("iqm.png", "profiles.png"):
        assert (tmp_path / plot).read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "training.png").exists()  # no learning row saved its training episodes


def test_running_mean_of_the_training_plot() -> None:
    from asg_benchmark.report import _running_mean

    np.testing.assert_allclose(_running_mean([1.0, 3.0, 5.0, 7.0], 2), [1.0, 2.0, 4.0, 6.0])
    np.testing.assert_allclose(_running_mean([2.0], 5), [2.0])


def test_fast_metrics_equal_rliables() -> None:
    from rliable import metrics

    rng = np.random.default_rng(1)
    for n, m in [(1, 1), (2, 5), (7, 3), (20, 13), (30, 30)]:
        x, y = rng.integers(0, 6, size=(n, 1)) / 5, rng.integers(0, 6, size=(m, 1)) / 5
        assert iqm(x) == pytest.approx(metrics.aggregate_iqm(x), abs=1e-12)
        assert probability_of_improvement(x, y) == pytest.approx(metrics.probability_of_improvement(x, y), abs=1e-12)


def test_report_against_another_reference_row(tmp_path: Path) -> None:
    _synthetic(tmp_path)
    summary = summarize(read_rows(tmp_path), reps=100, reference="ppo/greedy")
    by_label = {s.label: s for s in summary.rows}
    assert summary.reference == "ppo/greedy" and summary.best_hand_designed == "hand_tuned"
    assert by_label["ppo/greedy"].improvement is None
    assert by_label["ppo"].improvement is not None and by_label["ppo"].improvement > 0.9  # ~0.45 vs ~0.35
    assert by_label["hand_tuned"].improvement is not None and by_label["hand_tuned"].improvement > 0.5
    assert "row ppo/greedy" in write_report(tmp_path, reps=50, reference="ppo/greedy").read_text()
    with pytest.raises(ValueError, match="not in the results"):
        summarize(read_rows(tmp_path), reference="sac")


def test_report_adds_the_tuned_constant_as_a_second_bar(tmp_path: Path) -> None:
    """The issue's claim needs both bars: every row is also compared with the tuned constant when it ran."""
    _synthetic(tmp_path)
    add_results(tmp_path, (_row("tuned_constant", "0", e, 0, 0.41 + 0.01 * (e - 100), False) for e in EVAL_SEEDS))
    report = write_report(tmp_path, reps=50).read_text()
    assert "| tuned_constant (tuned constant) | 10 × 1 |" in report  # a row of the main table, against hand_tuned
    section = report.split("## Against the tuned constant (tuned_constant)")[1].split("## ")[0]
    lines = {line.split(" | ")[0]: line for line in section.splitlines() if line.startswith("| ")}
    assert set(lines) == {"| row", "| hand_tuned", "| hand_tuned_cosine", "| ppo", "| ppo/greedy"}
    assert "| 0/0/10 |" in lines["| hand_tuned_cosine"] and "| 20/0/0 |" in lines["| ppo"]  # both ppo seeds
    assert "Against the tuned constant" not in write_report(tmp_path, reps=50, reference="tuned_constant").read_text()


def test_report_compares_every_row_with_chance_when_the_random_policy_ran(tmp_path: Path) -> None:
    """A learned controller has learned something only if it beats the uniform random policy too."""
    _synthetic(tmp_path)
    assert "Against chance" not in write_report(tmp_path, reps=50).read_text()
    add_results(tmp_path, (_row("random", "0", e, d, 0.38 + 0.01 * (e - 100), False)
                           for e in EVAL_SEEDS for d in range(2)))
    report = write_report(tmp_path, reps=50).read_text()
    section = report.split("## Against chance (random)")[1].split("## ")[0]
    lines = {line.split(" | ")[0]: line for line in section.splitlines() if line.startswith("| ")}
    assert set(lines) == {"| row", "| hand_tuned", "| hand_tuned_cosine", "| ppo", "| ppo/greedy"}
    assert "| 10/0/0 |" in lines["| hand_tuned"] and "| 0/0/10 |" in lines["| hand_tuned_cosine"]
    assert "| 20/0/0 |" in lines["| ppo"]  # both training seeds, each on random's cell of the same episode
    assert "Against chance" not in write_report(tmp_path, reps=50, reference="random").read_text()


def test_compare_two_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Same rows, same cells, another setting: paired B − A per row, and what differs in the protocols."""

    from asg_benchmark.cli import main
    from asg_benchmark.compare import compare_rows

    _synthetic(tmp_path / "a")
    rows = read_rows(tmp_path / "a")
    # B: hand_tuned 0.05 better on every cell, ppo unchanged, no ppo/greedy rows
    add_results(tmp_path / "b", ({**row, "target_score": float(row["target_score"]) + (
        0.05 if row["agent"] == "hand_tuned" else 0.0)} for row in rows if row["agent"] != "ppo/greedy"))
    for folder, style in (("a", "torch"), ("b", "reference")):
        ResultsStore(tmp_path / folder).lock_protocol({"env": "ASG-Digits-v0", "env_kwargs": {
            "momentum_style": style, "total_steps": 30}})

    by_label = {c.label: c for c in compare_rows(read_rows(tmp_path / "a"), read_rows(tmp_path / "b"), reps=100)}
    assert set(by_label) == {"hand_tuned", "hand_tuned_cosine", "ppo"}
    hand = by_label["hand_tuned"].difference
    assert hand.mean == pytest.approx(0.05) and hand.wins == 10 and hand.ci[0] == pytest.approx(0.05)
    assert by_label["ppo"].difference.mean == pytest.approx(0.0) and len(by_label["ppo"].difference.differences) == 20

    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c.md"),
                 "--reps", "50"]) == 0
    text = capsys.readouterr().out
    assert "`env_kwargs.momentum_style` 'torch' → 'reference'" in text and "| hand_tuned | M1 → M1 | 10 |" in text
    assert "* machines: M1 = not recorded\n" in text
    assert (tmp_path / "c.md").read_text() == text
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "nowhere")]) == 2


def test_intervals_are_reproducible_and_do_not_move_when_rows_are_added(tmp_path: Path) -> None:
    """rliable resamples with NumPy's global generator: the report seeds it per row (and restores it)."""
    _synthetic(tmp_path)
    rows = read_rows(tmp_path)
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    first, second = (summarize(rows, reps=200) for _ in range(2))
    assert np.array_equal(np.random.get_state()[1], state)  # the caller's generator is left as it was
    assert [(s.iqm_ci, s.improvement_ci, s.paired and s.paired.ci) for s in first.rows] == \
        [(s.iqm_ci, s.improvement_ci, s.paired and s.paired.ci) for s in second.rows]
    extra = [{**r, "agent": "sac", "hand_designed": "False"} for r in rows if r["agent"] == "ppo"]
    before = {s.label: s for s in summarize(rows, reps=200).rows}
    after = {s.label: s for s in summarize(rows + extra, reps=200).rows}
    for label in before:
        assert (after[label].iqm_ci, after[label].agreement_ci) == (before[label].iqm_ci, before[label].agreement_ci)


def test_report_of_some_evaluation_seeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A held-out look: the statistics of some evaluation seeds only, written to their own folder."""
    from asg_benchmark.cli import main

    _synthetic(tmp_path)
    assert main(["report", str(tmp_path), "--eval-seeds", "105-109", "--out", str(tmp_path / "late"),
                 "--reps", "50"]) == 0
    text = (tmp_path / "late" / "report.md").read_text()
    assert text.startswith(f"Evaluation seeds 105-109 of `{tmp_path}`.")
    assert "evaluation seeds 105-109 (5, disjoint" in text
    assert "| **hand_tuned** (best hand-designed schedule) | 5 × 1 |" in text
    assert "| ppo | 10 × 2 |" in text and not (tmp_path / "report.md").exists()  # the full report is not touched
    assert main(["report", str(tmp_path), "--eval-seeds", "105-109"]) == 2  # never over the full folder's report
    assert main(["report", str(tmp_path), "--eval-seeds", "200-209", "--out", str(tmp_path / "none")]) == 2
    assert "no episodes of evaluation seeds" in capsys.readouterr().err


def test_report_lists_each_training_seed_of_a_row_trained_with_several(tmp_path: Path) -> None:
    """A pooled lead can come from one lucky training run: each seed's runs get a line of their own."""
    _synthetic(tmp_path)
    with sqlite3.connect(tmp_path / "results.db") as db:  # training seed 1 of ppo below hand_tuned everywhere
        db.execute("DELETE FROM episodes WHERE agent = 'ppo' AND train_seed = '1'")
    add_results(tmp_path, [*(_row("ppo", "1", e, d, 0.39 + 0.01 * (e - 100), False) for e in EVAL_SEEDS
                             for d in range(2)),
                           *(_row("random", "0", e, 0, 0.38 + 0.01 * (e - 100), False) for e in EVAL_SEEDS)])
    section = write_report(tmp_path, reps=50).read_text().split("## Per training seed")[1].split("## ")[0]
    lines = {line.split(" | ")[0]: line for line in section.splitlines() if line.startswith("| ")}
    assert set(lines) == {"| row", *(f"| {r} (training seed {t})" for r in ("ppo", "ppo/greedy") for t in (0, 1))}
    assert "P(> hand_tuned)" in lines["| row"]
    assert lines["| row"].endswith("| P(> random) [95 % CI] | paired Δ to random [95 % CI] | beats every bar |")
    assert "10/0/0" in lines["| ppo (training seed 0)"] and "0/0/10" in lines["| ppo (training seed 1)"]
    cells = {seed: lines[f"| ppo (training seed {seed})"].split(" | ") for seed in (0, 1)}
    # P(> hand_tuned) and P(> random)
    improvement = {seed: [float(cells[seed][c].split(" [")[0]) for c in (2, 4)] for seed in (0, 1)}
    assert improvement[0][0] > 0.5 > improvement[1][0] and improvement[1][1] > 0.5
    low_to_random = {seed: float(cells[seed][5].split("[")[1].split(",")[0]) for seed in (0, 1)}  # Δ's lower bound
    assert min(low_to_random.values()) > 0  # both seeds lie above random on every cell
    assert cells[0][-1] == cells[1][-1] == "yes |"  # random is the only bar here, and both lie above it

    add_results(tmp_path / "one", (r for r in read_rows(tmp_path) if r["train_seed"] in ("-", "0")))
    assert "Per training seed" not in write_report(tmp_path / "one", reps=50).read_text()


def test_a_training_seed_the_other_row_lacks_pairs_with_its_cell_of_the_same_episode() -> None:
    """Two rows' training seeds are unrelated runs; only the evaluation episode pairs them (one row in two folders
    pairs seed with seed)."""
    from asg_benchmark.stats import paired

    learned = {("0", "100"): 0.6, ("1", "100"): 0.5, ("1", "101"): 0.7}
    one_seed = {("0", "100"): 0.4, ("0", "101"): 0.3}
    across = paired(learned, one_seed, reps=20, across_seeds=True)
    assert across is not None and across.differences == pytest.approx({("0", "100"): 0.2, ("1", "100"): 0.1,
                                                                       ("1", "101"): 0.4})
    same_row = paired(learned, one_seed, reps=20)
    assert same_row is not None and set(same_row.differences) == {("0", "100")}
    two_seeds = {("0", "101"): 0.3, ("2", "101"): 0.5}  # which of them: not said, so not paired
    assert paired({("1", "101"): 0.7}, two_seeds, reps=20, across_seeds=True) is None


def test_training_section_lists_each_training_run_of_a_row_trained_with_several(tmp_path: Path) -> None:
    """Runs that learned differently (one committed, one stayed uniform) must not hide in one pooled mean."""
    _synthetic(tmp_path)
    for seed, entropy in (("0", 0.5), ("1", 2.0), ("10", 1.0)):
        folder = tmp_path / "agents" / f"ppo-seed{seed}"
        folder.mkdir(parents=True)
        lines = ["episode,return,entropy", *(f"{k},{k},{entropy}" for k in range(10))]
        (folder / "episodes.csv").write_text("\n".join(lines) + "\n")
    section = write_report(tmp_path, reps=50).read_text().split("## Training")[1].split("## Cost")[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| ppo")]
    assert [r[0] for r in rows] == ["| ppo", *(f"| ppo (training seed {s})" for s in (0, 1, 10))]
    assert [r[4] for r in rows] == ["1.17 → 1.17", "0.50 → 0.50", "2.00 → 2.00", "1.00 → 1.00"]
    assert [r[5] for r in rows] == ["0.00 |", "0.00 |", "0.00 |", "— |"]  # 1 s each; seed 10 has no rows
    assert [r[1] for r in rows] == ["3", "1", "1", "1"]


def test_training_hours_per_run_and_per_seed() -> None:
    """The cost of a recipe per training seed: each run's training seconds as hours, a row's mean over its seeds;
    greedy rows are the same trained agent, and rows that did not train have no cost."""
    from asg_benchmark.cost import training_hours

    rows = [{**_row("ppo", "0", 100, 0, 0.5, False), "train_seconds": 3600.0},
            {**_row("ppo/greedy", "0", 100, 0, 0.5, False), "train_seconds": 3600.0},
            {**_row("ppo", "1", 100, 0, 0.5, False), "train_seconds": 7200.0},
            _row("hand_tuned", "-", 100, 0, 0.4, True)]
    hours = training_hours([{k: str(v) for k, v in r.items()} for r in rows])
    assert hours == {"ppo": 1.5, "ppo (training seed 0)": 1.0, "ppo (training seed 1)": 2.0}


def test_cost_of_each_agent_from_the_stores_seconds(tmp_path: Path) -> None:
    """Issue 36 item 5 and issue 37 item 4 read their costs here: per agent (greedy rows folded in) the median
    evaluation episode, decisions per hour, training hours summed over runs, and the total in the report."""
    from asg_benchmark.cost import row_costs

    rows = [{**_row("ppo", t, e, 0, 0.5, False), "train_seconds": 1800.0 * (int(t) + 1), "eval_seconds": 30.0}
            for t in "01" for e in (100, 101)]
    rows += [{**_row("ppo/greedy", t, e, 0, 0.5, False), "train_seconds": 1800.0 * (int(t) + 1),
              "eval_seconds": 60.0} for t in "01" for e in (100, 101)]
    rows += [{**_row("hand_tuned", "-", 100, 0, 0.4, True), "eval_seconds": 10.0},
             {**_row("hand_tuned", "-", 101, 0, 0.4, True), "eval_seconds": None}]
    costs = {c.agent: c for c in row_costs([{k: "" if v is None else str(v) for k, v in r.items()} for r in rows])}
    assert list(costs) == ["ppo", "hand_tuned"]
    ppo, hand = costs["ppo"], costs["hand_tuned"]
    assert (ppo.episodes, ppo.episode_seconds, ppo.training_runs) == (8, 45.0, 2)
    assert ppo.eval_hours == pytest.approx(360 / 3600) and ppo.training_hours == pytest.approx(1.5)
    assert ppo.eval_decisions_per_hour == pytest.approx(3600 * 8 * 300 / 360)
    assert ppo.training_decisions_per_hour == pytest.approx(3600 * 8000 / 5400)
    assert ppo.hours == pytest.approx(1.6)
    assert (hand.episodes, hand.episode_seconds, hand.training_runs, hand.training_hours) == (2, 10.0, 0, 0.0)
    assert hand.training_decisions_per_hour is None

    _synthetic(tmp_path)
    report = write_report(tmp_path, reps=100).read_text()
    section = report[report.index("## Cost"):]
    assert "| ppo | 60 | 1 | 1,080,000 | 2 | 0.00 | 14,400,000 | 0.02 |" in section
    assert "| hand_tuned | 10 | 1 |" in section and "All rows: 0.0 h." in section
