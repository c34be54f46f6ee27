"""Which agents the benchmark can run: the built-in names, registered factories and import paths.

An agent is made by a *factory* called as ``factory(env, seed=..., **agent_kwargs)``; it returns an
object with an SB3-shaped ``predict(obs, state=None, episode_start=None, deterministic=False) ->
(action, state)`` and, if it learns, ``learn(total_timesteps)``. Three ways to name one:

* a built-in name (everything :func:`agents.make_agent` knows, schedules and ``tuned_constant``
  included);
* a name given to :func:`register_agent` in this process;
* an import path ``"package.module:factory"`` of any importable callable (e.g. a user's
  installed package), resolved here with a clear error when the module, the attribute or the
  ``predict`` method is missing.

``"label=agent"`` names a variant of any of them: its rows, ``--agent-kwargs`` entry and saved
agent go by ``label`` (``paper=reinforce_lstm stabilized=reinforce_lstm`` with
``{"stabilized": {"preset": "stabilized"}}`` benchmarks two settings of one algorithm side by side).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import agents
from agents.baselines import PRESETS
from agents.schedules import SCHEDULE_AGENTS
from asg_benchmark.errors import AgentError

AgentFactory = Callable[..., Any]
GREEDY_SUFFIX = "/greedy"  # the label of an agent's greedy (deterministic=True) rows


@dataclass(frozen=True)
class AgentSpec:
    """How the benchmark treats one agent.

    Attributes:
        name: the name the rows are labelled with (greedy rows add ``/greedy``).
        factory: ``factory(env, seed=..., **agent_kwargs)`` → an agent.
        stochastic: its actions are samples: evaluated with ``deterministic=False`` and several
            draws per evaluation seed (one draw otherwise).
        greedy: also evaluated with ``deterministic=True``, as its own row ``<name>/greedy``.
        seeded: its behaviour depends on its seed; an unseeded agent (a fixed schedule) runs once
            per evaluation seed instead of once per training seed and evaluation seed.
        hand_designed: a hand-designed schedule, a candidate for "best hand-designed schedule".
        reports_steps: its ``learn`` takes ``callback=`` an :data:`agents.StepCallback` (the
            built-in learning agents): its training episodes are kept beside the trained agent.
        resumable: successive ``learn(n)`` calls train as one, ``num_timesteps`` counts its env
            steps, and ``save``/``load`` mid-training continue its training: the benchmark
            checkpoints it while it trains. Every built-in learning agent resumes exactly (a stopped
            job ends with the agent of an uninterrupted one, on the same machine, build and thread
            count): ``reinforce_lstm`` from any step, ``tuned_constant``, and the SB3 agents on one
            env from checkpoints taken at episode ends (:mod:`asg_benchmark.checkpoints`).
    """

    name: str
    factory: AgentFactory
    stochastic: bool = True
    greedy: bool = True
    seeded: bool = True
    hand_designed: bool = False
    reports_steps: bool = False
    resumable: bool = False


_REGISTERED: dict[str, AgentSpec] = {}
_LEARNED = ("reinforce_lstm", "ppo", "a2c", "recurrent_ppo")  # stochastic policies with a greedy mode


def builtin_spec(name: str) -> AgentSpec:
    """The spec of built-in agent ``name`` (one of :data:`agents.AGENT_NAMES`)."""
    if name not in agents.AGENT_NAMES:
        raise AgentError(f"{name!r} is not a built-in agent; built-in: {', '.join(agents.AGENT_NAMES)}")
    fixed = name in PRESETS or name in SCHEDULE_AGENTS
    # A frozen saved policy is deployed as its card says, once per evaluation seed, with no training.
    return AgentSpec(name, functools.partial(agents.make_agent, name),
                     stochastic=name in _LEARNED or name in ("random", "random_init"),
                     greedy=name in _LEARNED, seeded=not fixed and name != "pretrained", hand_designed=fixed,
                     reports_steps=name in agents.LEARNING_AGENTS or name == "tuned_constant",
                     resumable=name in agents.LEARNING_AGENTS or name == "tuned_constant")


def register_agent(name: str, factory: AgentFactory, *, stochastic: bool = True, greedy: bool = True,
                   seeded: bool = True, hand_designed: bool = False, replace: bool = False) -> AgentSpec:
    """Make ``name`` resolve to ``factory`` (see :class:`AgentSpec` for the flags); returns its spec.

    Built-in names cannot be taken; a registered name only with ``replace=True``.
    """
    _check_name(name)
    if name in agents.AGENT_NAMES:
        raise AgentError(f"{name!r} is a built-in agent; register yours under another name")
    if name in _REGISTERED and not replace:
        raise AgentError(f"agent {name!r} is already registered; pass replace=True to replace it")
    if not callable(factory):
        raise AgentError(f"the factory of agent {name!r} must be callable, got {factory!r}")
    spec = AgentSpec(name, factory, stochastic=stochastic, greedy=greedy, seeded=seeded,
                     hand_designed=hand_designed)
    _REGISTERED[name] = spec
    return spec


def unregister_agent(name: str) -> None:
    """Forget a registered agent (tests, notebooks)."""
    _REGISTERED.pop(name, None)


def split_label(name: str) -> tuple[str, str]:
    """``(label, agent)`` of ``"label=agent"``; ``(name, name)`` for a name without a label."""
    label, labelled, agent = name.partition("=")
    return (label, agent) if labelled else (name, name)


def resolve_agent(name: str) -> AgentSpec:
    """The spec of a built-in name, a registered name or a ``"package.module:factory"`` import path,
    or of ``"label=agent"``: ``agent``'s spec named ``label``."""
    label, agent = split_label(name)
    if label != agent:
        _check_name(label)
        if label in agents.AGENT_NAMES or label in _REGISTERED:
            raise AgentError(f"label {label!r} in {name!r} is the name of an agent; choose another label")
        if not agent or "=" in agent:
            raise AgentError(f"a labelled agent reads 'label=agent', got {name!r}")
        return dataclasses.replace(resolve_agent(agent), name=label)
    if name in agents.AGENT_NAMES:
        return builtin_spec(name)
    if name in _REGISTERED:
        return _REGISTERED[name]
    if ":" in name:
        factory = import_factory(name)
        return AgentSpec(name, factory, **declared(factory))
    raise AgentError(f"unknown agent {name!r}: not built-in ({', '.join(agents.AGENT_NAMES)}), not registered "
                     f"with asg_benchmark.register_agent, and not an import path 'package.module:factory'")


