"""Shared plumbing of the experiment scripts: provenance, resumable CSVs, episodes, JSON flags."""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from asg_benchmark import ResumableCSV

REPO = Path(__file__).resolve().parent.parent


def repo_relative(path: Path | str) -> str:
    """``path`` relative to the repository when it is inside it, so that tables read the same on every machine."""
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def git_revision() -> str:
    """The checkout's short revision (``-dirty`` with uncommitted changes); one definition, the benchmark's."""
    from asg_benchmark import git_revision as revision

    return revision()


def machine() -> str:
    """The machine line of provenance records; one definition, the benchmark's (names a CUDA device too)."""
    from asg_benchmark import machine as describe

    return describe()


def write_provenance(folder: Path, **extra: Any) -> None:
    """Append this run's command, git revision, machine and time to ``folder/provenance.json``.

    Results files are resumable, so one folder may hold rows from several invocations: each is
    kept, in order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "provenance.json"
    import asg_gym

    record = {"command": " ".join([_module_command(), *sys.argv[1:]]), "git_revision": git_revision(),
              "asg_gym_version": asg_gym.__version__, "machine": machine(),
              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), **extra}
    log = json.loads(path.read_text()) if path.exists() else {}  # other keys (notes) are kept
    log["runs"] = [*log.get("runs", []), record]
    path.write_text(json.dumps(log, indent=2, ensure_ascii=False) + "\n")


def _module_command() -> str:
    """``python -m experiments.<script>`` for a script run as a module, else the plain argv[0]."""
    script = Path(sys.argv[0])
    if script.suffix == ".py" and script.parent.name == "experiments":
        return f"python -m experiments.{script.stem}"
    return f"python {sys.argv[0]}"


def run_episode(env: Any, agent: Any, seed: int, progress: Any = None, *, deterministic: bool = True
                ) -> dict[str, Any]:
    """One episode of ``agent`` on ``env`` (:func:`asg_benchmark.run_episode`; ``deterministic=False``
    samples a stochastic policy's actions), as the dict the scripts' CSV writers read: totals, final
    scores, the evaluation curve and the actions.

    The curve holds ``(sgd_step, target score, old-task agreement)`` at every evaluation, the
    score being the env's ``target_metric`` (``target_accuracy``; ``target_miou`` for segmentation).
    """
    from asg_benchmark import run_episode as run

    on_step = None if progress is None else lambda: progress.update(1)
    result = run(env, agent, seed, deterministic=deterministic, on_step=on_step)
    return {
        "return": result.episode_return,
        "diverged": result.diverged,
        "final_loss": result.final_loss,
        "final_loss_xe": result.final_loss_xe,
        "final_loss_kl": result.final_loss_kl,
        **result.scores,
        "target_score": result.target_score,
        "old_task_agreement": result.old_task_agreement,
        "curve": result.curve,
        "actions": result.actions,
        "seconds": result.seconds,
    }


def mean_std(values: Iterable[float]) -> str:
    arr = np.asarray(list(values), dtype=float)
    return f"{arr.mean():.3f} ± {arr.std(ddof=1) if len(arr) > 1 else 0.0:.3f}"


def json_object(text: str, flag: str, example: str) -> dict[str, Any]:
    """The JSON object given to ``flag``; anything else stops the script with an example of the format."""
    from asg_benchmark import BenchmarkError
    from asg_benchmark import json_object as parse

    try:
        return parse(text, flag, example)
    except BenchmarkError as exc:
        raise SystemExit(str(exc)) from exc


def report_result(result: dict[str, Any], out: str | None, name: str, args: Any) -> dict[str, Any]:
    """Print a benchmark's result; with ``out``, also write ``out/<name>.json`` and the provenance."""
    print(json.dumps(result, indent=2))
    if out:
        folder = Path(out)
        write_provenance(folder, args=vars(args))
        (folder / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def parse_env_kwargs(text: str) -> dict[str, Any]:
    """``--env-kwargs``, the extra ``gym.make`` keywords of every script: one JSON object."""
    return json_object(text, "--env-kwargs", '{"image_size": 32}')


def sort_new_rows(table: ResumableCSV, first_new: int, position: Callable[[dict[str, str]], int]) -> None:
    """Put the rows from ``first_new`` on in ``position`` order (stable), as a sequential run appends them.

    Rows of a cell finish together, so only whole cells move; the rows a resumed run found stay
    first. The file is replaced atomically.
    """
    new = sorted(table.rows[first_new:], key=position)
    if new == table.rows[first_new:]:
        return
    table.rows[first_new:] = new
    partial = table.path.with_name(table.path.name + ".sorting")
    with partial.open("w", newline="") as f:
        writer = csv.DictWriter(f, table.fields)
        writer.writeheader()
        writer.writerows(table.rows)
    os.replace(partial, table.path)
