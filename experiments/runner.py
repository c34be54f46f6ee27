"""The one runner of the curve scripts: (setting, λ, seed) episodes into ``curves.csv``, then the report.

A curve script declares its flags as a :class:`CurveArgs` subclass (changing defaults by redeclaring
a field), its curves as :class:`Setting` rows, and calls :func:`run_curve_experiment`; every
episode that ``curves.csv`` already holds is skipped, so an interrupted run resumes. With ``--ray``
(or ``--ray-address``) the missing episodes run as Ray tasks (:mod:`experiments.scale_out`), each
building its own env; the rows are those of a sequential run. Agent factories must then be
picklable, as the ones made here are.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import tyro

import asg_gym  # noqa: F401  (registers the ids)
from agents import (
    ConstantPolicy,
    ReinforceLSTMAgent,
    decision_env_kwargs,
    deployment_env_kwargs,
    deploys_greedily,
    load_pretrained,
    make_agent,
    pretrained_path,
)
from asg_benchmark import GREEDY_SUFFIX, RayFlags, ray_session, reseed_agent, run_tasks
from experiments.common import REPO, ResumableCSV, parse_env_kwargs, run_episode, sort_new_rows, write_provenance
from experiments.curves import QUICK_ENV, SCORE_NAMES, Reference, curve_fields, write_outputs

LEARNED = "rl_l2o"  # the setting name of a frozen learned policy in the figure scripts
POLICY_LABELS = {LEARNED: "RL-L2O (learned, frozen, sampled)",
                 f"{LEARNED}{GREEDY_SUFFIX}": "RL-L2O (learned, frozen, greedy)",
                 "hand_tuned": "hand-tuned", "random": "random"}

AgentFactory = Callable[[gym.Env], Any]
OnEpisode = Callable[["Setting", int, list[str], dict[str, Any]], None]
"""``on_episode(setting, seed, coordinate_names, result)``, called for every finished episode."""
Label = Callable[[str, float], str]


@dataclass
class CurveArgs(RayFlags):
    """Flags of every curve script.

    A script's ``Args`` subclasses this, adds its own fields, and redeclares a shared one to change its default
    (``total_steps: int = 600``; the docstring is inherited). ``QUICK`` and ``QUICK_ENV`` are its smoke test.
    """

    QUICK: ClassVar[dict[str, Any]] = {"seeds": [0], "total_steps": 4, "eval_every": 2}
    """Field values of the ``--quick`` smoke test, which also writes into a temporary folder."""
    QUICK_ENV: ClassVar[dict[str, Any]] = QUICK_ENV
    """``gym.make`` keywords of the smoke test, on top of ``--env-kwargs``."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    """episode seeds (one episode per setting and seed)"""
    total_steps: int | None = None
    """SGD steps per episode"""
    eval_every: int = 100
    """evaluate on the real target images every this many SGD steps"""
    env_kwargs: str = "{}"
    """extra gym.make keywords, a JSON object, e.g. '{"image_size": 32}'"""
    out: str = str(REPO / "results")
    """output folder (episodes already in its curves.csv are not run again)"""
    quick: bool = False
    """smoke test: toy env, 4 SGD steps, one seed, into a temporary folder"""
    report_only: bool = False
    """run no episode: only rewrite the tables and plots from the rows already in curves.csv"""
    greedy: bool = False
    """learned policies take their greedy action (rows named <setting>/greedy) instead of sampling it, as
    they were trained; a policy whose card says "deployment": "greedy" takes it without this flag"""

    def gym_kwargs(self) -> dict[str, Any]:
        """``--env-kwargs`` as a dict; under ``--quick`` with the toy configuration on top."""
        kwargs = parse_env_kwargs(self.env_kwargs)
        return {**kwargs, **self.QUICK_ENV} if self.quick else kwargs


A = TypeVar("A", bound=CurveArgs)


def parse_curve_args(cls: type[A], argv: list[str] | None = None) -> A:
    """The script's flags (``--help`` from the field docstrings), with ``cls.QUICK`` applied under ``--quick``."""
    args = tyro.cli(cls, args=argv)
    if args.quick:  # never mix smoke rows into real results
        out = tempfile.mkdtemp(prefix=f"asg_{Path(args.out).name}_")
        args = dataclasses.replace(args, **copy.deepcopy(cls.QUICK), out=out)
    args.gym_kwargs()  # a malformed --env-kwargs stops the script before it writes anything
    return args


