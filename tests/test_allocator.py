"""``asg_gym.allocator``: freed activation-sized buffers stay mapped, so reusing them faults no page in again."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from typing import Any

import gymnasium as gym
import pytest

from asg_gym import allocator

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's")

BLOCK_MIB, BLOCKS = 4, 32  # MiB-sized tensors alive together, then freed, as in a step

# One fresh process per setting (the thresholds are process-wide): page faults per allocate-and-free cycle, after two
# cycles that warm the heap up.
CHILD = f"""
import resource, torch
from asg_gym.allocator import keep_freed_memory
applied = keep_freed_memory()
def cycle():
    blocks = [torch.ones({BLOCK_MIB} * 2**18) for _ in range({BLOCKS})]
    del blocks
cycle(); cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    cycle()
print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def _faults_per_cycle(**environ: str) -> tuple[bool, float]:
    done = subprocess.run([sys.executable, "-c", CHILD], env={**os.environ, **environ}, capture_output=True,
                          text=True, check=True, timeout=120)
    applied, faults = done.stdout.split()
    return applied == "True", float(faults)


def test_kept_memory_is_reused_without_page_faults() -> None:
    pages = BLOCKS * BLOCK_MIB * 2**20 / os.sysconf("SC_PAGE_SIZE")
    applied, faults = _faults_per_cycle(**{allocator.OPT_OUT: "1"})
    assert applied and faults < 0.01 * pages
    # glibc's defaults fault between ~1 % and all of the pages in again, depending on the heap's history (so no
    # bound here; results/bench_env/README.md, "Allocator", measures the cost in env steps). Opted out: nothing set.
    assert _faults_per_cycle(**{allocator.OPT_OUT: "0"})[0] is False


def test_making_an_env_sets_the_thresholds(monkeypatch: pytest.MonkeyPatch, digits_kwargs: dict[str, Any]) -> None:
    monkeypatch.setattr(allocator, "_applied", None)  # as in a fresh process
    gym.make("ASG-Digits-v0", **digits_kwargs).close()
    assert allocator._applied is (os.environ.get(allocator.OPT_OUT, "1") != "0")
