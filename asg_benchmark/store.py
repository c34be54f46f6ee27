"""A benchmark folder: the resumable results CSV, the per-episode JSONL, the protocol lock and provenance.

``results.csv`` holds one row per finished evaluation episode (a cell ``(agent, train_seed,
eval_seed, draw)``), appended and flushed as it finishes, so an interrupted run resumes by
skipping the cells already there. ``episodes.jsonl`` holds each cell's evaluation curve and
actions (written first: a crash between the two only repeats that episode). ``protocol.json``
pins what makes rows comparable (env, its keywords, episode length, decision window, budget,
draws): a rerun into the same folder with another protocol is refused. ``provenance.json``
keeps every invocation: command, machine, versions, git revision where there is a checkout.

Each row also names the machine that ran its episode (column ``machine``): an episode is chaotic
and floating-point kernels differ between CPU models, so two episodes pair (the same episode
under two agents) only when one machine ran both. Files written before the column existed are
read, and rewritten on the next run, with the machine their ``provenance.json`` records when every
run there recorded the same one, else with none (unknown).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from asg_benchmark.errors import ProtocolError

RESULTS = "results.csv"
EPISODES = "episodes.jsonl"
PROTOCOL = "protocol.json"
PROVENANCE = "provenance.json"
UNSEEDED = "-"  # the train_seed of an agent that does not depend on a seed (run once per evaluation seed)

FIELDS = ["agent", "train_seed", "eval_seed", "draw", "deterministic", "hand_designed", "env", "episode_length",
          "decision_window", "budget", "train_env_steps", "train_seconds", "target_metric", "target_score",
          "old_task_agreement", "episode_return", "final_loss", "diverged", "steps", "eval_seconds", "machine"]
KEY = ("agent", "train_seed", "eval_seed", "draw")


@dataclass(frozen=True)
class Cell:
    """One evaluation episode: row label, training seed (``None``: unseeded agent), evaluation seed, draw."""

    label: str
    train_seed: int | None
    eval_seed: int
    draw: int

    def key(self) -> tuple[str, str, str, str]:
        seed = UNSEEDED if self.train_seed is None else str(self.train_seed)
        return self.label, seed, str(self.eval_seed), str(self.draw)


class ResultsStore:
    """``folder/results.csv`` and ``folder/episodes.jsonl``, resumable."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / RESULTS
        self.rows: list[dict[str, str]] = read_rows(self.folder) if self.path.exists() else []
        if not self.path.exists() or _header(self.path) != FIELDS:  # new, or written before a column existed
            write_rows(self.path, self.rows)
        self._done = {tuple(row[k] for k in KEY) for row in self.rows}

    def done(self, cell: Cell) -> bool:
        return cell.key() in self._done

    def append(self, row: dict[str, Any], episode: dict[str, Any]) -> None:
        """The episode's curve and actions, then its CSV row (flushed)."""
        with (self.folder / EPISODES).open("a") as f:
            f.write(json.dumps(episode) + "\n")
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, FIELDS).writerow(row)
        text = {k: str(v) for k, v in row.items()}
        self.rows.append(text)
        self._done.add(tuple(text[k] for k in KEY))


def read_rows(folder: Path) -> list[dict[str, str]]:
    """The rows of ``folder/results.csv``; a cell written twice (an interrupted append) counts once, the last."""
    path = Path(folder) / RESULTS
    if not path.exists():
        raise FileNotFoundError(f"no {RESULTS} in {folder}: run `asg-benchmark run --out {folder} ...` first")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [k for k in FIELDS if k not in (reader.fieldnames or [])]
        rows = [r for r in reader if r.get("agent") and None not in r.values()]
    if missing:  # an older file: the columns it lacks are filled (the machine from provenance.json if it can tell)
        filled = {k: "" for k in missing} | ({"machine": recorded_machine(folder)} if "machine" in missing else {})
        rows = [filled | r for r in rows]
    return list({tuple(r[k] for k in KEY): r for r in rows}.values())