@dataclass
class Setting:
    """One curve: ``name`` and ``lam`` (with the seed, the key of its CSV rows), the agent that acts,
    ``gym.make`` keywords of its own (e.g. a regulariser, a learned policy's decision window), and
    whether its actions are sampled from a stochastic policy (``predict(deterministic=False)``)."""

    name: str
    lam: float
    agent: AgentFactory
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    sampled: bool = False


# Agent factories are small classes rather than closures, so that Ray can ship them to its workers.
@dataclass(frozen=True)
class ConstantAgent:
    """The constant-policy preset (``agents.ConstantPolicy``), whatever the env."""

    preset: str

    def __call__(self, env: gym.Env) -> ConstantPolicy:
        return ConstantPolicy(self.preset)


@dataclass(frozen=True)
class NamedAgent:
    """``agents.make_agent(name, env, seed=0)``."""

    name: str

    def __call__(self, env: gym.Env) -> Any:
        return make_agent(self.name, env, seed=0)


@dataclass(frozen=True)
class SavedPolicy:
    """The ReinforceLSTMAgent saved at ``path`` (None: the one shipped for ``env_id``), loaded for every
    episode; ``untrained``: a fresh one instead (smoke tests)."""

    path: str | None
    env_id: str
    untrained: bool = False

    def __call__(self, env: gym.Env) -> ReinforceLSTMAgent:
        if self.untrained:
            return ReinforceLSTMAgent(env, seed=0)
        return ReinforceLSTMAgent.load(self.path) if self.path else load_pretrained(self.env_id)

    def source(self) -> Path | None:
        """Where the policy lives, its card beside it (:mod:`agents.cards`); None for an untrained one."""
        return None if self.untrained else Path(self.path) if self.path else pretrained_path(self.env_id)

    def decision_env_kwargs(self) -> dict[str, Any]:
        """The decision window and update rule the policy was trained with (from its card)."""
        source = self.source()
        return decision_env_kwargs(deployment_env_kwargs(source)) if source else {}

    def deploys_greedily(self) -> bool:
        """Whether the policy's card says to take its greedy action."""
        source = self.source()
        return source is not None and deploys_greedily(source)


def constant(preset: str) -> AgentFactory:
    """The constant-policy preset (``agents.ConstantPolicy``), whatever the env."""
    return ConstantAgent(preset)


def named(agent: str) -> AgentFactory:
    """``agents.make_agent(agent, env, seed=0)``."""
    return NamedAgent(agent)


def frozen_policy(path: str | None, env_id: str, untrained: bool = False) -> SavedPolicy:
    """The ReinforceLSTMAgent saved at ``path`` (None: the one shipped for ``env_id``), loaded for every
    episode; ``untrained``: a fresh one instead (smoke tests)."""
    return SavedPolicy(path, env_id, untrained)


def learned_setting(name: str, lam: float, policy: SavedPolicy, args: CurveArgs,
                    env_kwargs: dict[str, Any] | None = None) -> Setting:
    """The curve of a frozen learned ``policy``, deployed as it was trained: on its decision window and
    update rule, its actions sampled (``--greedy``, or a card that says so: its greedy actions, in rows named
    ``<name>/greedy``)."""
    greedy = args.greedy or policy.deploys_greedily()
    return Setting(f"{name}{GREEDY_SUFFIX}" if greedy else name, lam, policy,
                   {**policy.decision_env_kwargs(), **(env_kwargs or {})}, sampled=not greedy)


def actions_path(out: Path, setting: str) -> Path:
    """Where :func:`action_recorder` writes ``setting``'s actions in folder ``out``: ``actions.csv``, and
    ``actions_greedy.csv`` for its greedy row (a folder may hold both; Fig. 8 reads one policy per file)."""
    return out / ("actions_greedy.csv" if setting.endswith(GREEDY_SUFFIX) else "actions.csv")


