"""Files that are whole or absent: written under a name tagged with the writer's pid, then renamed into place.

A writer killed midway leaves its tagged file behind; the next writer removes those whose process is gone (a
live one may be another process still writing), so a folder shared by several writers never collects debris.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from asg_benchmark import faults


def staging_name(path: Path, suffix: str) -> Path:
    """Where this process prepares ``path``: ``.<name>.<pid><suffix>`` beside it."""
    return path.with_name(f".{path.name}.{os.getpid()}{suffix}")


def remove_orphans(path: Path, suffix: str) -> None:
    """Staged versions of ``path`` (files or folders) left by processes that no longer run."""
    prefix = f".{path.name}."
    for orphan in path.parent.glob(f"{prefix}*{suffix}"):
        pid = orphan.name.removeprefix(prefix).removesuffix(suffix)
        if pid.isdigit() and not _running(int(pid)):
            if orphan.is_dir():
                shutil.rmtree(orphan, ignore_errors=True)
            else:
                orphan.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> Path:
    """Replace ``path`` by ``text`` atomically (flushed to disk before the rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(path, ".tmp")
    tmp = staging_name(path, ".tmp")
    with tmp.open("w", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    faults.checkpoint("export")
    os.replace(tmp, path)
    return path


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
