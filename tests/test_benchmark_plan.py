"""``asg-benchmark run --plan``: what is left of a benchmark, from its folder, running and writing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asg_benchmark import read_rows
from asg_benchmark.checkpoints import TRAINING, TrainedAgent
from asg_benchmark.cli import main
from tests.test_benchmark_runner import ENV_ID

RUN = ["run", "--env", ENV_ID, "--train-seeds", "0", "--budget", "12", "--draws", "1", "--reps", "50"]


def _plan(capsys: pytest.CaptureFixture[str], out: Path, *args: str) -> list[str]:
    capsys.readouterr()
    assert main([*RUN, *args, "--out", str(out), "--plan"]) == 0
    return capsys.readouterr().out.splitlines()


def test_a_plan_counts_what_is_left_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench"
    agents = ["--agents", "hand_tuned", "random", "tuned_constant", "--eval-seeds", "100-109"]
    lines = _plan(capsys, out, *agents)
    assert lines[0] == f"{ENV_ID} in {out}: 30 of 30 evaluation episodes to run"
    assert "  tuned_constant seed 0: 10 episodes, training not started (12 env steps)" in lines
    assert not out.exists()  # nothing written, not even the folder

    assert main([*RUN, "--agents", "hand_tuned", "tuned_constant", "--eval-seeds", "100-109", "--out", str(out)]) == 0
    database = (out / "results.db").read_bytes()
    lines = _plan(capsys, out, *agents)
    assert lines[0] == f"{ENV_ID} in {out}: 10 of 30 evaluation episodes to run"
    assert lines[1] == "  random seed 0: 10 episodes" and len(lines) == 3  # the finished rows are not listed
    assert lines[2].startswith("  evaluation: ~0.0 h at this folder's median episode")
    assert (out / "results.db").read_bytes() == database and len(read_rows(out)) == 20

    # The trained agent is loaded, not trained again, on new evaluation seeds; a checkpoint says how far it got.
    assert "  tuned_constant seed 0: 10 episodes, trained" in _plan(capsys, out, *agents[:-1], "110-119")
    partial = TrainedAgent.of(out, "tuned_constant", 0).partial().folder
    partial.mkdir(parents=True)
    (partial / TRAINING).write_text(json.dumps({"training": {"train_env_steps": 6, "train_seconds": 3.0}}))
    lines = _plan(capsys, out, "--agents", "late=tuned_constant", "--eval-seeds", "100-109")
    assert "  late seed 0: 10 episodes, training not started (12 env steps)" in lines
    assert lines[-1].startswith("  training: ~0.0 h at this folder's")
    (partial.parent / "late-seed0.partial").mkdir()
    (partial.parent / "late-seed0.partial" / TRAINING).write_text((partial / TRAINING).read_text())
    lines = _plan(capsys, out, "--agents", "late=tuned_constant", "--eval-seeds", "100-109")
    assert "  late seed 0: 10 episodes, training checkpointed at 6/12 env steps" in lines


def test_a_plan_of_a_finished_benchmark_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench"
    assert main([*RUN, "--agents", "hand_tuned", "--eval-seeds", "100-109", "--out", str(out)]) == 0
    assert _plan(capsys, out, "--agents", "hand_tuned", "--eval-seeds", "100-109") == [
        f"{ENV_ID} in {out}: 0 of 10 evaluation episodes to run: nothing left"]


def test_a_plan_bounds_training_by_evaluation_episodes_before_any_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench"
    assert main([*RUN, "--agents", "hand_tuned", "--eval-seeds", "100-109", "--out", str(out)]) == 0
    lines = _plan(capsys, out, "--agents", "hand_tuned", "tuned_constant", "--eval-seeds", "100-109")
    assert lines[1] == "  tuned_constant seed 0: 10 episodes, training not started (12 env steps)"
    assert lines[-1].startswith("  training: under ~0.0 h (") and "no training measured yet" in lines[-1]