DECLARATION = "asg_benchmark_agent"  # the factory attribute that :func:`declare_agent` sets


def declare_agent(*, stochastic: bool = True, greedy: bool = True, seeded: bool = True,
                  hand_designed: bool = False) -> Callable[[AgentFactory], AgentFactory]:
    """Decorate a factory named by import path with how the benchmark treats its agent (:class:`AgentSpec`).

    Without it an import-path agent counts as stochastic, with a greedy row and seeded: three sampled draws
    and a greedy episode per evaluation seed. A deterministic schedule says so and runs once per seed::

        @declare_agent(stochastic=False, greedy=False, seeded=False)
        def make_agent(env, seed=None): ...
    """
    flags = {"stochastic": stochastic, "greedy": greedy, "seeded": seeded, "hand_designed": hand_designed}

    def mark(factory: AgentFactory) -> AgentFactory:
        setattr(factory, DECLARATION, flags)
        return factory

    return mark


def declared(factory: AgentFactory) -> dict[str, bool]:
    """The flags :func:`declare_agent` gave ``factory`` (none: the defaults)."""
    flags = getattr(factory, DECLARATION, {})
    if not isinstance(flags, dict) or set(flags) - {"stochastic", "greedy", "seeded", "hand_designed"}:
        raise AgentError(f"{factory!r} has a malformed {DECLARATION} attribute {flags!r}; set it with "
                         "asg_benchmark.declare_agent(...)")
    return {k: bool(v) for k, v in flags.items()}


def import_factory(path: str) -> AgentFactory:
    """The callable at ``"package.module:attribute"`` (dots after the colon reach into the module)."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise AgentError(f"an agent import path reads 'package.module:factory', got {path!r}")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise AgentError(f"cannot import module {module_name!r} for agent {path!r}: {exc}. Is its package "
                         f"installed in this Python ({_python()}) or on PYTHONPATH?") from exc
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise AgentError(f"module {module_name!r} has no attribute {attribute!r} (agent {path!r})")
        target = getattr(target, part)
    if not callable(target):
        raise AgentError(f"{path!r} is {type(target).__name__}, not a callable factory(env, seed=..., **kwargs)")
    return target


def build_agent(spec: AgentSpec, env: Any, seed: int, **kwargs: Any) -> Any:
    """``spec.factory(env, seed=seed, **kwargs)``, checked to have an SB3-shaped ``predict``; a factory that
    raises is an :class:`AgentError` naming the agent and what it raised."""
    try:
        agent = spec.factory(env, seed=seed, **kwargs)
    except Exception as exc:
        raise AgentError(f"agent {spec.name!r}: its factory raised {type(exc).__name__}: {exc} (keywords "
                         f"{kwargs}; check --agent-kwargs and the factory's signature factory(env, seed=..., "
                         "**kwargs))") from exc
    if not callable(getattr(agent, "predict", None)):
        raise AgentError(f"agent {spec.name!r}: its factory returned {type(agent).__name__!s}, which has no "
                         "predict(observation, state=None, episode_start=None, deterministic=False) -> "
                         "(action, state) method")
    learn = getattr(agent, "learn", None)
    if learn is not None and not callable(learn):
        raise AgentError(f"agent {spec.name!r}: its learn attribute is not callable")
    return agent


def learns(agent: Any) -> bool:
    """Whether ``agent`` trains (has a ``learn(total_timesteps)``) and so gets the training budget."""
    return callable(getattr(agent, "learn", None))


def _check_name(name: str) -> None:
    if not name or any(c in name for c in "/:,=") or name != name.strip():
        raise AgentError(f"agent names must be non-empty without '/', ':', ',', '=' or surrounding spaces, "
                         f"got {name!r}")


def _python() -> str:
    import sys

    return sys.executable
