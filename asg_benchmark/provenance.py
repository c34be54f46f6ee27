"""What produced a result: the command, the machine, the installed versions and the git revision."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any


def provenance(**record: Any) -> dict[str, Any]:
    """This invocation's command, date, machine, versions and git revision, with ``record`` added."""
    return {"command": command_line(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
            "versions": versions(), "git_revision": git_revision(), **record}


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


def append_provenance(folder: Path, **record: Any) -> None:
    """Add this invocation (:func:`provenance` with ``record``) to ``folder/provenance.json``, replaced atomically;
    a run folder resumed several times keeps every invocation, in order (other keys of the file are kept)."""
    import json

    from asg_benchmark import atomic

    path = Path(folder) / "provenance.json"
    log = json.loads(path.read_text()) if path.exists() else {}
    log["runs"] = [*log.get("runs", []), provenance(**record)]
    atomic.write_text(path, json.dumps(log, indent=2, ensure_ascii=False, default=str) + "\n")
