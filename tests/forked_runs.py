"""Benchmarks run in forked processes that may be killed on purpose (:mod:`asg_benchmark.faults`), and saved
agents compared by content: the shared tools of the kill-and-resume tests."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import torch

from asg_benchmark import BenchmarkSpec, faults, run_benchmark


def run_forked(spec: BenchmarkSpec, folder: Path, fault: str | None = None, *, checkpoint_every: int,
               threads: int | None = None) -> int:
    """``run_benchmark(spec, folder)`` in a forked child, killed at ``fault`` (``"point:n"``) if given, with
    ``threads`` torch threads if given (the count changes the env's sums); the child's exit code."""

    def child() -> None:
        if threads is not None:
            torch.set_num_threads(threads)
        if fault is not None:
            os.environ[faults.VARIABLE] = fault
        faults.calls.clear()
        run_benchmark(spec, folder, log=None, report=False, checkpoint_every=checkpoint_every)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(300)
    assert process.exitcode is not None, "the benchmark hung"
    return process.exitcode


def canonical(value: object) -> object:
    """A checkpoint's content as plain values: each tensor's dtype, shape and bytes. (The file's bytes also
    depend on which tensors shared storage when it was saved, which a resumed run changes.)"""
    if isinstance(value, torch.Tensor):
        return str(value.dtype), tuple(value.shape), value.contiguous().numpy().tobytes()
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value
