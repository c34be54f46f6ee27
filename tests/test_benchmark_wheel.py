"""A user's agent in their own pip-installed package, benchmarked by the installed CLI outside the repository.

The user's package is built as a wheel and installed with ``pip install --target`` into a temporary
folder; the benchmark runs in a subprocess whose working directory is not the repository and
whose ``PYTHONPATH`` is only that folder, so both ``asg_benchmark`` (installed in the venv) and the
agent are found as installed packages.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

AGENT_PACKAGE = '''
"""A tiny learning-rate controller: only the head trains for the first half, then everything at 0.1."""

import numpy as np


class HeadThenAll:
    def __init__(self, env, seed=None, switch=0.5):
        self.env, self.switch = env, switch
        self.num_coordinates = env.action_space.shape[0]
        self.num_timesteps = 0

    def learn(self, total_timesteps):
        """Nothing to learn, but the budget is spent on training episodes, as the protocol counts it."""
        obs, _ = self.env.reset(seed=0)
        for _ in range(total_timesteps):
            obs, _, terminated, truncated, _ = self.env.step(self.predict(obs)[0])
            self.num_timesteps += 1
            if terminated or truncated:
                obs, _ = self.env.reset()
        return self

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        backbone = 0 if float(np.asarray(observation)[2]) < self.switch else 1  # observation[2] = t/T
        return np.array([backbone] * (self.num_coordinates - 1) + [10]), state


def make_agent(env, seed=None, **kwargs):
    return HeadThenAll(env, seed=seed, **kwargs)
'''


def _pip(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args], cwd=cwd,
                   check=True, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # 15-35 s on 2 CPU cores: a wheel build and two benchmark subprocesses (torch, toy env)
def test_custom_agent_from_an_installed_wheel(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "myagent").mkdir(parents=True)
    (source / "myagent" / "__init__.py").write_text(AGENT_PACKAGE)
    (source / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "myagent"
        version = "0.1.0"
        '''))
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(source), cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("myagent-0.1.0-*.whl"))
    site = tmp_path / "site"
    _pip("install", "--no-deps", "--target", str(site), str(wheel), cwd=tmp_path)
    shutil.rmtree(source)  # only the installed copy is left

    script = Path(sys.executable).parent / "asg-benchmark"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "asg_benchmark"]
    args = ["run", "--quick", "--agents", "hand_tuned", "myagent:make_agent", "--train-seeds", "0",
            "--eval-seeds", "100", "101", "--draws", "1", "--reps", "100", "--out", "out",
            "--agent-kwargs", '{"myagent:make_agent": {"switch": 0.5}}']
    env = {**os.environ, "PYTHONPATH": str(site)}
    refused = subprocess.run([*command, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "at least 10 evaluation seeds" in refused.stderr
    run = subprocess.run([*command, *args, "--allow-few-seeds"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]

    with (tmp_path / "out" / "results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    labels = sorted({r["agent"] for r in rows})
    assert labels == ["hand_tuned", "myagent:make_agent", "myagent:make_agent/greedy"]
    mine = [r for r in rows if r["agent"] == "myagent:make_agent"]
    assert [r["eval_seed"] for r in mine] == ["100", "101"]
    assert {r["train_env_steps"] for r in mine} == {"12"} and {r["budget"] for r in rows} == {"12"}
    assert {r["train_seed"] for r in rows if r["agent"] == "hand_tuned"} == {"-"}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "myagent:make_agent" in report and "preliminary" in report
    provenance = (tmp_path / "out" / "provenance.json").read_text()
    assert '"budget": 12' in provenance and "asg_gym.__version__" in provenance
