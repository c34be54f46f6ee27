"""Where a user-supplied data set lives: an explicit ``data_root=``, else an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

from asg_gym.errors import DatasetError


def resolve_root(data_root: str | Path | None, env_var: str, name: str, help_text: str) -> Path:
    """``data_root``, else ``$env_var``; it must be an existing folder.

    ``DatasetError`` otherwise, carrying ``help_text`` (the expected layout and where to get the data)
    so that the first error a new user sees already says how to fix it.
    """
    if data_root is None:
        data_root = os.environ.get(env_var)
        if not data_root:
            raise DatasetError(f"no {name} folder given: pass data_root= or set {env_var}. {help_text}")
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{name} root {root} does not exist or is not a folder. {help_text}")
    return root
