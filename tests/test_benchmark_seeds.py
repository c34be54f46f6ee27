"""The protocol's seeds: ranges, the train/evaluation split, the 10-seed minimum, the training-env namespace."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from asg_benchmark import (
    BenchmarkSpec,
    ProtocolError,
    ResultsStore,
    SeedError,
    check_seeds,
    parse_seeds,
    read_rows,
    run_benchmark,
)
from asg_benchmark.cli import main
from asg_benchmark.plan import agent_cells, plan_jobs
from asg_benchmark.provenance import cpu_model, machine
from asg_benchmark.seeds import TRAIN_EPISODE_OFFSET
from asg_benchmark.training_env import TrainingEnv
from tests.toy_lr_env import ToyLREnv


def test_parse_seeds_ranges_and_errors() -> None:
    assert parse_seeds(["0", "1"]) == [0, 1]
    assert parse_seeds(["100-103", "7,8"]) == [100, 101, 102, 103, 7, 8]
    assert parse_seeds([5]) == [5]
    for bad, pattern in [(["1-x"], "integer or a range"), (["9-3"], "empty seed range"), (["-1"], "integer"),
                         (["1", "0-2"], "seeds given twice")]:
        with pytest.raises(SeedError, match=pattern):
            parse_seeds(bad)


def test_check_seeds_refuses_overlap_and_too_few() -> None:
    check_seeds([0, 1], list(range(100, 110)))
    with pytest.raises(SeedError, match=r"must not be training seeds; both: \[100\]"):
        check_seeds([0, 100], list(range(100, 110)))
    with pytest.raises(SeedError, match=r"at least 10 evaluation seeds, got 2.*--allow-few-seeds"):
        check_seeds([0], [100, 101])
    check_seeds([0], [100, 101], allow_few=True)
    with pytest.raises(SeedError, match=r"\[0, 2\*\*32\)"):
        check_seeds([0], [TRAIN_EPISODE_OFFSET], allow_few=True)


def test_run_refuses_before_building_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = BenchmarkSpec(env="ASG-Digits-v0", agents=("hand_tuned",), train_seeds=(0,), eval_seeds=(0, 1),
                         budget=6, allow_few_seeds=True)
    with pytest.raises(SeedError, match="both: \\[0\\]"):
        run_benchmark(spec, tmp_path / "a")
    assert not (tmp_path / "a").exists()
    status = main(["run", "--agents", "hand_tuned", "--eval-seeds", "100", "101", "--budget", "6",
                   "--out", str(tmp_path / "b")])
    assert status == 2 and "at least 10 evaluation seeds" in capsys.readouterr().err
    status = main(["run", "--agents", "hand_tuned", "--eval-seeds", "100-109", "--out", str(tmp_path / "b")])
    assert status == 2 and "--budget" in capsys.readouterr().err
    status = main(["run", "--agents", "hand_tuned", "--budget", "6", "--agent-kwargs", '{"ppo": {}}',
                   "--out", str(tmp_path / "b")])
    assert status == 2 and "not benchmarked" in capsys.readouterr().err
    status = main(["run", "--quick", "--env", "ASG-VisDA-v0", "--agents", "hand_tuned", "--out", str(tmp_path / "c")])
    assert status == 2 and "--quick has settings for" in capsys.readouterr().err
    status = main(["run", "--quick", "--agents", "hand_tuned", "--env-kwargs", '{"colour": "blue"}',
                   "--out", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert status == 2 and "cannot make ASG-Digits-v0" in err and "colour" in err


def test_quick_runs_on_digitseg(tmp_path: Path) -> None:
    assert main(["run", "--quick", "--env", "ASG-DigitSeg-v0", "--agents", "hand_tuned", "random",
                 "--eval-seeds", "100-109", "--draws", "1", "--out", str(tmp_path), "--reps", "50"]) == 0
    rows = read_rows(tmp_path)
    assert {r["agent"] for r in rows} == {"hand_tuned", "random"} and len(rows) == 10 + 3 * 10
    assert {r["target_metric"] for r in rows} == {"target_miou"}


def test_protocol_lock_refuses_another_protocol(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.lock_protocol({"env": "ASG-Digits-v0", "budget": 100, "env_kwargs": {"crop_size": (32, 32)}})
    store.lock_protocol({"env": "ASG-Digits-v0", "budget": 100, "env_kwargs": {"crop_size": (32, 32)}})
    with pytest.raises(ProtocolError, match="budget: 100 there, 200 now"):
        ResultsStore(tmp_path).lock_protocol({"env": "ASG-Digits-v0", "budget": 200,
                                              "env_kwargs": {"crop_size": (32, 32)}})


def test_provenance_names_the_cpu_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Episodes differ between CPU models, so the machine line of every provenance record names the model."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\n")
    assert cpu_model(cpuinfo) == "AMD EPYC 7B13"
    monkeypatch.setattr("platform.processor", lambda: "")
    assert cpu_model(tmp_path / "absent") == "unknown CPU"
    assert machine().startswith(f"{platform.machine()} {cpu_model()}, ")


def test_cells_and_jobs() -> None:
    spec = BenchmarkSpec(env="ASG-Digits-v0", agents=("ppo", "hand_tuned"), train_seeds=(0, 1),
                         eval_seeds=(100, 101), budget=6, draws=3, allow_few_seeds=True)
    agents = spec.resolve()
    ppo = agent_cells(spec, agents["ppo"], 0)
    assert [(c.cell.label, c.cell.eval_seed, c.cell.draw, c.deterministic) for c in ppo] == [
        ("ppo", 100, 0, False), ("ppo", 100, 1, False), ("ppo", 100, 2, False),
        ("ppo", 101, 0, False), ("ppo", 101, 1, False), ("ppo", 101, 2, False),
        ("ppo/greedy", 100, 0, True), ("ppo/greedy", 101, 0, True)]
    decisions = {"sgd_steps_per_action": 10, "total_steps": 30}  # the protocol's decision window
    assert spec.eval_env_kwargs() == {"eval_every": 0, "eval_size": 5000, **decisions}  # all 5,000 MNIST images
    assert spec.train_env_kwargs() == {"eval_every": 0, "eval_size": 10, **decisions}  # training never shows scores
    jobs = plan_jobs(spec, agents)
    assert [(j.agent, j.train_seed, len(j.cells)) for j in jobs] == [("ppo", 0, 8), ("ppo", 1, 8),
                                                                      ("hand_tuned", None, 2)]


class _TargetInfo(ToyLREnv):
    """ToyLREnv whose info carries target scores, as the ASG envs' do."""

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, {**info, "target_accuracy": 0.5, "old_task_agreement": 0.9,
                                                    "loss": 1.0}