def action_recorder(out: Path, setting: str) -> OnEpisode:
    """An ``on_episode`` hook that appends the actions of ``setting``'s episodes to
    :func:`actions_path` ``(out, setting)``.

    One row per step: ``seed, step, <one action index per coordinate>`` (Fig. 8 reads it).
    """
    path = actions_path(out, setting)

    def record(run: Setting, seed: int, coordinate_names: list[str], result: dict[str, Any]) -> None:
        if run.name != setting:
            return
        new = not path.exists()
        with path.open("a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(["seed", "step", *coordinate_names])
            for step, action in enumerate(result["actions"], start=1):
                writer.writerow([seed, step, *[int(a) for a in action]])

    return record


def env_keywords(args: CurveArgs, setting: Setting) -> dict[str, Any]:
    """``gym.make`` keywords of ``setting``'s episodes; a keyword set twice to different values stops the
    script (no silent winner).

    ``--total-steps`` and ``--eval-every`` count SGD steps; the env counts actions, so for a setting that
    decides every k SGD steps (``sgd_steps_per_action``, its own or from ``--env-kwargs``) they are
    divided by k: every curve of a figure spans the same SGD steps.
    """
    extra = args.gym_kwargs()
    if clash := sorted(k for k in setting.env_kwargs.keys() & extra.keys() if setting.env_kwargs[k] != extra[k]):
        raise SystemExit(f"--env-kwargs sets {clash}, which {setting.name!r} sets otherwise: "
                         f"{ {k: setting.env_kwargs[k] for k in clash} }")
    window = int({**extra, **setting.env_kwargs}.get("sgd_steps_per_action", 1))
    own = {"lam": setting.lam, "eval_every": sgd_steps_to_actions(args.eval_every, window, "--eval-every")}
    if args.total_steps is not None:  # None: the env's default episode length
        own["total_steps"] = sgd_steps_to_actions(args.total_steps, window, "--total-steps")
    elif window > 1:
        raise SystemExit(f"{setting.name!r} decides every {window} SGD steps: give --total-steps (SGD steps, "
                         "a multiple of it) so that its episodes are as long as the others'")
    if clash := sorted(own.keys() & extra.keys()):
        raise SystemExit(f"--env-kwargs sets {clash}, which the script sets itself for {setting.name!r}: "
                         "use the script's flags instead")
    return {**own, **setting.env_kwargs, **extra}


def sgd_steps_to_actions(sgd_steps: int, window: int, flag: str) -> int:
    """``sgd_steps`` (a count given by ``flag``) as a number of decisions of ``window`` SGD steps."""
    if sgd_steps % window:
        raise SystemExit(f"{flag} {sgd_steps} is not a whole number of decisions of {window} SGD steps: "
                         "choose a multiple of it")
    return sgd_steps // window


def run_curve_experiment(
    args: CurveArgs,
    env_id: str,
    settings: Sequence[Setting],
    *,
    label: Label,
    title: str,
    reference: Reference | None = None,
    sort_key: Callable[[dict[str, Any]], Any] | None = None,
    metric: str = "target_accuracy",
    on_episode: OnEpisode | None = None,
    prefill: Callable[[ResumableCSV], None] | None = None,
    against: Sequence[tuple[str, float]] = (),
) -> Path:
    """One episode per setting and seed of ``args.seeds`` (seeds innermost) that ``<out>/curves.csv`` lacks, then
    ``table.md``, ``mean_curves.md`` and ``curves.png`` from all its rows; returns the output folder.

    ``label(setting, lam)`` names a curve; ``reference(setting, lam)`` the curve it is compared with, paired
    by seed; ``metric`` is the env's ``target_metric`` (the CSV's score column). ``prefill(table)`` may add
    rows first (e.g. copied from another script's episodes); ``--report-only`` only rewrites the report;
    ``on_episode(setting, seed, coordinate_names, result)`` sees every finished episode (on Ray: in the
    order they finish); ``against`` names curves every curve is also compared with in ``table.md``.
    """
    grid = [(setting, env_keywords(args, setting)) for setting in settings]  # all checked before any work
    out = Path(args.out)
    write_provenance(out, seeds=args.seeds, args=vars(args))
    table = ResumableCSV(out / "curves.csv", curve_fields(metric), ["setting", "lam", "seed"])
    if prefill is not None:
        prefill(table)
    if args.use_ray and not args.report_only:
        run_on_ray(args, table, env_id, grid, on_episode)
    elif not args.report_only:
        for setting, kwargs in grid:
            for seed in args.seeds:
                if not table.done(setting=setting.name, lam=setting.lam, seed=seed):
                    run_one(table, setting, seed, gym.make(env_id, **kwargs), on_episode)
    write_outputs(out, label, title, sort_key=sort_key, reference=reference, against=against)
    return out


def acting_agent(setting: Setting, env: gym.Env, seed: int) -> Any:
    """``setting``'s agent for the episode of ``seed``; a sampled one draws its actions from generators seeded
    by the episode seed (as the benchmark does), so episodes are reproducible and independent."""
    agent = setting.agent(env)
    if setting.sampled:
        reseed_agent(agent, seed)
    return agent


def run_one(table: ResumableCSV, setting: Setting, seed: int, env: gym.Env, on_episode: OnEpisode | None) -> None:
    """One episode on ``env`` (then closed): a row per evaluation, and a line on stdout."""
    result = run_episode(env, acting_agent(setting, env, seed), seed, deterministic=not setting.sampled)
    env.close()
    record_episode(table, setting, seed, list(getattr(env.unwrapped, "coordinate_names", [])), result, on_episode)


def play_cell(env_id: str, kwargs: dict[str, Any], setting: Setting, seed: int) -> tuple[dict[str, Any], list[str]]:
    """A Ray task: one episode on a new env; its result and the env's coordinate names."""
    env = gym.make(env_id, **kwargs)
    result = run_episode(env, acting_agent(setting, env, seed), seed, deterministic=not setting.sampled)
    env.close()
    return result, list(getattr(env.unwrapped, "coordinate_names", []))


def run_on_ray(args: CurveArgs, table: ResumableCSV, env_id: str, grid: list[tuple[Setting, dict[str, Any]]],
               on_episode: OnEpisode | None) -> None:
    """The episodes ``table`` lacks as Ray tasks; rows appended as they finish, then put in the sequential order."""
    cells = [(setting, kwargs, seed) for setting, kwargs in grid for seed in args.seeds
             if not table.done(setting=setting.name, lam=setting.lam, seed=seed)]
    if not cells:
        return
    first_new = len(table.rows)
    position = {table.key({"setting": s.name, "lam": s.lam, "seed": seed}): i for i, (s, _, seed) in enumerate(cells)}
    with ray_session(args):
        calls = [(env_id, args.task_env_kwargs(kwargs), setting, seed) for setting, kwargs, seed in cells]
        for index, (result, coordinate_names) in run_tasks(play_cell, calls, args):
            setting, _, seed = cells[index]
            record_episode(table, setting, seed, coordinate_names, result, on_episode)
    sort_new_rows(table, first_new, lambda row: position[table.key(row)])


def record_episode(table: ResumableCSV, setting: Setting, seed: int, coordinate_names: list[str],
                   result: dict[str, Any], on_episode: OnEpisode | None) -> None:
    """A finished episode's rows (one per evaluation), its hook, and a line on stdout."""
    if on_episode is not None:
        on_episode(setting, seed, coordinate_names, result)
    metric = table.fields[4]
    for step, score, agreement in result["curve"]:
        table.append({"setting": setting.name, "lam": setting.lam, "seed": seed, "sgd_step": step,
                      metric: score, "old_task_agreement": agreement,
                      "diverged": result["diverged"], "seconds": round(result["seconds"], 1)})
    print(f"{setting.name} λ={setting.lam} seed={seed}: {SCORE_NAMES.get(metric, metric)} "
          f"{result['target_score']:.3f}, old-task agreement {result['old_task_agreement']:.3f}, "
          f"{result['seconds']:.0f} s", flush=True)
