"""Trained agents kept in the benchmark folder, so a job interrupted during its evaluation does not train again.

A job trains its agent once (a protocol budget is hours of CPU), then runs tens of evaluation
episodes. After training, ``<folder>/agents/<agent>-seed<k>/`` receives ``training.json`` (budget,
the agent's keywords, env steps taken, seconds), ``episodes.csv`` (one row per training episode,
for agents whose ``learn`` reports steps: return, length, divergence and the policy's entropy per
coordinate) and, for an agent with ``save(path)`` and a class-level ``load(path, env=...)`` (SB3's
convention; every built-in learning agent has both), the agent itself. The folder is written under
a temporary name and renamed, so it is either whole or absent. A rerun of the job loads the agent
instead of training it; one trained with other keywords or another budget is refused, not reused.

Learning agents (``AgentSpec.resumable``) also keep ``<agent>-seed<k>.partial/`` while they train,
rewritten every ``checkpoint_every`` env steps: a job stopped in training, even by SIGKILL, continues
from there and ends with the agent and the ``episodes.csv`` of an uninterrupted run, bit for bit:

* ``reinforce_lstm``: its file holds its own generator, optimizer, normalizer, baselines, LSTM state,
  the unroll so far and the episode in progress, which ``learn`` replays from the episode's seed
  (episode k of training is reset with ``seed + k``) before it goes on.
* ``tuned_constant``: tunes in whole episodes (also ``seed + k``) and saves its trials; trial n is
  proposed by a sampler seeded with ``seed + n`` from the trials before it, saved or not.
* SB3 agents (``ppo``, ``a2c``, ``recurrent_ppo``): SB3's zip keeps no episode in progress (not the
  rollout buffer, not the env's state; a rollout may end mid-episode and the next one carry on), so
  they are checkpointed only where ``learn`` stopped between two episodes (``resumes_exactly``):
  then the zip also holds the process-wide generators SB3 samples from and the env generator of the
  next episode's reset (:mod:`agents.sb3_agents`). Rollouts that do not divide into whole episodes
  make such points rarer (PPO's 32-step rollouts, the protocol's 30-decision episodes and pieces of
  300 steps: every 960 steps), and a job stopped after the last of them trains again from it.

The other half of exactness is the env: an episode depends only on its seed and actions, not on the
episodes run before it in the process (the teacher cache: ``CoordinateSGD.enable_teacher_cache``),
and nothing the agents or envs train with draws from the process-wide generators (the env's reset
draws inside ``torch.random.fork_rng``) except SB3's, which are saved. "Bit for bit" holds on one
machine and build with the same number of torch threads (``torch.get_num_threads()``: the env's
convolutions sum in another order with another count; forked workers run with one, Ray's with their
tasks' ``num_cpus``).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.training import entropy_columns
from asg_benchmark import atomic, faults
from asg_benchmark.errors import AgentError

AGENTS = "agents"
TRAINING = "training.json"
EPISODES = "episodes.csv"
_SAVED_AS = "agent"  # the name given to save(); agents may add a suffix (SB3: .zip)


def savable(agent: Any) -> bool:
    """Whether ``agent`` saves itself and its class loads it back (``save(path)``, ``load(path, env=...)``)."""
    return callable(getattr(agent, "save", None)) and callable(getattr(type(agent), "load", None))


@dataclass(frozen=True)
class TrainedAgent:
    """The checkpoint folder of one agent and training seed (``None``: an unseeded agent)."""

    folder: Path

    @classmethod
    def of(cls, benchmark: Path, agent: str, train_seed: int | None) -> TrainedAgent:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", agent)  # import paths carry ':'
        return cls(Path(benchmark) / AGENTS / f"{name}-seed{'-' if train_seed is None else train_seed}")

    def partial(self) -> TrainedAgent:
        """The folder of the same agent while it trains."""
        return TrainedAgent(self.folder.with_name(self.folder.name + ".partial"))

    @property
    def _retired(self) -> Path:
        """Where the previous version waits while :meth:`save` moves the new one in."""
        return self.folder.with_name(f".{self.folder.name}.old")

    def _current(self) -> Path:
        """The folder to read. A save killed between its two moves left only the previous version, aside: it is
        moved back into place first (what the save would have left had it never begun)."""
        if not self.folder.exists() and self._retired.exists():
            with contextlib.suppress(FileNotFoundError):  # another process may have moved it back already
                os.replace(self._retired, self.folder)
        return self.folder

    def episodes(self) -> list[dict[str, str]]:
        """The training-episode rows saved with the agent (none if there are none)."""
        path = self._current() / EPISODES
        if not path.is_file():
            return []
        with path.open(newline="") as f:
            return list(csv.DictReader(f))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        shutil.rmtree(self._retired, ignore_errors=True)

    def load(self, agent: Any, env: Any, settings: Mapping[str, Any]) -> tuple[Any, dict[str, Any]] | None:
        """The trained agent and its training summary, or ``None`` when there is no checkpoint yet.

        ``agent`` is the untrained agent (its class loads the file); ``settings`` what it must have
        been trained with (budget, keywords): another value raises :class:`AgentError`.
        """
        folder = self._current()
        summary_path = folder / TRAINING
        if not summary_path.is_file() or not savable(agent):
            return None
        summary = json.loads(summary_path.read_text())
        stale = {k: (summary.get(k), v) for k, v in _jsonable(settings).items() if summary.get(k) != v}
        if stale:
            raise AgentError(f"{self.folder} was trained with other settings (saved, now): {stale}; move it "
                             "away (or use another --out) to train anew")
        saved = sorted(p for p in folder.iterdir() if p.name.startswith(_SAVED_AS))
        if not saved:
            raise AgentError(f"{folder} has {TRAINING} but no saved agent; delete the folder to train anew")
        loaded = type(agent).load(saved[0], env=env)
        # Same keywords can still mean other settings: a preset redefined since the checkpoint was taken.
        wanted, found = getattr(agent, "config", None), getattr(loaded, "config", None)
        if isinstance(wanted, dict) and isinstance(found, dict) and wanted != found:
            changed = {k: (found.get(k), wanted.get(k)) for k in sorted(set(wanted) | set(found))
                       if found.get(k) != wanted.get(k)}
            raise AgentError(f"{self.folder} holds an agent with other settings (saved, now): {changed}; a preset "
                             "may have changed since: move it away (or use another --out) to train anew")
        return loaded, summary["training"]

    def save(self, agent: Any, settings: Mapping[str, Any], training: Mapping[str, Any],
             episodes: list[dict[str, Any]] | None = None) -> None:
        """Write the settings, training summary and ``episodes`` rows, and ``agent`` if :func:`savable`, atomically."""
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        atomic.remove_orphans(self.folder, ".staging")  # of saves killed midway
        staging = atomic.staging_name(self.folder, ".staging")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            if savable(agent):
                agent.save(staging / _SAVED_AS)
            if episodes:
                with (staging / EPISODES).open("w", newline="") as f:
                    writer = csv.DictWriter(f, list(dict.fromkeys(k for row in episodes for k in row)), restval="")
                    writer.writeheader()
                    writer.writerows(episodes)
            summary = {**_jsonable(settings), "training": dict(training)}
            (staging / TRAINING).write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
            # The previous version (a partial checkpoint; or another process's copy of the same job) steps
            # aside before the new one moves in and is deleted after: some version is always readable.
            shutil.rmtree(self._retired, ignore_errors=True)
            if self.folder.exists():
                os.replace(self.folder, self._retired)
            faults.checkpoint("checkpoint")  # between the moves: only the retired version is on disk
            os.replace(staging, self.folder)
            shutil.rmtree(self._retired, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _jsonable(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` as they read back from JSON (tuples become lists), so saved and given compare equal."""
    return json.loads(json.dumps(dict(settings), sort_keys=True))


