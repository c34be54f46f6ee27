"""Scale-out on Ray: the ``--ray`` flags, the Ray session, and independent runs as Ray tasks.

``asg-benchmark run --ray`` (and the curve scripts of ``experiments/``) submit each piece of work
their results lack as one Ray task asking for ``--cpus-per-task``/``--gpus-per-task``; the driver
stores each task's results as it finishes, so an interrupted run keeps what finished. ``asg-benchmark
train --ray`` makes each rollout worker a Ray actor. Ray is an optional extra (``pip install
'asg-gym[ray]'``), imported only when a flag asks for it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from agents.rollouts import import_ray

R = TypeVar("R")


@dataclass
class RayFlags:
    """The scale-out flags a script's ``Args`` inherits."""

    ray: bool = False
    """scale out on a Ray started here on this machine's cores: each missing job or grid cell a Ray task (train:
    each rollout worker a Ray actor)"""
    ray_address: str | None = None
    """scale out on the running Ray cluster at this address instead (e.g. 'auto'; implies --ray); its nodes need
    asg-gym installed (and this checkout importable for the experiments' scripts)"""
    cpus_per_task: float = 1.0
    """CPUs each Ray task or actor asks for (also its torch threads)"""
    gpus_per_task: float = 0.0
    """GPUs each Ray task or actor asks for (a fraction shares one GPU)"""

    @property
    def use_ray(self) -> bool:
        return self.ray or self.ray_address is not None

    @property
    def task_threads(self) -> int:
        """Torch threads of a Ray task: its CPUs, at least one."""
        return max(1, int(self.cpus_per_task))

    def task_env_kwargs(self, env_kwargs: dict[str, Any]) -> dict[str, Any]:
        """``gym.make`` keywords in a Ray task: the task's torch threads, unless the keywords set them."""
        return {"num_threads": self.task_threads, **env_kwargs}


@contextlib.contextmanager
def ray_session(flags: RayFlags) -> Iterator[Any]:
    """The ``ray`` module, connected as ``flags`` say; a Ray this call started is shut down after.

    A Ray already initialised in this process (e.g. by a test) is used as it is and left running.
    """
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        if flags.ray_address is not None:
            ray.init(address=flags.ray_address)
        else:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def run_tasks(function: Callable[..., R], calls: Sequence[tuple[Any, ...]], flags: RayFlags
              ) -> Iterator[tuple[int, R]]:
    """``function(*call)`` for every call, each a Ray task with the flags' resources; ``(index, result)``
    as tasks finish. A failed task does not stop the others: after the last one, the first failure is raised.

    ``function`` must be a module-level function (Ray ships it by reference) and the calls picklable.
    """
    ray = import_ray()
    remote = ray.remote(function).options(num_cpus=flags.cpus_per_task, num_gpus=flags.gpus_per_task)
    pending = {remote.remote(*call): index for index, call in enumerate(calls)}
    failures: list[tuple[int, BaseException]] = []
    while pending:
        (ready,), _ = ray.wait(list(pending), num_returns=1)
        index = pending.pop(ready)
        try:
            result = ray.get(ready)
        except ray.exceptions.RayError as exc:  # the task raised or its worker died
            print(f"Ray task {index} failed: {exc}", flush=True)
            failures.append((index, exc))
            continue
        yield index, result
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(calls)} Ray tasks failed (indices "
                           f"{sorted(i for i, _ in failures)}); the first error is above") from failures[0][1]
