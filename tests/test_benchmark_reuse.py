"""Cells of another folder copied instead of run: only when machine, protocol, agent and trained agent are the same."""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from asg_benchmark import BenchmarkSpec, ProtocolError, read_rows, run_benchmark
from tests.test_benchmark_runner import _rows, _spec

AGENTS = ("small=reinforce_lstm", "hand_tuned")


def _small(eval_seeds: tuple[int, ...], hidden_size: int = 4, **changes: Any) -> BenchmarkSpec:
    spec = _spec(AGENTS, eval_seeds)
    return BenchmarkSpec(**{**spec.__dict__, "agent_kwargs": {"small": {"hidden_size": hidden_size}}, **changes})


def test_a_folder_extended_with_seeds_copies_the_cells_it_shares_and_runs_the_rest(tmp_path: Path,
                                                                                   monkeypatch: Any) -> None:
    from agents import ReinforceLSTMAgent

    run_benchmark(_small((100, 101)), tmp_path / "ten", log=None, report=False)
    run_benchmark(_small((100, 101, 102)), tmp_path / "direct", log=None, report=False)

    def no_training(self: Any, total_timesteps: int, **kwargs: Any) -> None:
        raise AssertionError("the trained agent of the source was not reused")

    monkeypatch.setattr(ReinforceLSTMAgent, "learn", no_training)
    logged: list[str] = []
    summary = run_benchmark(_small((100, 101, 102)), tmp_path / "thirty", log=logged.append, report=False,
                            reuse=[tmp_path / "ten"])
    assert any(line.startswith("14 cells copied") for line in logged)  # 2 eval x 2 train seeds x (2 draws + greedy) + 2
    assert summary.cells_written == 7  # seed 102 only: 2 x (2 draws + 1 greedy) + hand_tuned
    assert _rows(tmp_path / "thirty") == _rows(tmp_path / "direct")  # the same episodes as running all of them
    assert (tmp_path / "thirty" / "agents" / "small-seed1" / "agent").is_file()


def test_a_renamed_row_that_runs_the_same_agent_copies_the_cells_under_its_own_name(tmp_path: Path,
                                                                                    monkeypatch: Any) -> None:
    """A row is matched by what it runs: ``recipe=reinforce_lstm`` of the source's keywords reuses ``small``."""
    from agents import ReinforceLSTMAgent

    source = tmp_path / "source"
    run_benchmark(_small((100,)), source, log=None, report=False)

    def no_training(self: Any, total_timesteps: int, **kwargs: Any) -> None:
        raise AssertionError("the trained agent of the source was not reused")

    monkeypatch.setattr(ReinforceLSTMAgent, "learn", no_training)
    renamed = _small((100,), agents=("recipe=reinforce_lstm",), agent_kwargs={"recipe": {"hidden_size": 4}})
    summary = run_benchmark(renamed, tmp_path / "renamed", log=None, report=False, reuse=[source])
    assert summary.cells_written == 0
    theirs = {key: value for key, value in _rows(source).items() if key[0].startswith("small")}
    assert _rows(tmp_path / "renamed") == {(key[0].replace("small", "recipe"), *key[1:]): value
                                           for key, value in theirs.items()}
    assert (tmp_path / "renamed" / "agents" / "recipe-seed1" / "agent").is_file()

    monkeypatch.undo()  # other keywords under the new name: nothing to copy, so it trains
    other = _small((100,), agents=("recipe=reinforce_lstm",), agent_kwargs={"recipe": {"hidden_size": 6}})
    assert run_benchmark(other, tmp_path / "other", log=None, report=False, reuse=[source]).cells_written == len(theirs)


def test_cells_of_other_machines_agents_or_protocols_are_not_copied(tmp_path: Path) -> None:
    source = tmp_path / "source"
    run_benchmark(_small((100,)), source, log=None, report=False)

    other_kwargs = run_benchmark(_small((100,), hidden_size=6), tmp_path / "kwargs", log=None, report=False,
                                 reuse=[source])
    assert {job.agent for job in other_kwargs.jobs} == {"small=reinforce_lstm"}  # hand_tuned's cells were copied

    moved = tmp_path / "moved"  # the same cells, recorded by another machine
    shutil.copytree(source, moved)
    rows = read_rows(moved)
    with sqlite3.connect(moved / "results.db") as db:
        db.execute("UPDATE episodes SET machine = 'another CPU'")
    elsewhere = run_benchmark(_small((100,)), tmp_path / "elsewhere", log=None, report=False, reuse=[moved])
    assert elsewhere.cells_written == len(rows)

    with pytest.raises(ProtocolError, match="no results database"):
        run_benchmark(_small((100,)), tmp_path / "nowhere", log=None, report=False, reuse=[tmp_path / "missing"])
    with pytest.raises(ProtocolError, match="draws"):
        run_benchmark(_small((100,), draws=3), tmp_path / "draws", log=None, report=False, reuse=[source])


def test_migrated_episodes_keep_the_last_record_of_a_cell_written_twice(tmp_path: Path) -> None:
    """A 0.2 folder's episodes.jsonl holds a cell twice when it ran again after an interruption: the migrated store
    holds its last record, once."""
    import json

    from asg_benchmark import StoreError, migrate, read_episodes
    from asg_benchmark.store import FIELDS
    from tests.test_benchmark_report import _row

    with pytest.raises(StoreError, match="asg-benchmark run --out"):
        read_episodes(tmp_path)
    with (tmp_path / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS, restval="")
        writer.writeheader()
        writer.writerows(_row("ppo", "0", 100, d, 0.5, False) for d in (0, 1))
    cell = {"agent": "ppo", "train_seed": 0, "eval_seed": 100, "draw": 0}
    records = [{**cell, "actions": [[1]]}, {**cell, "draw": 1, "actions": [[2]]}, {**cell, "actions": [[3]]}]
    (tmp_path / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + "\n")
    migrate(tmp_path)
    episodes = read_episodes(tmp_path)
    assert {key: e["actions"] for key, e in episodes.items()} == {("ppo", "0", "100", "0"): [[3]],
                                                                  ("ppo", "0", "100", "1"): [[2]]}
