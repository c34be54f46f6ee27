"""Torch's CPU threads in env processes: safe after ``fork()``, and a per-process budget.

PyTorch's CPU build runs its intra-op parallelism on GNU OpenMP, whose thread pool does not
survive ``fork()``: a child forked from a process that already ran a parallel torch op hangs
in its first one. Gymnasium's async vector env (and SB3's ``SubprocVecEnv``) fork their
workers by default after building an env in the parent, so every forked child of a process
that imported the envs is switched to one thread before it runs anything. More threads per
worker need workers that start fresh: ``vector_kwargs={"context": "forkserver"}`` (or
``"spawn"``) with the env keyword ``num_threads``.
"""

from __future__ import annotations

import os
import warnings

import torch

_forked = False


def _after_fork_in_child() -> None:
    global _forked
    _forked = True
    torch.set_num_threads(1)  # sets the count only: runs no parallel region, so it cannot hang


os.register_at_fork(after_in_child=_after_fork_in_child)


def set_num_threads(num_threads: int | None) -> None:
    """Use ``num_threads`` torch threads in this process (``None``: leave the current setting)."""
    if num_threads is None:
        return
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1 or None, got {num_threads}")
    if _forked and num_threads > 1:
        warnings.warn(
            f"num_threads={num_threads} in a forked process would hang OpenMP; using 1. Start vector-env "
            "workers with vector_kwargs={'context': 'forkserver'} (or 'spawn') for more threads per worker",
            stacklevel=3,
        )
        num_threads = 1
    torch.set_num_threads(num_threads)
