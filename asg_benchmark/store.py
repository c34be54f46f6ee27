"""A benchmark folder's results: one SQLite database, the source of truth, and the files exported from it.

Every finished evaluation episode, a *cell* ``(agent, train_seed, eval_seed, draw)``, is one row of
the ``episodes`` table, committed in one transaction with its curve and actions: a process killed
at any moment leaves the whole row or nothing, and a rerun skips the cells the store holds. The
``protocol`` table pins what makes rows comparable (env, its keywords, episode length, decision
window, budget, draws): a rerun with another protocol is refused. The ``runs`` table keeps every
invocation (command, machine, versions, git revision where there is a checkout).

``results.csv``, ``protocol.json`` and ``provenance.json`` are *exports*, regenerated from the
database after every write and each replaced atomically; they are for reading, never read back.
A folder written before the database existed (asg-gym 0.2: ``results.csv`` and
``episodes.jsonl`` appended in place) is moved in by :func:`asg_benchmark.migration.migrate`
(``asg-benchmark migrate``), which checks that the stored rows equal the file's.

The database is named by a storage URL, Optuna's convention: ``sqlite:///relative/path.db`` or
``sqlite:////absolute/path.db``; the default is ``sqlite:///<folder>/results.db``. Only SQLite is
implemented; the URL leaves room for a server database. Writers (two processes on one folder, Ray
tasks reporting to one driver) serialise on SQLite's lock; a cell stored twice is stored once.

Each row names the machine that ran its episode (column ``machine``): an episode is chaotic and
floating-point kernels differ between CPU models, so two episodes pair only when one machine ran both.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sqlite3
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asg_benchmark import atomic, faults
from asg_benchmark.errors import BenchmarkError, ProtocolError

DATABASE = "results.db"
RESULTS = "results.csv"
EPISODES = "episodes.jsonl"  # asg-gym 0.2's episode records, read only by migrate
PROTOCOL = "protocol.json"
PROVENANCE = "provenance.json"
UNSEEDED = "-"  # the train_seed of an agent that does not depend on a seed (run once per evaluation seed)
SCHEMA_VERSION = 1
LOCK_TIMEOUT = 120.0  # seconds a writer waits for another's transaction


class StoreError(BenchmarkError):
    """A results store that cannot be read or written as asked: a row that does not parse, a cell stored twice
    with different scores, an unknown storage URL, a folder that needs migrating."""


# ------------------------------------------------------------------------------------------------ the columns
def _integer(text: str) -> int:
    value = int(text)
    if str(value) != text.strip().lstrip("+"):
        raise ValueError(f"not an integer: {text!r}")
    return value


def _seed(text: str) -> str | int:
    return UNSEEDED if text == UNSEEDED else _integer(text)


def _float(text: str) -> float:
    return float(text)


def _score(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a score is a fraction in [0, 1], got {text!r}")
    return value


def _bool(text: str) -> int:
    if text not in ("True", "False"):
        raise ValueError(f"not True or False: {text!r}")
    return int(text == "True")


def _name(text: str) -> str:
    if not text:
        raise ValueError("empty")
    return text


def _text(text: str) -> str:
    return text


@dataclass(frozen=True)
class Column:
    """One results column: its SQL type and how its text (the CSV cell) parses into the stored value."""

    name: str
    sql: str
    parse: Callable[[str], Any]

    def render(self, value: Any) -> str:
        """The stored value as its CSV text (floats in their shortest exact form; NaN is stored as NULL)."""
        if self.parse is _bool:
            return "True" if value else "False"
        if value is None and self.sql == "REAL":
            return "nan"
        return str(value)


COLUMNS = (
    Column("agent", "TEXT NOT NULL", _name), Column("train_seed", "TEXT NOT NULL", _seed),
    Column("eval_seed", "INTEGER NOT NULL", _integer), Column("draw", "INTEGER NOT NULL", _integer),
    Column("deterministic", "INTEGER NOT NULL", _bool), Column("hand_designed", "INTEGER NOT NULL", _bool),
    Column("env", "TEXT NOT NULL", _name), Column("episode_length", "INTEGER NOT NULL", _integer),
    Column("decision_window", "INTEGER NOT NULL", _integer), Column("budget", "INTEGER NOT NULL", _integer),
    Column("train_env_steps", "INTEGER NOT NULL", _integer), Column("train_seconds", "REAL", _float),
    Column("target_metric", "TEXT NOT NULL", _name), Column("target_score", "REAL NOT NULL", _score),
    Column("old_task_agreement", "REAL", _float), Column("episode_return", "REAL", _float),
    Column("final_loss", "REAL", _float), Column("diverged", "INTEGER NOT NULL", _bool),
    Column("steps", "INTEGER NOT NULL", _integer), Column("eval_seconds", "REAL", _float),
    Column("machine", "TEXT NOT NULL", _text),
)
FIELDS = [c.name for c in COLUMNS]
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


def parse_row(row: dict[str, Any], where: str) -> tuple[Any, ...]:
    """``row`` (CSV text, or values whose ``str`` is) as the stored values, in :data:`FIELDS` order; a missing
    or unparsable field raises :class:`StoreError` naming ``where`` (the row's place) and the field."""
    values = []
    for column in COLUMNS:
        if column.name not in row or row[column.name] is None:
            raise StoreError(f"{where}: no {column.name!r} field")
        text = _as_text(row[column.name])
        try:
            values.append(column.parse(text))
        except ValueError as exc:
            raise StoreError(f"{where}: field {column.name!r} = {text!r} does not parse ({exc})") from None
    return tuple(values)


def record_json(episode: dict[str, Any]) -> str:
    """An episode record as stored: JSON without the cell's own fields (the row holds them)."""
    return json.dumps({k: v for k, v in episode.items() if k not in KEY}, allow_nan=True)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


def render_row(values: tuple[Any, ...]) -> dict[str, str]:
    """Stored values as the row's CSV text, as :func:`read_rows` returns rows."""
    return {column.name: column.render(value) for column, value in zip(COLUMNS, values, strict=True)}


def cell_key(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row[k] for k in KEY)


# ------------------------------------------------------------------------------------------------ the database
def storage_url(folder: str | Path) -> str:
    """The default storage of a results folder: ``sqlite:///<folder>/results.db``."""
    return f"sqlite:///{Path(folder) / DATABASE}"


def database_path(url: str) -> Path:
    """The file of a ``sqlite:///PATH`` storage URL (four slashes for an absolute path, Optuna's convention)."""
    scheme, sep, path = url.partition(":///")
    if not sep or not path:
        raise StoreError(f"storage {url!r} is not a URL; give sqlite:///relative/path.db or "
                         "sqlite:////absolute/path.db")
    if scheme != "sqlite":
        raise StoreError(f"storage {url!r}: only SQLite storage is implemented (sqlite:///path.db), not {scheme!r}")
    return Path(path)


_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS episodes ({', '.join(f'{c.name} {c.sql}' for c in COLUMNS)}, "
    f"record TEXT NOT NULL, PRIMARY KEY ({', '.join(KEY)}))",
    "CREATE TABLE IF NOT EXISTS protocol (id INTEGER PRIMARY KEY CHECK (id = 0), value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, value TEXT NOT NULL)",
)
INSERT_ROW = f"INSERT INTO episodes ({', '.join(FIELDS)}, record) VALUES ({', '.join('?' * (len(FIELDS) + 1))})"
INSERT_NEW_ROW = INSERT_ROW + " ON CONFLICT DO NOTHING"  # a cell another writer stored first stays as it is


class ResultsStore:
    """The results of one benchmark folder: its database (``storage``, default ``<folder>/results.db``) and the
    exports written into ``folder``. ``create=False`` refuses a folder without a database."""

    def __init__(self, folder: str | Path, storage: str | None = None, *, create: bool = True) -> None:
        self.folder = Path(folder)
        self.url = storage or storage_url(self.folder)
        self.path = database_path(self.url)
        if not self.path.is_file():
            if not create:
                raise StoreError(_missing_database(self.folder, self.path))
            if (self.folder / RESULTS).is_file():
                raise StoreError(_missing_database(self.folder, self.path))
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:  # a store at this schema is only read: reports and plans of a running job
            current = db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        if not current:
            with self._transaction() as db:
                for statement in _SCHEMA:
                    db.execute(statement)
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(f"{self.path} was written by a newer asg-gym (schema {version}); upgrade "
                                     "asg-gym")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, holding the write lock from its start; rolled back on any error."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            faults.checkpoint("commit")
            db.execute("COMMIT")

    # ---------------------------------------------------------------------------------------------- episodes
    def done(self, cell: Cell) -> bool:
        label, seed, eval_seed, draw = cell.key()
        with self._connect() as db:
            found = db.execute("SELECT 1 FROM episodes WHERE agent = ? AND train_seed = ? AND eval_seed = ? AND "
                               "draw = ?", (label, seed, int(eval_seed), int(draw))).fetchone()
        return found is not None

    def append(self, row: dict[str, Any], episode: dict[str, Any], *, export: bool = True) -> bool:
        """Commit one finished cell (its row and its ``episode`` record: curve, actions, scores), then export.

        Returns whether it was stored: a cell already in the store (another writer ran it) is kept as it is,
        with a warning if this run's score differs.
        """
        values = parse_row(row, f"the row of cell {tuple(_as_text(row.get(k)) for k in KEY)}")
        record = record_json(episode)
        with self._transaction() as db:
            inserted = db.execute(INSERT_NEW_ROW, (*values, record)).rowcount == 1
            stored = None if inserted else db.execute(
                f"SELECT {', '.join(FIELDS)} FROM episodes WHERE {' AND '.join(f'{k} = ?' for k in KEY)}",
                values[:len(KEY)]).fetchone()
        if stored is not None and (kept := render_row(stored))["target_score"] != _as_text(row["target_score"]):
            warnings.warn(f"cell {cell_key(kept)} was already stored (machine {kept['machine']!r}) with target_score "
                          f"{kept['target_score']}; kept it, not this run's {row['target_score']}", stacklevel=2)
        if export:
            self.export_results()
        return inserted

    def append_many(self, rows: list[dict[str, str]], episodes: list[dict[str, Any]]) -> int:
        """:meth:`append` of several cells in one transaction (a migration, a reuse); returns how many were new."""
        parsed = [(parse_row(row, f"row {i + 1}"), record_json(ep))
                  for i, (row, ep) in enumerate(zip(rows, episodes, strict=True))]
        with self._transaction() as db:
            new = sum(db.execute(INSERT_NEW_ROW, (*values, record)).rowcount for values, record in parsed)
        self.export_results()
        return new

    def rows(self) -> list[dict[str, str]]:
        """Every stored row as its CSV text, in the order they were committed, each checked to parse."""
        with self._connect() as db:
            stored = db.execute(f"SELECT rowid, {', '.join(FIELDS)} FROM episodes ORDER BY rowid").fetchall()
        rows = []
        for rowid, *values in stored:
            row = render_row(tuple(values))
            parse_row(row, f"{self.path}, episodes row {rowid} (cell {cell_key(row)}); fix or delete it with the "
                           "sqlite3 shell")
            rows.append(row)
        return rows

    def episodes(self) -> dict[tuple[str, ...], dict[str, Any]]:
        """Each cell's episode record (curve, actions, scores, and the cell's own fields) by cell key."""
        with self._connect() as db:
            stored = db.execute(f"SELECT {', '.join(KEY)}, record FROM episodes ORDER BY rowid").fetchall()
        found: dict[tuple[str, ...], dict[str, Any]] = {}
        for agent, train_seed, eval_seed, draw, record in stored:
            key = (agent, str(train_seed), str(eval_seed), str(draw))
            try:
                episode = json.loads(record)
            except json.JSONDecodeError as exc:
                raise StoreError(f"{self.path}: the episode record of cell {key} is not JSON ({exc})") from None
            found[key] = {"agent": agent, "train_seed": str(train_seed), "eval_seed": int(eval_seed),
                          "draw": int(draw), **episode}
        return found

    # ------------------------------------------------------------------------------------- protocol and runs
    def protocol(self) -> dict[str, Any] | None:
        with self._connect() as db:
            found = db.execute("SELECT value FROM protocol").fetchone()
        return None if found is None else json.loads(found[0])

    def lock_protocol(self, protocol: dict[str, Any]) -> None:
        """Pin ``protocol``, or refuse when the store already holds one that differs."""
        protocol = json.loads(json.dumps(protocol, default=str))  # as it reads back: tuples become lists
        with self._transaction() as db:
            found = db.execute("SELECT value FROM protocol").fetchone()
            if found is None:
                db.execute("INSERT INTO protocol VALUES (0, ?)", (json.dumps(protocol, sort_keys=True),))
        if found is not None:
            before = json.loads(found[0])
            changed = protocol_differences(before, protocol)
            if changed:
                details = "; ".join(f"{k}: {before.get(k)!r} there, {protocol.get(k)!r} now" for k in changed)
                raise ProtocolError(f"{self.folder} holds results of another protocol ({details}); use a new --out "
                                    "folder")
        self._export(PROTOCOL, json.dumps(self.protocol(), indent=2, sort_keys=True) + "\n")

    def runs(self) -> list[dict[str, Any]]:
        """Every recorded invocation, oldest first (``provenance.json``'s ``runs``)."""
        with self._connect() as db:
            return [json.loads(value) for (value,) in db.execute("SELECT value FROM runs ORDER BY id")]

    def add_run(self, record: dict[str, Any]) -> None:
        """Record one invocation (:func:`asg_benchmark.provenance.provenance`) and export ``provenance.json``."""
        with self._transaction() as db:
            db.execute("INSERT INTO runs (value) VALUES (?)", (json.dumps(record, ensure_ascii=False, default=str),))
        self._export(PROVENANCE, json.dumps({"runs": self.runs()}, indent=2, ensure_ascii=False) + "\n")

    # ------------------------------------------------------------------------------------------------ exports
    def export_results(self) -> Path:
        """``results.csv``: every stored row, regenerated from the database."""
        return self._export(RESULTS, rows_csv(self.rows()))

    def export(self) -> None:
        """Every export regenerated: ``results.csv``, ``protocol.json``, ``provenance.json``."""
        self.export_results()
        protocol = self.protocol()
        if protocol is not None:
            self._export(PROTOCOL, json.dumps(protocol, indent=2, sort_keys=True) + "\n")
        self._export(PROVENANCE, json.dumps({"runs": self.runs()}, indent=2, ensure_ascii=False) + "\n")

    def _export(self, name: str, text: str) -> Path:
        return atomic.write_text(self.folder / name, text)


def rows_csv(rows: list[dict[str, str]]) -> str:
    """Rows as the text of a results CSV."""
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _missing_database(folder: Path, path: Path) -> str:
    if (folder / RESULTS).is_file():
        return (f"{folder} holds a {RESULTS} but no database {path.name} (asg-gym 0.2 wrote the CSV alone; "
                f"later versions export it from the database): move its rows into a store with `asg-benchmark "
                f"migrate {folder}`, or delete it to start afresh")
    return f"no results database {path}: run `asg-benchmark run --out {folder} ...` first"


def open_store(folder: str | Path, storage: str | None = None) -> ResultsStore:
    """The existing store of a results folder (a clear error when it has none)."""
    return ResultsStore(folder, storage, create=False)


def read_rows(folder: str | Path, storage: str | None = None) -> list[dict[str, str]]:
    """The rows of a results folder's store, as CSV text, each checked to parse."""
    return open_store(folder, storage).rows()


def read_episodes(folder: str | Path, storage: str | None = None) -> dict[tuple[str, ...], dict[str, Any]]:
    """The episode records (curve, actions) of a results folder's store, by cell key."""
    return open_store(folder, storage).episodes()


def protocol_differences(a: dict[str, Any], b: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """The keys, other than ``ignore``, on which two protocol records differ (sorted)."""
    return sorted(k for k in set(a) | set(b) if k not in ignore and a.get(k) != b.get(k))
