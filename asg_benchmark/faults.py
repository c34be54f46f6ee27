"""Fault injection for the kill-and-resume tests: the process kills itself at a named point.

``ASG_BENCHMARK_FAULT="commit:3"`` makes the 3rd call of :func:`checkpoint` with point ``"commit"``
send SIGKILL to its own process: no cleanup, no ``finally``, as a crash, an out-of-memory kill or a
pulled plug leaves it. Unset (the normal case) it costs one dictionary lookup. The points:

* ``train``: after every training env step (:class:`asg_benchmark.training_env.TrainingEnv`);
* ``eval``: after every evaluation env step;
* ``commit``: inside a results-store transaction, after the row is written and before it commits;
* ``export``: after an export's temporary file is written and before it replaces the export;
* ``checkpoint``: inside a trained agent's save, between moving the previous version aside and the new one in.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

VARIABLE = "ASG_BENCHMARK_FAULT"
calls: Counter[str] = Counter()
"""Calls of each point in this process so far (counted only while the variable is set)."""


def checkpoint(point: str) -> None:
    """Kill this process at the n-th call for ``point`` when ``ASG_BENCHMARK_FAULT`` is ``"point:n"``; with the
    variable set to anything (e.g. ``"count"``), count the calls of every point in :data:`calls`."""
    wanted = os.environ.get(VARIABLE)
    if not wanted:
        return
    calls[point] += 1
    name, _, count = wanted.partition(":")
    if name == point and calls[point] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
