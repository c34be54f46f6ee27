"""glibc's malloc in an env's process: keep freed memory mapped, so SGD steps do not fault their pages in again.

Every SGD step of the student allocates and frees the same activation buffers (tens of MB at 96 px, batch 32).
By default glibc hands free memory at the top of its heap back to the kernel (``M_TRIM_THRESHOLD``, which it
moves as it goes) and serves large blocks with fresh mappings (``M_MMAP_THRESHOLD``, likewise); when a step's
buffers land on either path, the next step faults every page in again, zero-filled by the kernel. Fixing both
thresholds keeps the pages: the process stays at its peak resident memory instead of shrinking between steps.
Results do not change (torch aligns its buffers itself; checked bit for bit), only the time:
``results/bench_env/README.md``, "Allocator". ``ASG_GYM_KEEP_FREED_MEMORY=0`` leaves glibc's defaults.
"""

from __future__ import annotations

import ctypes
import os
import platform

OPT_OUT = "ASG_GYM_KEEP_FREED_MEMORY"
"""Environment variable: ``0`` leaves glibc's malloc settings alone."""

_M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3
_NEVER_TRIM = 2**31 - 1  # mallopt takes an int
_MMAP_THRESHOLD = 32 * 2**20  # the largest glibc accepts on 64-bit: blocks up to 32 MiB come from the heap

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Fix glibc's trim and mmap thresholds, once per process (forked children inherit them).

    Returns whether they are set: ``False`` off glibc (macOS, Windows, musl) or with ``ASG_GYM_KEEP_FREED_MEMORY=0``.
    """
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if os.environ.get(OPT_OUT, "1") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM)) and bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD))
