"""Cells another benchmark folder already ran on this machine, copied instead of run again.

An evaluation episode is seeded per cell (:func:`asg_benchmark.seeds.run_seed`), so one machine
and build repeat it bit for bit: a folder that extends another (more evaluation seeds, a row
added to the 30-seed table) can take the episodes the other already holds. A cell is copied only
when everything that shaped it is the same: the protocol (``protocol.json``), the machine of
its row, the agent and its keywords in every run of the source that benchmarked that row
(``provenance.json``) and, for a learning agent, its trained agent (copied along when this folder
has none; refused when this folder's differs). Anything else is run as usual.

A row is matched by what it runs, not by its name: when the source has no row of this label that
ran the same agent and keywords, another of its rows that did stands in (``recipe=reinforce_lstm``
reuses ``recommended=reinforce_lstm`` of the same preset), its cells copied under this folder's
label. The label enters no seed (:func:`asg_benchmark.seeds.run_seed`), so they are the same episodes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asg_benchmark.checkpoints import TRAINING, TrainedAgent
from asg_benchmark.errors import ProtocolError
from asg_benchmark.plan import Job
from asg_benchmark.registry import AgentSpec, split_label
from asg_benchmark.store import ResultsStore, StoreError, cell_key, open_store, protocol_differences


def reuse_cells(source: Path, store: ResultsStore, jobs: list[Job], agents: Mapping[str, AgentSpec],
                agent_kwargs: Mapping[str, Mapping[str, Any]], here: str) -> int:
    """Commit to ``store`` the cells of ``jobs`` that the results folder ``source`` ran on machine ``here``.

    ``agents`` maps each entry of ``--agents`` (``"label=agent"`` or a name, as the jobs name them) to
    its spec, ``agent_kwargs`` each row label to its keywords. Returns the number of cells copied.
    """
    source, out = Path(source), store.folder
    try:
        theirs_store = open_store(source)
    except StoreError as exc:
        raise ProtocolError(f"cannot reuse cells of {source}: {exc}") from None
    theirs, ours = theirs_store.protocol() or {}, store.protocol() or {}
    changed = protocol_differences(theirs, ours)
    if changed:
        raise ProtocolError(f"cannot reuse cells of {source}: its protocol differs on {', '.join(changed)}")
    rows = {cell_key(row): row for row in theirs_store.rows() if row["machine"] == here}
    episodes, runs = theirs_store.episodes(), theirs_store.runs()
    found_rows, found_episodes = [], []
    for job in jobs:
        label = agents[job.agent].name
        source_label = _source_label(runs, job.agent, label, dict(agent_kwargs.get(label, {})))
        if source_label is None:
            continue
        # this folder's cell key -> the source's ("recipe/greedy" -> "recommended/greedy" when relabelled)
        keys = {c.cell.key(): (source_label + c.cell.label[len(label):], *c.cell.key()[1:]) for c in job.cells}
        found = [key for key, source_key in keys.items() if source_key in rows]
        if not found or (job.train_seed is not None
                         and not _same_trained_agent(source, out, source_label, label, job.train_seed)):
            continue
        found_rows += [{**rows[keys[key]], "agent": key[0]} for key in found]
        found_episodes += [{**episodes[keys[key]], "agent": key[0]} for key in found]
    return store.append_many(found_rows, found_episodes) if found_rows else 0


def _source_label(runs: list[dict[str, Any]], entry: str, label: str, kwargs: dict[str, Any]) -> str | None:
    """The source's row that ran what row ``label`` (``entry`` of ``--agents``) runs: the row of the same name
    if it ran the same agent and keywords, else the first other row that did; ``None`` if none did."""
    if _same_agent(runs, entry, label, kwargs):
        return label
    agent = split_label(entry)[1]
    named = sorted({split_label(e)[0] for run in runs for e in run.get("spec", {}).get("agents", [])})
    return next((theirs for theirs in named if theirs != label
                 and _same_agent(runs, agent if theirs == agent else f"{theirs}={agent}", theirs, kwargs)), None)


def _same_agent(runs: list[dict[str, Any]], entry: str, label: str, kwargs: dict[str, Any]) -> bool:
    """Whether every source run that benchmarked row ``label`` ran it as ``entry`` with ``kwargs``."""
    seen = False
    for run in runs:
        spec = run.get("spec", {})
        entries = [e for e in spec.get("agents", []) if split_label(e)[0] == label]
        if not entries:
            continue
        seen = True
        if entries != [entry] or spec.get("agent_kwargs", {}).get(label, {}) != json.loads(json.dumps(kwargs)):
            return False
    return seen


def _same_trained_agent(source: Path, out: Path, source_label: str, label: str, train_seed: int) -> bool:
    """Whether ``out`` holds (or now, copied, holds) as ``label`` the trained agent that ``source`` evaluated as
    ``source_label``."""
    theirs = TrainedAgent.of(source, source_label, train_seed).folder
    ours = TrainedAgent.of(out, label, train_seed).folder
    if not (theirs / TRAINING).is_file():
        return False
    if not ours.exists():
        shutil.copytree(theirs, ours.with_name(f".{ours.name}.reused"), dirs_exist_ok=True)
        ours.with_name(f".{ours.name}.reused").rename(ours)  # whole or absent, as the runner's saves
        return True
    return _same_files(theirs, ours)


def _same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names if (a / n).is_file())