def read_episodes(folder: Path) -> dict[tuple[str, ...], dict[str, Any]]:
    """The records of ``folder/episodes.jsonl`` (curve, actions) by cell key; a cell written twice counts once, the
    last, as in :func:`read_rows`."""
    path = Path(folder) / EPISODES
    if not path.is_file():
        raise FileNotFoundError(f"no {EPISODES} in {folder}: run `asg-benchmark run --out {folder} ...` first")
    records = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {tuple(str(record[k]) for k in KEY): record for record in records}


def _header(path: Path) -> list[str]:
    with path.open(newline="") as f:
        return next(csv.reader(f), [])


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    """``path`` as a results CSV of the current columns holding ``rows``, replaced atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def recorded_machine(folder: Path) -> str:
    """The machine every run in ``folder/provenance.json`` recorded, or "" (unknown) when they differ or none did."""
    path = Path(folder) / PROVENANCE
    try:
        runs = json.loads(path.read_text()).get("runs", []) if path.is_file() else []
    except (OSError, ValueError):
        return ""
    machines = {run.get("machine", "") for run in runs}
    return machines.pop() if len(machines) == 1 else ""


def protocol_differences(a: dict[str, Any], b: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """The keys, other than ``ignore``, on which two ``protocol.json`` records differ (sorted)."""
    return sorted(k for k in set(a) | set(b) if k not in ignore and a.get(k) != b.get(k))


def lock_protocol(folder: Path, protocol: dict[str, Any]) -> None:
    """Write ``protocol.json``, or refuse when the folder already holds rows of another protocol."""
    path = Path(folder) / PROTOCOL
    path.parent.mkdir(parents=True, exist_ok=True)
    protocol = json.loads(json.dumps(protocol, default=str))  # as it reads back: tuples become lists
    if path.exists():
        before = json.loads(path.read_text())
        changed = protocol_differences(before, protocol)
        if changed:
            details = "; ".join(f"{k}: {before.get(k)!r} there, {protocol.get(k)!r} now" for k in changed)
            raise ProtocolError(f"{folder} holds results of another protocol ({details}); use a new --out folder")
        return
    path.write_text(json.dumps(protocol, indent=2, sort_keys=True) + "\n")


def write_provenance(folder: Path, **record: Any) -> None:
    """Append this invocation (command, date, machine, versions, git revision and ``record``) to provenance.json."""
    path = Path(folder) / PROVENANCE
    entry = {"command": command_line(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
             "versions": versions(), "git_revision": git_revision(), **record}
    log = json.loads(path.read_text()) if path.exists() else {}
    log["runs"] = [*log.get("runs", []), entry]
    path.write_text(json.dumps(log, indent=2, ensure_ascii=False, default=str) + "\n")


def command_line() -> str:
    program = Path(sys.argv[0]).name
    prefix = "python -m asg_benchmark" if program in ("__main__.py", "cli.py") else program
    return " ".join([prefix, *sys.argv[1:]])


def machine() -> str:
    """What shapes a run's numbers: the CPU model first (floating-point kernels differ between CPUs, and an episode
    is chaotic: results are bitwise the same only on the same CPU model and build), then cores, OS and torch."""
    import torch

    return (f"{platform.machine()} {cpu_model()}, {os.cpu_count()} cores, {platform.system()}, "
            f"Python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads)"
            + (f", CUDA {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""))


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name (Linux's ``/proc/cpuinfo``; ``platform.processor()`` elsewhere, which on Linux is empty)."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions() -> dict[str, str]:
    """Installed versions of the packages that shape the results."""
    found = {}
    for name in ("asg-gym", "torch", "numpy", "gymnasium", "stable-baselines3", "sb3-contrib", "optuna", "rliable"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    import asg_gym

    found["asg_gym.__version__"] = asg_gym.__version__
    return found


def git_revision() -> str:
    """The revision of the checkout asg_gym is imported from (an editable install), else 'not a git checkout'."""
    import asg_gym

    where = Path(asg_gym.__file__).resolve().parent.parent
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=where, capture_output=True, text=True,
                             check=True).stdout.strip()
        if Path(top).resolve() != where:  # e.g. site-packages inside some other repository's venv
            return "not a git checkout"
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=where, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"


def as_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as a JSON-ready dict."""
    return json.loads(json.dumps(asdict(obj), default=str))
