"""Results folders made by hand for the report, reuse and statistics tests: rows committed to a results store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from asg_benchmark import ResultsStore
from asg_benchmark.store import FIELDS


def add_results(folder: Path, rows: Iterable[Mapping[str, Any]], protocol: dict[str, Any] | None = None) -> None:
    """Commit ``rows`` (``machine`` "" where they do not say) to ``folder``'s store, creating it if needed; and
    pin ``protocol`` if given."""
    store = ResultsStore(folder)
    if protocol is not None:
        store.lock_protocol(protocol)
    rows = [{"machine": "", **{k: str(v) for k, v in row.items() if k in FIELDS}} for row in rows]
    store.append_many(rows, [{} for _ in rows])
