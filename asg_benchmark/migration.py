"""Results folders of asg-gym 0.2 moved into a results store (``asg-benchmark migrate``).

asg-gym 0.2 appended each episode to ``results.csv`` and ``episodes.jsonl`` in place, so a kill during a
write could leave a line cut short, glued to the next, or a cell written twice. The migration reads them
strictly: a line that does not parse, or a cell twice with different scores, is an error that names the
line and the fix; nothing is skipped or overridden silently.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asg_benchmark.store import (
    EPISODES,
    FIELDS,
    INSERT_ROW,
    KEY,
    PROTOCOL,
    PROVENANCE,
    RESULTS,
    ResultsStore,
    StoreError,
    cell_key,
    database_path,
    parse_row,
    record_json,
    render_row,
    storage_url,
)


@dataclass(frozen=True)
class Migration:
    """What :func:`migrate` moved into the store."""

    rows: int
    duplicates: int
    runs: int
    database: Path


def read_results_csv(path: Path, machine: str = "") -> tuple[list[dict[str, str]], int]:
    """The rows of a 0.2 ``results.csv`` and the number of lines they came from, strictly: a line that does not
    parse, or a cell written twice with different scores, raises :class:`StoreError` naming the line and the fix;
    a cell written twice with the same score (an append repeated after an interruption) is read once. Files
    older than the ``machine`` column read ``machine`` (the one their provenance records, or "")."""
    with path.open(newline="") as f:
        text = f.read()
    reader = csv.reader(io.StringIO(text), strict=True)
    fix = f"fix or delete that line of {path} (a deleted episode runs again) and migrate again"
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise StoreError(f"{path} has no header line; delete the file to start the folder afresh") from None
    missing = [k for k in FIELDS if k not in header and k != "machine"]
    unknown = [k for k in header if k not in FIELDS]
    if missing or unknown:
        raise StoreError(f"{path}: the header lacks {missing} or has unknown columns {unknown}")
    rows: list[dict[str, str]] = []
    first: dict[tuple[str, ...], tuple[int, str]] = {}
    lines = 0
    try:
        for fields in reader:
            line, lines = reader.line_num, lines + 1
            if len(fields) != len(header):
                raise StoreError(f"{path}, line {line}: {len(fields)} fields where the header has {len(header)} "
                                 f"(a write cut short?); {fix}")
            row = render_row(parse_row({"machine": machine} | dict(zip(header, fields, strict=True)),
                                       f"{path}, line {line}"))  # canonical text, as the store returns it
            key = cell_key(row)
            if key not in first:
                first[key] = (line, row["target_score"])
                rows.append(row)
            elif first[key][1] != row["target_score"]:
                raise StoreError(f"{path}: cell {key} is on line {first[key][0]} with target_score {first[key][1]} "
                                 f"and on line {line} with {row['target_score']}; delete the wrong line and migrate "
                                 "again")
    except csv.Error as exc:
        raise StoreError(f"{path}, line {reader.line_num}: {exc} (a write cut short inside a quoted field?); "
                         f"{fix}") from None
    return rows, lines


def read_episodes_jsonl(path: Path) -> dict[tuple[str, ...], dict[str, Any]]:
    """A 0.2 ``episodes.jsonl`` by cell key (a record written twice counts once, the last)."""
    found = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            key = tuple(str(record[k]) for k in KEY)
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise StoreError(f"{path}, line {number}: not an episode record ({exc}); fix or delete the line and "
                             "migrate again") from None
        found[key] = record
    return found


def migrate(folder: str | Path, storage: str | None = None) -> Migration:
    """Move a 0.2 results folder (``results.csv``, ``episodes.jsonl``, ``protocol.json``, ``provenance.json``)
    into a new store, check that the stored rows equal the file's, and export ``results.csv`` from the store.

    The database is built under a temporary name and moved into place only when the check passes; a row without
    an episode record gets an empty one. ``episodes.jsonl`` is left where it is (the store holds its records).
    """
    folder = Path(folder)
    csv_path, path = folder / RESULTS, database_path(storage or storage_url(folder))
    if not csv_path.is_file():
        raise StoreError(f"nothing to migrate: no {RESULTS} in {folder}")
    if path.is_file():
        raise StoreError(f"{path} exists already: {folder} was migrated (delete the database to migrate again)")
    runs = _read_json(folder / PROVENANCE).get("runs", [])
    machines = {run.get("machine", "") for run in runs}
    rows, lines = read_results_csv(csv_path, machines.pop() if len(machines) == 1 else "")
    episodes = read_episodes_jsonl(folder / EPISODES) if (folder / EPISODES).is_file() else {}
    protocol = _read_json(folder / PROTOCOL)
    staging = path.with_name(f".{path.name}.migrating")
    staging.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:  # the staging store's exports go nowhere
        store = ResultsStore(scratch, f"sqlite:///{staging}")
        with store._transaction() as db:
            if protocol:
                db.execute("INSERT INTO protocol VALUES (0, ?)", (json.dumps(protocol, sort_keys=True),))
            for run in runs:
                db.execute("INSERT INTO runs (value) VALUES (?)", (json.dumps(run, ensure_ascii=False, default=str),))
            for row in rows:
                db.execute(INSERT_ROW, (*parse_row(row, "row"), record_json(episodes.get(cell_key(row), {}))))
        if store.rows() != rows:
            staging.unlink()
            raise StoreError(f"migrating {folder}: the stored rows differ from {csv_path}'s; nothing was changed")
    os.replace(staging, path)
    ResultsStore(folder, storage).export()
    return Migration(len(rows), lines - len(rows), len(runs), path)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path} is not JSON ({exc}); repair or delete it and migrate again") from None
    return value if isinstance(value, dict) else {}
