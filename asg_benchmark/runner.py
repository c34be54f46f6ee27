"""The protocol runner: for each agent and training seed, train for the budget, freeze, evaluate every cell.

Work comes in *jobs*, one per (agent, training seed): a job builds the agent, trains it (if it
learns) on a :class:`~asg_benchmark.training_env.TrainingEnv`, then runs its pending evaluation
cells. :func:`~asg_benchmark.plan.plan_jobs` lists the jobs whose cells are not all in the results yet,
:class:`JobRunner` runs one (picklable: a Ray task or any process pool can run it), and
:func:`run_benchmark` ties them to a folder; ``map_jobs`` replaces its in-process loop.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

from asg_benchmark.checkpoints import AGENTS, EpisodeLog, TrainedAgent
from asg_benchmark.episode import EpisodeResult, run_episode
from asg_benchmark.errors import AgentError, BenchmarkError
from asg_benchmark.plan import EvalCell, Job, plan_jobs
from asg_benchmark.protocol import BenchmarkSpec
from asg_benchmark.provenance import machine, provenance
from asg_benchmark.registry import AgentSpec, build_agent, learns
from asg_benchmark.reuse import reuse_cells
from asg_benchmark.seeds import reseed_agent, run_seed, seed_everything
from asg_benchmark.store import ResultsStore
from asg_benchmark.training_env import TrainingEnv

CHECKPOINT_EVERY = 300  # env steps between training checkpoints: 10 protocol episodes, ~7 min on 2 CPU cores


@dataclass
class Record:
    """A finished cell: its CSV row and its episode record (curve, actions) for ``episodes.jsonl``."""

    row: dict[str, Any]
    episode: dict[str, Any]


class Envs:
    """The evaluation env and the base of every training env, built on first use and reused.

    Reuse is safe: every episode starts from ``reset(seed=…)``, which restores the pretrained
    weights and draws head, optimizer and data order from the seed.
    """

    def __init__(self, spec: BenchmarkSpec) -> None:
        self.spec = spec
        self._eval: gym.Env | None = None
        self._train: gym.Env | None = None

    @property
    def eval(self) -> gym.Env:
        if self._eval is None:
            self._eval = _make(self.spec.env, self.spec.eval_env_kwargs())
        return self._eval

    @property
    def train(self) -> gym.Env:
        if self._train is None:
            self._train = _make(self.spec.env, self.spec.train_env_kwargs())
        return self._train

    def close(self) -> None:
        for env in (self._eval, self._train):
            if env is not None:
                env.close()
        self._eval = self._train = None


def _make(env_id: str, kwargs: dict[str, Any]) -> gym.Env:
    import asg_gym  # noqa: F401  (registers the ids)

    try:
        return gym.make(env_id, **kwargs)
    except (TypeError, ValueError, gym.error.Error) as exc:  # an unknown id or keyword, a bad value
        raise BenchmarkError(f"cannot make {env_id} with keywords {kwargs}: {exc}") from exc


def episode_settings(env: gym.Env) -> dict[str, Any]:
    """The episode length (actions), decision window (SGD steps per action: the first window when windows grow)
    and score key of ``env``, from its public attributes (an env without them: one SGD step per action)."""
    unwrapped = env.unwrapped
    length = getattr(unwrapped, "total_steps", None)
    if length is None and env.spec is not None:
        length = env.spec.max_episode_steps
    windows = getattr(unwrapped, "windows", None) or [1]
    return {"episode_length": length, "decision_window": int(windows[0]),
            "target_metric": getattr(unwrapped, "target_metric", "target_accuracy")}


def say(line: str) -> None:
    """The default log: a line on stdout (a module-level function, so a runner pickles for Ray)."""
    print(line, flush=True)


class JobRunner:
    """Runs jobs of one benchmark; ``on_record`` (if given) sees each cell as soon as it finishes.

    With ``checkpoints`` (the benchmark folder), a trained agent is saved there before its
    evaluation and loaded instead of trained when its job runs again; an agent that resumes
    exactly is also saved every ``checkpoint_every`` env steps while it trains
    (:mod:`asg_benchmark.checkpoints`).
    """

    def __init__(self, spec: BenchmarkSpec, agents: dict[str, AgentSpec],
                 on_record: Callable[[Record], None] | None = None, log: Callable[[str], None] | None = say,
                 checkpoints: Path | None = None, checkpoint_every: int = CHECKPOINT_EVERY) -> None:
        self.spec, self.agents, self.on_record, self.log = spec, agents, on_record, log
        self.checkpoints, self.checkpoint_every = checkpoints, checkpoint_every
        self.envs = Envs(spec)

    def __getstate__(self) -> dict[str, Any]:  # a copy sent to another process builds its own envs
        return {"spec": self.spec, "agents": self.agents, "on_record": None, "log": self.log,
                "checkpoints": self.checkpoints, "checkpoint_every": self.checkpoint_every}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.envs = Envs(self.spec)

    def __call__(self, job: Job) -> list[Record]:
        spec, agent_spec = self.spec, self.agents[job.agent]
        seed = 0 if job.train_seed is None else job.train_seed
        seed_everything(run_seed(seed))
        train_env = TrainingEnv(self.envs.train)
        agent, training = self._trained(job, build_agent(agent_spec, train_env, seed, **self._kwargs(job)), train_env)
        settings = {**episode_settings(self.envs.eval), "machine": machine()}  # where this job runs (a Ray worker)
        records = []
        for cell in job.cells:
            reseed_agent(agent, run_seed(seed, cell.cell.eval_seed, cell.cell.draw, int(cell.deterministic)))
            result = run_episode(self.envs.eval, agent, cell.cell.eval_seed, deterministic=cell.deterministic)
            record = _record(spec, agent_spec, cell, result, training, settings)
            if self.on_record is not None:
                self.on_record(record)
            if self.log is not None:
                self.log(f"{cell.cell.label} train_seed={cell.cell.key()[1]} eval_seed={cell.cell.eval_seed} "
                         f"draw={cell.cell.draw}: {result.target_metric}={result.target_score:.4f} "
                         f"old_task_agreement={result.old_task_agreement:.4f} return={result.episode_return:.4f}")
            records.append(record)
        return records

    def _kwargs(self, job: Job) -> dict[str, Any]:
        return dict(self.spec.agent_kwargs.get(self.agents[job.agent].name, {}))

    def _trained(self, job: Job, agent: Any, train_env: TrainingEnv) -> tuple[Any, dict[str, Any]]:
        """``agent`` after its budget of training (or loaded from its checkpoint) and the training summary."""
        if not learns(agent):
            return agent, _training(0, 0.0)
        agent_spec = self.agents[job.agent]
        checkpoint = None if self.checkpoints is None else TrainedAgent.of(self.checkpoints, agent_spec.name,
                                                                           job.train_seed)
        settings = {"budget": self.spec.budget, "agent_kwargs": self._kwargs(job)}
        if checkpoint is not None:
            restored = checkpoint.load(agent, train_env, settings)
            if restored is not None:
                self._say(f"{checkpoint.folder.name}: trained agent loaded from {checkpoint.folder}")
                return restored
        log = EpisodeLog() if agent_spec.reports_steps else None
        partial = checkpoint.partial() if checkpoint is not None and agent_spec.resumable else None
        if partial is None:
            started = time.perf_counter()
            _learn(agent, self.spec.budget, log)
            if train_env.num_steps == 0:
                raise AgentError(f"agent {job.agent!r} has learn() but took no step of its training env")
            training = _training(train_env.num_steps, time.perf_counter() - started)
        else:
            agent, training = self._train_resumably(agent, train_env, partial, settings, log)
        if checkpoint is not None:
            checkpoint.save(agent, settings, training, None if log is None else log.rows)
            if partial is not None:
                partial.remove()
        return agent, training

    def _train_resumably(self, agent: Any, train_env: TrainingEnv, partial: TrainedAgent,
                         settings: dict[str, Any], log: EpisodeLog | None) -> tuple[Any, dict[str, Any]]:
        """Train in pieces of ``checkpoint_every`` env steps, saving to ``partial`` between them where a resume
        from the save would be exact (an agent's ``resumes_exactly``, if it has one: SB3 agents between episodes)."""
        seconds = 0.0
        resumed = partial.load(agent, train_env, settings)
        if resumed is not None:
            agent, so_far = resumed
            seconds = float(so_far["train_seconds"])
            if log is not None:
                log.rows = [dict(row) for row in partial.episodes()]
            self._say(f"{partial.folder.name}: training resumed at env step {agent.num_timesteps}")
        while _granted(agent) < self.spec.budget:
            started = time.perf_counter()
            _learn(agent, min(self.checkpoint_every, self.spec.budget - _granted(agent)), log)
            seconds += time.perf_counter() - started
            if (granted := _granted(agent)) < self.spec.budget and getattr(agent, "resumes_exactly", True):
                partial.save(agent, settings, _training(agent.num_timesteps, seconds),
                             None if log is None else log.rows)
                self._say(f"{partial.folder.name}: {granted}/{self.spec.budget} training env steps, checkpointed")
        return agent, _training(agent.num_timesteps, seconds)

    def _say(self, line: str) -> None:
        if self.log is not None:
            self.log(line)


def _training(env_steps: int, seconds: float) -> dict[str, Any]:
    """The training summary a row and a checkpoint record."""
    return {"train_env_steps": int(env_steps), "train_seconds": round(seconds, 3)}


def _granted(agent: Any) -> int:
    """The env steps given to ``agent.learn`` so far: its ``num_timesteps``, or ``granted_timesteps`` for an
    agent that learns in whole episodes (``tuned_constant``). SB3 agents learn in whole rollouts, so their
    ``num_timesteps`` may run ahead of the steps asked for; the next piece asks for fewer."""
    return int(getattr(agent, "granted_timesteps", agent.num_timesteps))


def _learn(agent: Any, steps: int, log: EpisodeLog | None) -> None:
    """``agent.learn(steps)``, with the episode log as its step callback when it takes one."""
    if log is None:
        agent.learn(steps)
    else:
        agent.learn(steps, callback=log)


def _record(spec: BenchmarkSpec, agent: AgentSpec, cell: EvalCell, result: EpisodeResult,
            training: dict[str, Any], settings: dict[str, Any]) -> Record:
    label, train_seed, eval_seed, draw = cell.cell.key()
    row = {"agent": label, "train_seed": train_seed, "eval_seed": eval_seed, "draw": draw,
           "deterministic": cell.deterministic, "hand_designed": agent.hand_designed, "env": spec.env,
           "episode_length": settings["episode_length"], "decision_window": settings["decision_window"],
           "budget": spec.budget, **training, "target_metric": result.target_metric,
           "target_score": result.target_score, "old_task_agreement": result.old_task_agreement,
           "episode_return": result.episode_return, "final_loss": result.final_loss, "diverged": result.diverged,
           "steps": result.steps, "eval_seconds": round(result.seconds, 3), "machine": settings["machine"]}
    episode = {"agent": label, "train_seed": train_seed, "eval_seed": int(eval_seed), "draw": int(draw),
               "scores": result.scores, "curve": result.curve, "actions": result.actions}
    return Record(row, episode)


MapJobs = Callable[[JobRunner, Sequence[Job]], Iterable[list[Record]]]
"""Runs ``runner(job)`` for every job (anywhere) and yields each job's records as it finishes."""


def _in_process(runner: JobRunner, jobs: Sequence[Job]) -> Iterable[list[Record]]:
    for job in jobs:
        yield runner(job)


@dataclass
class RunSummary:
    """What :func:`run_benchmark` did: the folder, the jobs run and the cells written."""

    out: Path
    jobs: list[Job] = field(default_factory=list)
    cells_written: int = 0


def run_benchmark(spec: BenchmarkSpec, out: str | Path, *, map_jobs: MapJobs | None = None,
                  log: Callable[[str], None] | None = say, report: bool = True,
                  checkpoint_every: int = CHECKPOINT_EVERY, reuse: Sequence[str | Path] = (),
                  storage: str | None = None) -> RunSummary:
    """Run ``spec`` into folder ``out`` (resumable), then write the report (:func:`asg_benchmark.write_report`).

    ``map_jobs`` runs the jobs elsewhere (e.g. as Ray tasks: it gets a picklable
    :class:`JobRunner` and the jobs, and yields each job's records); the default runs them here,
    committing each row to the results store (``storage``, default ``out/results.db``;
    :mod:`asg_benchmark.store`) as its episode finishes. Agents that resume exactly are checkpointed every
    ``checkpoint_every`` env steps of their training. Cells that the folders ``reuse`` ran on this
    machine under the same protocol and agents are copied, not run (:mod:`asg_benchmark.reuse`).
    """
    agents = spec.resolve()
    out = Path(out)
    runner = JobRunner(spec, agents, log=log, checkpoints=out, checkpoint_every=checkpoint_every)
    settings = episode_settings(runner.envs.eval)  # a bad env id or keyword fails here, before anything is written
    new_folder = not out.exists()
    store = ResultsStore(out, storage)
    try:
        summary = _run(spec, agents, runner, store, settings, map_jobs, log, reuse)
    except BaseException:
        if new_folder and not store.rows() and not (out / AGENTS).exists():
            shutil.rmtree(out, ignore_errors=True)  # nothing of value was made: leave no empty folder behind
        raise
    finally:
        runner.envs.close()
    if report:
        from asg_benchmark.report import write_report

        write_report(out, storage=storage)
    return summary


def _run(spec: BenchmarkSpec, agents: dict[str, AgentSpec], runner: JobRunner, store: ResultsStore,
         settings: dict[str, Any], map_jobs: MapJobs | None, log: Callable[[str], None] | None,
         reuse: Sequence[str | Path]) -> RunSummary:
    """:func:`run_benchmark` once its store is open: lock the protocol, plan, reuse, run, commit every row."""
    store.lock_protocol({"env": spec.env, "env_kwargs": spec.eval_env_kwargs(),
                         "train_env_kwargs": spec.train_env_kwargs(), "budget": spec.budget, "draws": spec.draws,
                         **settings, **({"smoke": True} if spec.smoke else {})})
    jobs = plan_jobs(spec, agents, store)
    if reuse:
        here = machine()
        for source in reuse:
            copied = reuse_cells(Path(source), store, jobs, agents, spec.agent_kwargs, here)
            if log is not None:
                log(f"{copied} cells copied from {source} (the same machine, protocol and agents)")
            jobs = plan_jobs(spec, agents, store)
    store.add_run(provenance(spec={**spec.__dict__, "env_kwargs": dict(spec.env_kwargs),
                                   "agent_kwargs": {k: dict(v) for k, v in spec.agent_kwargs.items()}},
                             eval_env_kwargs=spec.eval_env_kwargs(), train_env_kwargs=spec.train_env_kwargs(),
                             **settings, reused_from=[str(f) for f in reuse], pending_jobs=len(jobs),
                             pending_cells=sum(len(j.cells) for j in jobs)))
    store.export_results()  # a damaged or deleted export is whole again before the first episode
    summary = RunSummary(store.folder, jobs)
    if map_jobs is None:
        runner.on_record = _appender(store)
    for records in (map_jobs or _in_process)(runner, jobs):
        if map_jobs is not None:
            for record in records:
                store.append(record.row, record.episode)
        summary.cells_written += len(records)
    return summary


def _appender(store: ResultsStore) -> Callable[[Record], None]:
    def append(record: Record) -> None:
        store.append(record.row, record.episode)

    return append