def test_training_env_shifts_seeds_hides_target_scores_and_counts_steps() -> None:
    base = _TargetInfo()
    env = TrainingEnv(gym.wrappers.TimeLimit(base, 10))
    env.reset(seed=3)
    env.reset()
    _, _, _, _, info = env.step(np.array([1, 2, 3]))
    assert base.reset_seeds == [3 + TRAIN_EPISODE_OFFSET, None]
    assert "loss" in info and not {"target_accuracy", "old_task_agreement"} & set(info) and env.num_steps == 1


def test_digits_protocol_decides_every_ten_sgd_steps_unless_told_otherwise() -> None:
    from asg_benchmark.protocol import protocol_env_kwargs

    kwargs = protocol_env_kwargs("ASG-Digits-v0", {})
    assert (kwargs["sgd_steps_per_action"], kwargs["total_steps"], kwargs["eval_size"]) == (10, 30, 5000)
    spec = BenchmarkSpec(env="ASG-Digits-v0", agents=("hand_tuned",), train_seeds=(0,),
                         eval_seeds=tuple(range(100, 110)), budget=30, env_kwargs={"sgd_steps_per_action": 1})
    assert spec.eval_env_kwargs()["sgd_steps_per_action"] == 1  # the user's keywords win
    # the score is on the whole split the env is asked for
    for photos in ("ASG-DigitsOnPhotos-v1", "ASG-DigitsOnPhotos-v0"):
        assert protocol_env_kwargs(photos, {})["eval_size"] == 4000
        assert protocol_env_kwargs(photos, {"target_split": "validation"})["eval_size"] == 1000
    assert protocol_env_kwargs("ASG-Digits-v0", {"target": "uci"})["eval_size"] == 1797
