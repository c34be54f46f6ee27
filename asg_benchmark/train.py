"""``asg-benchmark train``: train a learning-rate controller on an ASG env (the paper's RL-L2O policy,
Algorithm 1, by default).

    asg-benchmark train --env ASG-Digits-v0 --episodes 50 --seed 0 --out runs/policy \\
        --env-kwargs '{"total_steps": 100}' --save agents/policies/reinforce_lstm_digits.pt
    asg-benchmark train --agent ppo --episodes 20 --env-kwargs '{"backbone": "toy", "total_steps": 50}'
    asg-benchmark train --workers 4 --ray --episodes 48 --out runs/policy_k4

Training episode k is reset with seed ``--seed + k`` (REINFORCE; SB3 agents seed only their first
reset). Writes ``<out>/episodes.csv`` (one row per training episode), ``<out>/tb`` (TensorBoard:
``charts/…``, ``losses/…``, ``eval/…``), ``<out>/checkpoint.pt`` (``.zip`` for SB3 agents; atomic,
every ``--checkpoint-every`` policy updates and at the end) and ``<out>/provenance.json``; the
final policy goes to ``--save``, and its card (the training env's keywords and how training went:
return and entropy over the first and last 20 % of episodes, :mod:`agents.cards`) beside it.
``--resume`` continues from the checkpoint (a finished run: only the policy and its card are rewritten); for
``reinforce_lstm`` the episode in progress is replayed from its seed with the recorded actions, so the resumed run
ends with the very parameters of an uninterrupted one (bitwise on CPU); SB3 agents resume from their last
checkpoint with a fresh rollout.

``--workers K`` runs K envs: ``reinforce_lstm`` then learns from K episodes in lockstep (one batched
policy call per step, one update from all K every U steps; K rollout slots, each a local env, or
under ``--ray`` a Ray actor holding its env in its own process, asking for ``--cpus-per-task``);
SB3 agents get a ``SubprocVecEnv`` of K envs. K = 1 without ``--ray`` is the plain single-env run.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym

import asg_gym  # noqa: F401  (registers the ids)
from agents import LEARNING_AGENTS, StepRecord, asg_num_coordinates, load_agent, make_agent
from agents.cards import write_card
from agents.rollouts import LocalRollouts, RayRollouts, Rollouts
from agents.rollouts import episode_limit as env_episode_limit
from agents.sb3_agents import make_vec_env
from agents.training import entropy_columns
from asg_benchmark.checkpoints import summarize_training
from asg_benchmark.errors import BenchmarkError
from asg_benchmark.flags import json_object
from asg_benchmark.provenance import append_provenance
from asg_benchmark.resumable_csv import ResumableCSV
from asg_benchmark.scale_out import RayFlags, ray_session
from asg_gym.errors import MissingDependencyError

EVAL_KEYS = ("target_accuracy", "target_mean_class_accuracy", "target_miou", "old_task_agreement")
EPISODE_FIELDS = ["episode", "num_timesteps", "return", "length", "diverged", *EVAL_KEYS, "task"]
# "task": the episode's task under ASG-Mixture-v0 (empty for one env).
# + "entropy" and "entropy_<c>" (c = 0 … C-1, the env's coordinate order): the policy's entropy (nats) per
# coordinate over the episode, for agents that report it (reinforce_lstm, ppo, a2c); "entropy" is their mean.
# Uniform is ln 11 ≈ 2.40; near 0, a coordinate has collapsed onto one action.
# Settings a resumed run must share with the run it continues (``--episodes`` may grow).
RUN_KEYS = ("env", "env_kwargs", "agent", "agent_kwargs", "seed", "workers")
RUN_DEFAULTS = {"workers": 1}  # of run.json files written before the key existed


@dataclass
class Train(RayFlags):
    """Train a learning-rate controller for N episodes of an ASG env (resumable with --resume)."""

    env: str = "ASG-Digits-v0"
    """environment id"""
    env_kwargs: str = "{}"
    """extra gym.make keywords, a JSON object, e.g. '{"total_steps": 100}'"""
    agent: str = "reinforce_lstm"
    """learning agent: reinforce_lstm or an SB3 agent (agents.LEARNING_AGENTS)"""
    agent_kwargs: str = "{}"
    """agent constructor options, a JSON object, e.g. '{"gamma": 0.9}'"""
    episodes: int = 50
    """training episodes (the paper trains its policy for 50 optimizee epochs)"""
    seed: int = 0
    """agent seed; training episode k is reset with seed + k (seed + k // 2 under paired_episodes)"""
    out: str = "runs/policy"
    """run folder: checkpoint, episodes.csv, TensorBoard events, provenance"""
    save: str | None = None
    """final policy file (None: <out>/policy.pt, .zip for SB3 agents)"""
    checkpoint_every: int = 20
    """checkpoint every this many policy updates (REINFORCE) or rollouts (SB3)"""
    resume: bool = False
    """continue from <out>'s checkpoint"""
    tensorboard: bool = True
    """write TensorBoard logs to <out>/tb"""
    progress: bool = True
    """show a tqdm progress bar"""
    workers: int = 1
    """envs stepped together: REINFORCE learns from K episodes in lockstep (Ray actors under --ray), SB3 agents
    get a SubprocVecEnv of K envs"""


def agent_keywords(text: str) -> dict[str, Any]:
    """``--agent-kwargs``: the learning agent's constructor options, one JSON object."""
    return json_object(text, "--agent-kwargs", '{"gamma": 0.9}')


def tensorboard_writer(folder: Path, purge_step: int) -> Any:
    """A TensorBoard writer into ``folder``; ``purge_step`` drops events a crashed run logged after its last
    checkpoint."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise MissingDependencyError(
            "TensorBoard logging needs the 'tensorboard' package: `pip install 'asg-gym[experiments]'`, "
            "or pass --no-tensorboard"
        ) from exc
    return SummaryWriter(str(folder), purge_step=purge_step or None)


def make_env(env_id: str, env_kwargs: dict[str, Any]) -> gym.Env:
    """The training env (a seam for tests)."""
    return gym.make(env_id, **env_kwargs)


def make_training_env(args: Train, env_kwargs: dict[str, Any]) -> Any:
    """The env the agent learns on: one env; with ``--workers K`` (or ``--ray``) K rollout slots for
    REINFORCE (local envs, or Ray actors) or an SB3 vector env of K envs."""
    if args.workers == 1 and not args.use_ray:
        return make_env(args.env, env_kwargs)
    if args.agent != "reinforce_lstm":
        return make_vec_env(partial(make_env, args.env, env_kwargs), args.workers)
    if args.use_ray:
        return RayRollouts(partial(make_env, args.env, args.task_env_kwargs(env_kwargs)), args.workers,
                           num_cpus=args.cpus_per_task, num_gpus=args.gpus_per_task)
    return LocalRollouts([make_env(args.env, env_kwargs) for _ in range(args.workers)])


def episode_limit(env: Any) -> int:
    """Actions per episode: the ASG env's ``total_steps``, else the registered time limit (of one env,
    rollout slots or an SB3 vector env)."""
    if isinstance(env, Rollouts):
        limit = env.episode_limit
    elif isinstance(env, gym.Env):
        limit = env_episode_limit(env)
    else:  # an SB3 VecEnv of agents.sb3_agents.make_vec_env
        limit = env.get_attr("asg_episode_limit", indices=[0])[0]
    if not limit:
        raise BenchmarkError("the env has neither total_steps nor max_episode_steps: its episode length is unknown")
    return int(limit)


class TrainingMonitor:
    """The step callback: TensorBoard, episodes.csv, periodic checkpoints, and the stop after N episodes."""

    def __init__(self, agent: Any, args: Train, checkpoint: Path, writer: Any, table: ResumableCSV,
                 coordinates: int) -> None:
        self.agent, self.args, self.checkpoint, self.writer, self.table = agent, args, checkpoint, writer, table
        self.coordinates = coordinates

    def __call__(self, record: StepRecord) -> bool:
        step, info = record.num_timesteps, record.info
        if self.writer is not None:
            self.writer.add_scalar("charts/optimizee_loss", info["loss"], step)
            for key, value in (record.update or {}).items():
                self.writer.add_scalar(key, value, step)
            for key in EVAL_KEYS:
                if key in info:
                    self.writer.add_scalar(f"eval/{key}", info[key], step)
        if record.done:
            self._episode_end(record)
        if record.update is not None and record.num_updates % self.args.checkpoint_every == 0:
            self.agent.save(self.checkpoint)
        return not (record.done and record.num_episodes >= self.args.episodes)

    def _episode_end(self, record: StepRecord) -> None:
        info = record.info
        row = {"episode": record.num_episodes - 1, "num_timesteps": record.num_timesteps,
               "return": record.episode_return, "length": record.episode_length,
               "diverged": bool(info.get("diverged", False)), **{k: info.get(k, "") for k in EVAL_KEYS},
               "task": info.get("task", ""), **entropy_columns(record.episode_entropy, self.coordinates)}
        if not self.table.done(episode=row["episode"]):  # a resumed run may repeat an episode's end
            self.table.append(row)
        if self.writer is not None:
            self.writer.add_scalar("charts/episode_return", record.episode_return, record.num_timesteps)
            self.writer.add_scalar("charts/episode_length", record.episode_length, record.num_timesteps)
            self.writer.add_scalar("charts/diverged", float(row["diverged"]), record.num_timesteps)
            for key in (k for k in row if k.startswith("entropy") and row[k] != ""):
                self.writer.add_scalar(f"charts/episode_{key}", row[key], record.num_timesteps)
            self.writer.flush()


def main(args: Train) -> Path:
    """Train; returns the path of the final policy."""
    if args.agent not in LEARNING_AGENTS:
        raise BenchmarkError(f"--agent must be a learning agent ({', '.join(LEARNING_AGENTS)}), got {args.agent!r}")
    if args.episodes < 1 or args.checkpoint_every < 1 or args.workers < 1:
        raise BenchmarkError(f"need --episodes, --checkpoint-every and --workers >= 1, got {args.episodes}, "
                         f"{args.checkpoint_every}, {args.workers}")
    if args.use_ray and args.agent != "reinforce_lstm":
        raise BenchmarkError("--ray runs REINFORCE rollout workers; SB3 agents take --workers K alone (a "
                             "SubprocVecEnv)")
    with ray_session(args) if args.use_ray else contextlib.nullcontext():
        return train(args)


def train(args: Train) -> Path:
    """``main`` once the flags are checked (and Ray is up under ``--ray``)."""
    env_kwargs = json_object(args.env_kwargs, "--env-kwargs", '{"total_steps": 100}')
    agent_kwargs = agent_keywords(args.agent_kwargs)
    out = Path(args.out)
    suffix = ".pt" if args.agent == "reinforce_lstm" else ".zip"
    checkpoint, final = out / f"checkpoint{suffix}", Path(args.save or out / f"policy{suffix}")
    run = {"env": args.env, "env_kwargs": env_kwargs, "agent": args.agent, "agent_kwargs": agent_kwargs,
           "seed": args.seed, "workers": args.workers}
    run_file = out / "run.json"

    if checkpoint.exists() and not args.resume:
        raise BenchmarkError(f"{checkpoint} exists: pass --resume to continue it, or choose another --out")
    env = make_training_env(args, env_kwargs)
    steps_per_episode = episode_limit(env)
    coordinates = asg_num_coordinates(env.observation_space, env.action_space)
    if args.resume and checkpoint.exists():
        saved = {**RUN_DEFAULTS, **(json.loads(run_file.read_text()) if run_file.exists() else {})}
        changed = sorted(k for k in RUN_KEYS if saved.get(k) != json.loads(json.dumps(run[k])))
        if changed:
            raise BenchmarkError(f"cannot resume {checkpoint}: settings changed since it was written: {changed}")
        agent = load_agent(args.agent, checkpoint, env)
    else:
        agent = make_agent(args.agent, env, seed=args.seed, **agent_kwargs)
        out.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps(run, indent=2) + "\n")
    append_provenance(out, seed=args.seed, args=vars(args), resumed_from_timestep=agent.num_timesteps)

    # Every remaining episode takes at most steps_per_episode actions, K episodes side by side (each slot
    # ends one within steps_per_episode steps); the monitor stops at the N-th end.
    in_progress = getattr(agent, "episode_timesteps", 0)  # with K slots, the fewest
    rounds = -(-max(args.episodes - agent.num_episodes, 0) // args.workers)
    budget = max(args.workers * (rounds * steps_per_episode - in_progress), 0)
    writer = tensorboard_writer(out / "tb", agent.num_timesteps) if args.tensorboard else None
    table = ResumableCSV(out / "episodes.csv", [*EPISODE_FIELDS, *entropy_columns(None, coordinates)], ["episode"])
    try:
        agent.learn(budget, callback=TrainingMonitor(agent, args, checkpoint, writer, table, coordinates),
                    progress_bar=args.progress)
    finally:
        if writer is not None:
            writer.close()
    agent.save(checkpoint)
    path = agent.save(final)
    write_card(path, {"env": args.env, "env_kwargs": env_kwargs, "agent": args.agent, "agent_kwargs": agent_kwargs,
                      "training": {"episodes": agent.num_episodes, "timesteps": agent.num_timesteps,
                                   "seed": args.seed, "workers": args.workers, **how_it_trained(table.rows)}})
    env.close()
    print(f"trained {agent.num_episodes} episodes ({agent.num_timesteps} steps); policy in {path}")
    return path


def how_it_trained(episodes: list[dict[str, str]]) -> dict[str, float | None]:
    """Mean return and policy entropy over the first and last 20 % of the training episodes (the benchmark
    report's Training section; entropy ``None`` for agents that do not report it)."""
    summary = summarize_training({"run": [episodes]})["run"]
    values = {"return_early": summary.return_early, "return_late": summary.return_late,
              "entropy_early": summary.entropy_early, "entropy_late": summary.entropy_late}
    return {k: None if math.isnan(v) else round(v, 4) for k, v in values.items()}

