"""A CSV of finished runs, appended (and flushed) row by row, so that an interrupted script resumes."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


class ResumableCSV:
    """Rows appended (and flushed) as they finish; ``done(key)`` tells which runs to skip."""

    def __init__(self, path: Path, fields: list[str], key_fields: list[str]) -> None:
        self.path, self.fields, self.key_fields = path, fields, key_fields
        path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, str]] = []
        if path.exists():  # a file written by an earlier version keeps its columns
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                self.rows = list(reader)
                self.fields = list(reader.fieldnames or fields)
        else:
            with path.open("w", newline="") as f:
                csv.DictWriter(f, fields).writeheader()

    def key(self, row: dict[str, Any]) -> tuple[str, ...]:
        return tuple(str(row[k]) for k in self.key_fields)

    def done(self, **key: Any) -> bool:
        wanted = self.key(key)
        return any(self.key(r) == wanted for r in self.rows)

    def append(self, row: dict[str, Any]) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self.fields, extrasaction="ignore").writerow(row)
        self.rows.append({k: str(v) for k, v in row.items()})
