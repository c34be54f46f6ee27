"""asg_benchmark's agent registry: built-in names, registered factories, import paths, and their errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agents import AGENT_NAMES, ConstantPolicy
from asg_benchmark import AgentError, register_agent, resolve_agent, unregister_agent
from asg_benchmark.registry import build_agent, learns
from tests.toy_lr_env import ToyLREnv


class _Fixed:
    def __init__(self, c: int) -> None:
        self.c = c

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        return np.full(self.c, 5), state


def make_fixed(env: Any, seed: int | None = None) -> _Fixed:
    """A module-level factory, reachable as ``tests.test_benchmark_registry:make_fixed``."""
    return _Fixed(env.action_space.shape[0])


def test_builtin_specs_say_how_each_agent_is_evaluated() -> None:
    assert {"hand_tuned_warmup_poly", "all_large_cosine", "head_only_step", "tuned_constant"} <= set(AGENT_NAMES)
    preset, schedule = resolve_agent("hand_tuned"), resolve_agent("hand_tuned_cosine")
    for spec in (preset, schedule):
        assert spec.hand_designed and not spec.seeded and not spec.stochastic and not spec.greedy
    ppo, rand, tuned = resolve_agent("ppo"), resolve_agent("random"), resolve_agent("tuned_constant")
    assert ppo.stochastic and ppo.greedy and ppo.seeded and not ppo.hand_designed
    assert rand.stochastic and not rand.greedy
    assert not tuned.stochastic and not tuned.hand_designed and tuned.seeded
    agent = build_agent(preset, ToyLREnv(), seed=0)
    assert isinstance(agent, ConstantPolicy) and not learns(agent)
    assert learns(build_agent(tuned, ToyLREnv(), seed=0))


def test_import_paths_and_their_errors() -> None:
    spec = resolve_agent("tests.test_benchmark_registry:make_fixed")
    agent = build_agent(spec, ToyLREnv(), seed=3)
    np.testing.assert_array_equal(agent.predict(np.zeros(8))[0], [5, 5, 5])
    with pytest.raises(AgentError, match=r"cannot import module 'no_such_package_xyz\.agents'.*installed"):
        resolve_agent("no_such_package_xyz.agents:make_agent")
    with pytest.raises(AgentError, match="has no attribute 'nope'"):
        resolve_agent("json:nope")
    with pytest.raises(AgentError, match="not a callable"):
        resolve_agent("json:__name__")
    with pytest.raises(AgentError, match=r"package\.module:factory"):
        resolve_agent("json:")
    with pytest.raises(AgentError, match="unknown agent 'sac'"):
        resolve_agent("sac")


def test_register_agent_and_objects_without_predict() -> None:
    try:
        spec = register_agent("mine_fixed", make_fixed, stochastic=False, greedy=False)
        assert resolve_agent("mine_fixed") is spec and not spec.stochastic
        with pytest.raises(AgentError, match="already registered"):
            register_agent("mine_fixed", make_fixed)
        register_agent("mine_fixed", make_fixed, replace=True)
        with pytest.raises(AgentError, match="built-in"):
            register_agent("ppo", make_fixed)
        with pytest.raises(AgentError, match="without '/'"):
            register_agent("mine/greedy", make_fixed)
        with pytest.raises(AgentError, match="callable"):
            register_agent("mine_broken", "not a factory")  # type: ignore[arg-type]
        register_agent("mine_nopredict", lambda env, seed=None: object())
        with pytest.raises(AgentError, match=r"object, which has no predict\(observation"):
            build_agent(resolve_agent("mine_nopredict"), ToyLREnv(), seed=0)
    finally:
        unregister_agent("mine_fixed")
        unregister_agent("mine_nopredict")
    with pytest.raises(AgentError, match="unknown agent"):
        resolve_agent("mine_fixed")