class EpisodeLog:
    """A ``learn(callback=...)`` step callback (:class:`agents.StepRecord`) that keeps a row per training episode."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def __call__(self, record: Any) -> None:
        if not record.done:
            return
        entropy = record.episode_entropy
        self.rows.append({
            "episode": record.num_episodes - 1, "num_timesteps": record.num_timesteps,
            "return": record.episode_return, "length": record.episode_length,
            "diverged": bool(record.info.get("diverged", False)),
            **entropy_columns(entropy, len(entropy or [])),
        })


@dataclass(frozen=True)
class TrainingSummary:
    """One row's training episodes (all its training seeds): return and policy entropy early and late.

    ``early``/``late`` are the means over the first and last ``fraction`` of each training run's
    episodes, averaged over runs; entropy is the mean per-coordinate entropy (nats; NaN for agents
    that do not report it).
    """

    runs: int
    episodes: int
    return_early: float
    return_late: float
    entropy_early: float
    entropy_late: float


def training_runs(benchmark: Path) -> dict[str, list[list[dict[str, str]]]]:
    """Row label → its training runs, each the rows of its ``agents/<label>-seed<k>/episodes.csv``;
    runs still training (their ``.partial`` checkpoint) as ``"<label> (still training)"``."""
    return pooled(training_runs_by_seed(benchmark))


def pooled(by_seed: dict[str, dict[str, list[dict[str, str]]]]) -> dict[str, list[list[dict[str, str]]]]:
    """:func:`training_runs_by_seed`'s runs of each row as one list, as :func:`training_runs` gives them."""
    return {label: list(seeds.values()) for label, seeds in by_seed.items()}


def training_runs_by_seed(benchmark: Path) -> dict[str, dict[str, list[dict[str, str]]]]:
    """:func:`training_runs` with each run under its training seed (``"-"``: unseeded), seeds in numeric order."""
    found: list[tuple[str, str, list[dict[str, str]]]] = []
    for folder in (Path(benchmark) / AGENTS).glob("*-seed*"):
        if folder.name.startswith("."):  # a save's staging or retired copy
            continue
        rows = TrainedAgent(folder).episodes()
        label, seed = folder.name.removesuffix(".partial").rsplit("-seed", 1)
        if rows:
            found.append((label + (" (still training)" if folder.name.endswith(".partial") else ""), seed, rows))
    runs: dict[str, dict[str, list[dict[str, str]]]] = {}
    for label, seed, rows in sorted(found, key=lambda f: (f[0], int(f[1]) if f[1].isdigit() else -1)):
        runs.setdefault(label, {})[seed] = rows
    return runs


def training_summaries(benchmark: Path, fraction: float = 0.2) -> dict[str, TrainingSummary]:
    """Row label → the summary of its saved training episodes (:func:`training_runs`)."""
    return summarize_training(training_runs(benchmark), fraction)


def summarize_training(runs: dict[str, list[list[dict[str, str]]]], fraction: float = 0.2
                       ) -> dict[str, TrainingSummary]:
    """:func:`training_summaries` of runs already read."""

    def mean(label: str, column: str, late: bool) -> float:
        means = []
        for rows in runs[label]:
            values = [float(r[column]) for r in rows if r.get(column) not in ("", None)]
            if values:
                cut = max(1, int(fraction * len(values)))
                means.append(sum(values[-cut:] if late else values[:cut]) / cut)
        return sum(means) / len(means) if means else float("nan")

    return {label: TrainingSummary(len(r), sum(len(x) for x in r), mean(label, "return", False),
                                   mean(label, "return", True), mean(label, "entropy", False),
                                   mean(label, "entropy", True)) for label, r in runs.items()}
