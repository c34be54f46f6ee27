"""The results store: torn exports cannot corrupt results, bad rows are errors that name the row, two writers share
one folder, ties are ties, and every user error of the CLI is one line with exit status 2 and nothing left behind."""

from __future__ import annotations

import csv
import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asg_benchmark import (
    BenchmarkSpec,
    ResultsStore,
    StoreError,
    declare_agent,
    migrate,
    read_rows,
    run_benchmark,
    summarize,
)
from asg_benchmark.cli import main
from asg_benchmark.stats import cell_scores
from asg_benchmark.store import FIELDS, rows_csv, storage_url
from tests.test_benchmark_report import _row
from tests.test_benchmark_runner import ENV_ID, _spec

AGENTS = ("hand_tuned", "random")


def _run(folder: Path, agents: tuple[str, ...] = AGENTS, **kwargs: Any) -> None:
    run_benchmark(_spec(agents, (100, 101)), folder, log=None, report=False, **kwargs)


# ------------------------------------------------------------------------------------- torn and garbage exports
def _truncate(path: Path, inside: str) -> None:
    """Cut ``path`` in the middle of its last occurrence of ``inside``, as a kill during a write leaves it."""
    text = path.read_text()
    cut = text.rindex(inside) + len(inside) // 2
    path.write_text(text[:cut])


@pytest.mark.parametrize("damage", ["inside the quoted machine field", "mid-number", "garbage score", "junk line"])
def test_a_damaged_export_loses_nothing_and_is_regenerated(tmp_path: Path, damage: str) -> None:
    """The three corruptions a 0.2 results.csv suffered (a cut inside the quoted machine, a cut mid-number, a
    garbage score) and a junk line: the store is the source, so the rerun skips every cell and exports them all."""
    _run(tmp_path / "clean")
    folder = tmp_path / "damaged"
    _run(folder)
    export = folder / "results.csv"
    if damage == "inside the quoted machine field":
        _truncate(export, read_rows(folder)[-1]["machine"])
    elif damage == "mid-number":
        _truncate(export, read_rows(folder)[-1]["episode_return"])
    elif damage == "garbage score":
        export.write_text(export.read_text().replace(read_rows(folder)[0]["target_score"], "abc", 1))
    else:
        export.write_text(export.read_text() + "x,1\n")
    summary = run_benchmark(_spec(AGENTS, (100, 101)), folder, log=None, report=False)
    assert summary.cells_written == 0  # every cell was in the store
    with export.open(newline="") as f:
        assert f.read() == rows_csv(read_rows(folder))  # the export is whole again
    wall_times = ("train_seconds", "eval_seconds")
    assert [{k: v for k, v in r.items() if k not in wall_times} for r in read_rows(folder)] == \
        [{k: v for k, v in r.items() if k not in wall_times} for r in read_rows(tmp_path / "clean")]


