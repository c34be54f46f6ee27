"""A benchmark over several envs (one folder each, suite.md across them) and the Pareto view of every report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gymnasium.envs.registration import register, registry

from asg_benchmark import read_rows, summarize
from asg_benchmark.cli import main
from asg_benchmark.pareto import agreement_correlation, correlation_sentence, pareto_front
from asg_benchmark.stats import RowStats, iqm
from asg_benchmark.suite import normalised_scores
from tests.test_benchmark_runner import ENV_ID

OTHER_ID = "AsgBenchmarkScoredToyLong-v0"
if OTHER_ID not in registry:
    register(id=OTHER_ID, entry_point="tests.test_benchmark_runner:ScoredToyEnv", kwargs={"episode_length": 6})


def _row(label: str, score: float, agreement: float) -> RowStats:
    return RowStats(label, False, False, 10, 1, score, (score, score), agreement, (agreement, agreement), 0.0, 0.0, 0)


def test_the_pareto_front_keeps_the_rows_nothing_beats_on_both() -> None:
    rows = [_row("forgets", 0.60, 0.05), _row("keeps", 0.50, 0.60), _row("beaten", 0.49, 0.50),
            _row("balanced", 0.55, 0.40), _row("tie", 0.55, 0.40)]
    assert pareto_front(rows) == ["forgets", "keeps", "balanced", "tie"]


def test_the_rank_correlation_follows_the_rows_and_its_interval_their_spread() -> None:
    rng = np.random.default_rng(0)
    agreement = {f"row{k}": rng.normal(0.1 * k, 0.01, (20, 1)) for k in range(6)}
    keeps = {label: x + rng.normal(0, 0.01, x.shape) for label, x in agreement.items()}  # score rises with it
    forgets = {label: -x for label, x in keeps.items()}
    up, down = agreement_correlation(keeps, agreement, reps=200), agreement_correlation(forgets, agreement, reps=200)
    assert up is not None and down is not None and up.rows == down.rows == 6
    assert up.rho == pytest.approx(1.0) and up.ci[0] > 0.5 and "paper's thesis" in correlation_sentence(up)
    assert down.rho == pytest.approx(-1.0) and down.ci[1] < -0.5 and "keep less" in correlation_sentence(down)
    noise = {label: rng.normal(0.5, 0.2, (20, 1)) for label in agreement}  # scores unrelated, widely spread
    unrelated = agreement_correlation(noise, agreement, reps=200)
    assert unrelated is not None and unrelated.ci[0] < unrelated.rho < unrelated.ci[1]
    assert agreement_correlation(dict(list(keeps.items())[:2]), agreement) is None
    flat = agreement_correlation({label: np.full((5, 1), 0.3) for label in agreement}, agreement, reps=20)
    assert flat is not None and np.isnan(flat.rho) and "same on every row" in correlation_sentence(flat)


def test_a_run_over_two_envs_writes_a_folder_each_and_a_suite(tmp_path: Path) -> None:
    out = tmp_path / "suite"
    assert main(["run", "--env", ENV_ID, OTHER_ID, "--agents", "hand_tuned", "random", "tuned_constant",
                 "--train-seeds", "0", "--eval-seeds", "100-109", "--budget", "12", "--draws", "1", "--reps", "50",
                 "--out", str(out)]) == 0
    for env in (ENV_ID, OTHER_ID):
        report = (out / env / "report.md").read_text()
        assert "Pareto view" in report and "rank correlation" in report and (out / env / "pareto.png").is_file()
        assert {r["env"] for r in read_rows(out / env)} == {env}
    suite = (out / "suite.md").read_text()
    assert f"## {ENV_ID}" in suite and f"## {OTHER_ID}" in suite and "## Aggregate across envs" in suite
    assert suite.count("rank correlation") == 2
    assert "| random |" in suite.split("## Aggregate")[1] and "| tuned_constant |" in suite.split("## Aggregate")[1]

    rows = {env: read_rows(out / env) for env in (ENV_ID, OTHER_ID)}
    summaries = {env: summarize(env_rows, reps=50) for env, env_rows in rows.items()}
    matrices, runs, _ = normalised_scores(rows, summaries, ("random", "tuned_constant"))
    assert runs == 10 and matrices["random"].shape == (10, 2)
    for column in range(2):  # per env the references' IQMs are exactly 0 and 1 (the IQM is affine-equivariant)
        assert iqm(matrices["random"][:, column]) == pytest.approx(0.0, abs=1e-12)
        assert iqm(matrices["tuned_constant"][:, column]) == pytest.approx(1.0, abs=1e-12)
    assert np.isfinite(matrices["hand_tuned"]).all()


def test_a_suite_without_its_references_says_why_it_has_no_aggregate(tmp_path: Path) -> None:
    out = tmp_path / "suite"
    assert main(["run", "--env", ENV_ID, OTHER_ID, "--agents", "hand_tuned", "--train-seeds", "0",
                 "--eval-seeds", "100-109", "--budget", "4", "--reps", "50", "--out", str(out)]) == 0
    assert "Not computed: " in (out / "suite.md").read_text()
    assert main(["run", "--env", ENV_ID, ENV_ID, "--agents", "hand_tuned", "--budget", "4", "--out",
                 str(tmp_path / "twice")]) == 2
    assert main(["run", "--env", ENV_ID, OTHER_ID, "--agents", "hand_tuned", "--budget", "4", "--out",
                 str(tmp_path / "one_store"), "--storage", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
