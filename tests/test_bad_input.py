"""Bad input gives clear errors, and a diverging run ends its episode instead of raising.

``docs/design.md`` §2 "Env contract": actions are validated before any SGD step, ``step`` before
``reset`` is a ``RuntimeError``, unknown keywords a ``TypeError`` that lists the valid ones, bad
values a ``ValueError`` when the env is built, and a non-finite loss terminates the episode.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from asg_gym.envs.config import EnvConfig
from tests.cheap_envs import CheapEnv

BAD_ACTIONS = {
    "too_short": np.zeros(6, dtype=int),
    "above_10": np.full(7, 11),
    "negative": np.full(7, -1),
    "fractional": np.full(7, 0.5),
    "string": "abc",
    "column": np.zeros((7, 1), dtype=int),
    "nan": np.full(7, np.nan),
}


@pytest.mark.parametrize("action", BAD_ACTIONS.values(), ids=BAD_ACTIONS.keys())
def test_invalid_actions_raise_value_error_naming_the_space(cheap_env: CheapEnv, action) -> None:
    env = cheap_env.make()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="MultiDiscrete"):
        env.unwrapped.step(action)
    _, _, _, _, info = env.step(np.full(7, 5))
    assert info["sgd_step"] == 1  # the bad action trained nothing
    env.close()


def test_step_before_reset_raises(cheap_env: CheapEnv) -> None:
    env = cheap_env.make_unwrapped()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(7, dtype=int))
    env.close()


def test_unknown_keyword_is_a_type_error_listing_the_shared_ones(cheap_env: CheapEnv) -> None:
    with pytest.raises(TypeError, match="unexpected keyword") as excinfo:
        cheap_env.make(totl_steps=3)
    message = str(excinfo.value)
    assert cheap_env.env_id in message and "'totl_steps'" in message
    for field in dataclasses.fields(EnvConfig):
        assert f"'{field.name}'" in message, field.name


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"total_steps": 0}, "total_steps"),
    ({"sgd_steps_per_action": 0}, "sgd_steps_per_action"),
    ({"eval_every": -1}, "eval_every"),
    ({"lam": -1.0}, "lam"),
    ({"base_lr": 0.0}, "base_lr"),
    ({"render_mode": "text"}, "render_mode"),
])
def test_bad_shared_values_fail_early(cheap_env: CheapEnv, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cheap_env.make_unwrapped(**kwargs)


def test_bad_own_values_fail_early(cheap_env: CheapEnv) -> None:
    for kwargs, match in cheap_env.bad_kwargs:
        with pytest.raises(ValueError, match=match):
            cheap_env.make_unwrapped(**kwargs)


@pytest.mark.parametrize("window", [1, 3])
def test_divergence_terminates_with_crash_penalty_and_never_raises(cheap_env: CheapEnv, window: int) -> None:
    env = cheap_env.make(base_lr=1e6, crash_penalty=-7.0, total_steps=50, eval_every=0, sgd_steps_per_action=window)
    env.reset(seed=0)
    actions = 0
    for _ in range(50):
        obs, reward, terminated, truncated, info = env.step(np.full(7, 10))
        actions += 1
        if terminated:
            break
        assert info["diverged"] is False
    assert terminated and not truncated
    assert reward == -7.0 and info["diverged"] is True
    assert not np.isfinite(info["loss"])
    assert info["sgd_step"] <= actions * window  # the window stops at the first non-finite loss
    assert env.observation_space.contains(obs)
    assert np.isfinite(obs).all()
    assert cheap_env.target_metric in info  # the episode's end is evaluated
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.full(7, 10))
    env.close()