# ----------------------------------------------------------------------------------- 0.2 folders and migration
def _csv(folder: Path, rows: list[dict[str, Any]], tail: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows({"machine": "x86_64 AMD EPYC, 2 cores", **row} for row in rows)
        f.write(tail)
    return path


def _rows(n: int = 3) -> list[dict[str, Any]]:
    return [_row("hand_tuned", "-", e, 0, 0.4 + e / 1000, True) for e in range(100, 100 + n)]


@pytest.mark.parametrize(("tail", "message"), [
    ('hand_tuned,-,200,0,False,True,ASG-Digits-v0,300,1,4000,0,1.0,target_accuracy,0.5,0.5,1.0,0.5,False,300,1.0,'
     '"x86_64 AMD', "unexpected end of data"),
    ("hand_tuned,-,200,0,False,True,ASG-Digits-v0,300,1,4000,0,1.0,target_accuracy,0.5,0.5,1.", "16 fields where"),
    ("hand_tuned,-,200,0,False,True,ASG-Digits-v0,300,1,4000,0,1.0,target_accuracy,abc,0.5,1.0,0.5,False,300,1.0,"
     "m\r\n", "'target_score' = 'abc' does not parse"),
    ("x,1\r\n", "2 fields where the header has 21"),
])
def test_migrating_a_damaged_csv_names_the_line_and_the_fix(tmp_path: Path, tail: str, message: str) -> None:
    path = _csv(tmp_path, _rows(), tail)
    with pytest.raises(StoreError, match=message) as caught:
        migrate(tmp_path)
    assert "line 5" in str(caught.value) and ("fix or delete" in str(caught.value) or "does not parse" in
                                              str(caught.value))
    assert not (tmp_path / "results.db").exists() and path.read_bytes().endswith(tail.encode())  # nothing changed


def test_a_cell_twice_with_different_scores_is_an_error_and_with_the_same_score_is_read_once(tmp_path: Path) -> None:
    rows = _rows()
    _csv(tmp_path / "same", [*rows, rows[1]])
    assert migrate(tmp_path / "same").duplicates == 1 and len(read_rows(tmp_path / "same")) == 3
    _csv(tmp_path / "differ", [*rows, {**rows[1], "target_score": 0.9}])
    with pytest.raises(StoreError, match=r"on line 3 with target_score 0.501 and on line 5 with 0.9"):
        migrate(tmp_path / "differ")


def test_migrated_rows_equal_the_csv_and_the_folder_is_refused_until_migrated(tmp_path: Path) -> None:
    path = _csv(tmp_path, _rows())
    with pytest.raises(StoreError, match="asg-benchmark migrate"):
        read_rows(tmp_path)
    with pytest.raises(StoreError, match="asg-benchmark migrate"):
        _run(tmp_path)
    with path.open(newline="") as f:
        before = list(csv.DictReader(f))
    assert main(["migrate", str(tmp_path)]) == 0
    assert read_rows(tmp_path) == before
    with pytest.raises(StoreError, match="was migrated"):
        migrate(tmp_path)


def test_a_row_edited_into_nonsense_in_the_database_is_named(tmp_path: Path) -> None:
    _run(tmp_path)
    with sqlite3.connect(tmp_path / "results.db") as db:
        db.execute("UPDATE episodes SET target_score = 'abc' WHERE rowid = 2")
    with pytest.raises(StoreError, match=r"episodes row 2 .*'target_score' = 'abc' does not parse"):
        read_rows(tmp_path)
    assert main(["report", str(tmp_path)]) == 2


def test_storage_urls(tmp_path: Path) -> None:
    """Optuna's convention; the database may live outside the folder."""
    assert storage_url(tmp_path) == f"sqlite:///{tmp_path}/results.db"
    elsewhere = f"sqlite:///{tmp_path / 'db' / 'mine.db'}"
    _run(tmp_path / "out", storage=elsewhere)
    assert (tmp_path / "db" / "mine.db").is_file() and not (tmp_path / "out" / "results.db").exists()
    assert read_rows(tmp_path / "out", elsewhere) == list(csv.DictReader((tmp_path / "out" / "results.csv").open()))
    for url, message in (("postgresql://u@h/db", "not a URL"), ("mysql:///x", "only SQLite")):
        with pytest.raises(StoreError, match=message):
            ResultsStore(tmp_path, url)


# --------------------------------------------------------------------------------------------- two writers
def _writer(folder: str) -> None:
    _run(Path(folder))


def test_two_writers_on_one_folder_store_each_cell_once(tmp_path: Path) -> None:
    """Two processes run the same benchmark into one folder at once: every cell once, as one process stores it.
    (Each run in a forked process: a fork keeps one torch thread, which the rows' machine column records.)"""
    context = multiprocessing.get_context("fork")  # the toy env's registration is inherited
    alone = context.Process(target=_writer, args=(str(tmp_path / "alone"),))
    alone.start()
    alone.join(120)
    writers = [context.Process(target=_writer, args=(str(tmp_path / "shared"),)) for _ in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [w.exitcode for w in (alone, *writers)] == [0, 0, 0]
    timing = ("train_seconds", "eval_seconds")
    strip = [sorted(tuple(v for k, v in row.items() if k not in timing) for row in read_rows(tmp_path / folder))
             for folder in ("alone", "shared")]
    assert strip[0] == strip[1] and len(strip[1]) == len(set(strip[1]))


# ---------------------------------------------------------------------------------------------- ties are ties
def test_draw_means_are_exact() -> None:
    rows = [{"agent": a, "train_seed": "0", "eval_seed": "100", "target_score": repr(s)}
            for a, draws in (("a", (0.1, 0.1, 0.1)), ("b", (0.1, 0.2, 0.3)), ("c", (0.2, 0.2, 0.2)))
            for s in draws]
    assert np.mean([0.1, 0.1, 0.1]) != 0.1  # what a float mean made of three identical draws
    means = cell_scores(rows, "target_score")
    assert means["a"][("0", "100")] == 0.1 and means["b"][("0", "100")] == means["c"][("0", "100")] == 0.2


def test_two_identical_agents_tie_everywhere(tmp_path: Path) -> None:
    """The same stochastic agent under two labels: the same episodes, P(improvement) exactly 0.5, all ties."""
    run_benchmark(BenchmarkSpec(env=ENV_ID, agents=("a=random", "b=random"), train_seeds=(0,),
                                eval_seeds=tuple(range(100, 110)), budget=4, draws=3), tmp_path, log=None,
                  report=False)
    b = {s.label: s for s in summarize(read_rows(tmp_path), reps=100, reference="a").rows}["b"]
    assert b.improvement == 0.5
    assert b.paired is not None and (b.paired.wins, b.paired.ties, b.paired.losses) == (0, 10, 0)


@declare_agent(stochastic=False, greedy=False, seeded=False)
def fixed_schedule(env: Any, seed: int | None = None) -> Any:
    """A deterministic agent given by import path: every coordinate at half the base rate."""
    from agents import ConstantPolicy

    coordinates = int(env.action_space.shape[0])
    return ConstantPolicy([0.5] * coordinates, coordinates)


def test_a_declared_deterministic_import_path_agent_runs_once_per_seed(tmp_path: Path) -> None:
    name = f"{__name__}:fixed_schedule"
    _run(tmp_path, (name,))
    rows = read_rows(tmp_path)
    assert [(r["agent"], r["train_seed"], r["draw"]) for r in rows] == [(name, "-", "0")] * 2  # no draws, no greedy


# ------------------------------------------------------------------------------------------------- the CLI
def _factory_that_raises(env: Any, seed: int | None = None) -> Any:
    raise RuntimeError("no GPU here")


@pytest.mark.parametrize(("argv", "message"), [
    (["--env", "ASG-Nothing-v0", "--agents", "hand_tuned"], "cannot make ASG-Nothing-v0"),
    (["--env", ENV_ID, "--agents", f"{__name__}:_factory_that_raises", "--allow-few-seeds"],
     "its factory raised RuntimeError: no GPU here"),
    (["--env", ENV_ID, "--agents", "hand_tuned", "--storage", "postgresql://u@h/db"], "not a URL"),
])
def test_a_user_error_is_one_line_exit_2_and_no_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       argv: list[str], message: str) -> None:
    out = tmp_path / "new"
    status = main(["run", *argv, "--eval-seeds", "100-109", "--train-seeds", "0", "--budget", "4",
                   "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
