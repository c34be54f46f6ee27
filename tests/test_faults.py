"""Fault injection: a benchmark killed (SIGKILL) at seeded random points, during training, evaluation, a store
commit, an export or a checkpoint, then rerun, ends with the store, the exports and the trained agents of an
uninterrupted run, row for row and bit for bit; a damaged export in between changes nothing.

Each trial forks a child that kills itself at its n-th call of one fault point (:mod:`asg_benchmark.faults`),
sometimes kills the rerun too, damages ``results.csv`` in some trials, and finishes with a clean rerun. Wall
times (``train_seconds``, ``eval_seconds``) are the only values allowed to differ.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
from pathlib import Path

import pytest
import torch

from asg_benchmark import faults, read_episodes, read_rows, run_benchmark
from tests.forked_runs import canonical, run_forked
from tests.test_benchmark_runner import _spec

pytestmark = pytest.mark.faults

SPEC = _spec(("hand_tuned", "random", "reinforce_lstm", "tuned_constant"), (100, 101))
CHECKPOINT_EVERY = 3  # env steps: several training checkpoints within the 10-step budget
POINTS = ("train", "eval", "commit", "export", "checkpoint")
TRIALS = 32
WALL_TIMES = ("train_seconds", "eval_seconds")


def _run(folder: Path, fault: str | None = None) -> int:
    return run_forked(SPEC, folder, fault, checkpoint_every=CHECKPOINT_EVERY)


def _state(folder: Path) -> dict[str, object]:
    """Everything a run leaves that must not depend on interruptions."""
    rows = [{k: v for k, v in row.items() if k not in WALL_TIMES} for row in read_rows(folder)]
    agents: dict[str, object] = {}
    for path in sorted((folder / "agents").rglob("*")):
        if path.is_file():
            name = str(path.relative_to(folder))
            if path.name == "training.json":
                saved = json.loads(path.read_text())
                saved["training"].pop("train_seconds")
                agents[name] = saved
            elif path.name == "agent" and path.read_bytes()[:2] == b"PK":  # a torch checkpoint (reinforce_lstm)
                agents[name] = canonical(torch.load(path, weights_only=True))
            else:
                agents[name] = path.read_bytes()
    leftovers = sorted(p.name for p in folder.rglob(".*"))  # staging, retired or temporary files
    return {"rows": sorted(rows, key=lambda r: tuple(r.values())), "episodes": read_episodes(folder),
            "agents": agents, "leftovers": leftovers, "files": sorted(p.name for p in folder.iterdir())}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], dict[str, int]]:
    """An uninterrupted run and how often it passes each fault point."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    counts = multiprocessing.get_context("fork").Queue()

    def child() -> None:
        os.environ[faults.VARIABLE] = "count"
        faults.calls.clear()
        run_benchmark(SPEC, folder, log=None, report=False, checkpoint_every=CHECKPOINT_EVERY)
        counts.put(dict(faults.calls))

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    calls = counts.get(timeout=300)
    process.join(60)
    assert process.exitcode == 0 and all(calls.get(point, 0) > 0 for point in POINTS), calls
    return _state(folder), calls


def _damage(export: Path, rng: random.Random) -> None:
    """A torn or garbage results.csv, as a kill during a write or a stray editor leaves it."""
    text = export.read_text()
    if rng.random() < 0.5:
        export.write_text(text[:rng.randrange(len(text))])
    else:
        at = rng.randrange(len(text))
        export.write_text(text[:at] + "abc,\"x" + text[at:])


@pytest.mark.parametrize("trial", range(TRIALS))
def test_killed_and_resumed_equals_uninterrupted(tmp_path: Path, trial: int,
                                                 reference: tuple[dict[str, object], dict[str, int]]) -> None:
    expected, calls = reference
    rng = random.Random(trial)
    point = POINTS[trial % len(POINTS)]  # every point about as often
    assert _run(tmp_path, f"{point}:{rng.randint(1, calls[point])}") == -signal.SIGKILL
    if rng.random() < 0.5:  # killed again while resuming (at a point it may or may not reach)
        second = rng.choice(POINTS)
        assert _run(tmp_path, f"{second}:{rng.randint(1, calls[second])}") in (0, -signal.SIGKILL)
    if (tmp_path / "results.csv").is_file() and rng.random() < 0.3:
        _damage(tmp_path / "results.csv", rng)
    assert _run(tmp_path) == 0
    assert _state(tmp_path) == expected
