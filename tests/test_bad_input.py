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


NAN, INF = float("nan"), float("inf")
# (keyword, bad value, exception): each shared keyword is checked once, by EnvConfig, for every id.
BAD_SHARED_VALUES = [
    ("total_steps", 0, ValueError),
    ("total_steps", 2.5, TypeError),  # was silently truncated to 2
    ("total_steps", True, TypeError),
    ("batch_size", 0, ValueError),
    ("batch_size", 8.5, TypeError),  # failed late: "slice indices must be integers"
    ("batch_size", np.float64(16.0), TypeError),
    ("sgd_steps_per_action", 0, ValueError),
    ("sgd_steps_per_action", 1.5, TypeError),
    ("eval_every", -1, ValueError),
    ("eval_every", 2.5, TypeError),
    ("num_threads", 0, ValueError),
    ("num_threads", 1.5, TypeError),
    ("lam", -1.0, ValueError),
    ("lam", NAN, ValueError),  # used to run
    ("lam", INF, ValueError),
    ("lam", "0.1", TypeError),
    ("base_lr", 0.0, ValueError),
    ("base_lr", -1e-3, ValueError),
    ("base_lr", INF, ValueError),  # diverged at step 1
    ("base_lr", NAN, ValueError),
    ("momentum", 1.5, ValueError),  # diverged at step 29
    ("momentum", 1.0, ValueError),
    ("momentum", -0.1, ValueError),
    ("momentum", NAN, ValueError),
    ("momentum", True, TypeError),
    ("weight_decay", -5e-4, ValueError),
    ("weight_decay", NAN, ValueError),
    ("crash_penalty", NAN, ValueError),
    ("crash_penalty", -INF, ValueError),
]


def _case_id(keyword: str, value: object) -> str:
    return f"{keyword}={value!r}"


@pytest.mark.parametrize(("keyword", "value", "error"), BAD_SHARED_VALUES,
                         ids=[_case_id(k, v) for k, v, _ in BAD_SHARED_VALUES])
def test_bad_shared_values_fail_at_gym_make(cheap_env: CheapEnv, keyword: str, value: object,
                                            error: type[Exception]) -> None:
    with pytest.raises(error) as excinfo:
        cheap_env.make(**{keyword: value})
    message = str(excinfo.value)
    assert type(excinfo.value) is error  # a TypeError is not reported as a ValueError, nor the reverse
    assert f"{keyword} must be" in message and str(value) in message, message
    assert "pass" in message  # says how to fix it


def test_bad_render_mode_fails_early(cheap_env: CheapEnv) -> None:
    with pytest.raises(ValueError, match="render_mode"):
        cheap_env.make_unwrapped(render_mode="text")


EMBEDDED_IDS = ["ASG-Digits-v0", "ASG-DigitSeg-v0"]


@pytest.mark.parametrize("cheap_env", EMBEDDED_IDS, indirect=True)
def test_total_steps_none_is_refused_by_the_embedded_envs(cheap_env: CheapEnv) -> None:
    with pytest.raises(ValueError, match=r"total_steps=None .* pass total_steps="):
        cheap_env.make(total_steps=None)


# (id, keyword, bad value, exception): each env's own counts.
BAD_OWN_COUNTS = [
    ("ASG-Digits-v0", "image_size", 32.0, TypeError),
    ("ASG-Digits-v0", "image_size", True, TypeError),
    ("ASG-Digits-v0", "image_size", 8, ValueError),
    ("ASG-Digits-v0", "eval_size", 0, ValueError),
    ("ASG-Digits-v0", "eval_size", 2.5, TypeError),
    ("ASG-Digits-v0", "num_source_images", 0, ValueError),
    ("ASG-Digits-v0", "num_source_images", 8, ValueError),  # fewer than batch_size=16
    ("ASG-Digits-v0", "num_source_images", 100.0, TypeError),
    ("ASG-Digits-v0", "head_hidden", 0, ValueError),
    ("ASG-Digits-v0", "source_seed", -1, ValueError),
    ("ASG-Digits-v0", "source_seed", 0.5, TypeError),
    ("ASG-DigitSeg-v0", "scene_size", 32.0, TypeError),
    ("ASG-DigitSeg-v0", "scene_size", 16, ValueError),
    ("ASG-DigitSeg-v0", "eval_size", 0, ValueError),
    ("ASG-DigitSeg-v0", "eval_size", 8.0, TypeError),
    ("ASG-DigitSeg-v0", "num_source_scenes", 0, ValueError),
    ("ASG-DigitSeg-v0", "num_source_scenes", 2, ValueError),  # fewer than batch_size=4
    ("ASG-DigitSeg-v0", "num_source_scenes", 64.5, TypeError),
    ("ASG-DigitSeg-v0", "max_digits", 1.5, TypeError),
    ("ASG-DigitSeg-v0", "num_patches", 0, ValueError),
    ("ASG-DigitSeg-v0", "patch_size", 1.5, TypeError),
    ("ASG-GTA5-v0", "num_patches", 0, ValueError),
    ("ASG-GTA5-v0", "patch_size", 1.5, TypeError),
    ("ASG-GTA5-v0", "eval_limit", 0, ValueError),
    ("ASG-GTA5-v0", "eval_limit", 2.5, TypeError),
    ("ASG-GTA5-v0", "num_workers", -1, ValueError),
    ("ASG-GTA5-v0", "eval_batch_size", 0, ValueError),
    ("ASG-VisDA-v0", "image_size", 224.0, TypeError),
    ("ASG-VisDA-v0", "eval_size", 0, ValueError),
    ("ASG-VisDA-v0", "eval_size", 10.5, TypeError),
    ("ASG-VisDA-v0", "num_workers", -1, ValueError),
    ("ASG-VisDA-v0", "head_hidden", 0, ValueError),
    ("ASG-VisDA-v0", "eval_batch_size", 2.5, TypeError),
]


@pytest.mark.parametrize(("cheap_env", "keyword", "value", "error"), [
    pytest.param(*case, id=f"{case[0]}-{_case_id(case[1], case[2])}",
                 marks=[pytest.mark.slow] if case[0] == "ASG-VisDA-v0" else [])
    for case in BAD_OWN_COUNTS
], indirect=["cheap_env"])
def test_bad_own_counts_fail_at_gym_make(cheap_env: CheapEnv, keyword: str, value: object,
                                         error: type[Exception]) -> None:
    with pytest.raises(error) as excinfo:
        cheap_env.make(**{keyword: value})
    message = str(excinfo.value)
    assert type(excinfo.value) is error
    assert f"{keyword} must be" in message and str(value) in message, message


@pytest.mark.parametrize(("cheap_env", "keyword", "value"), [
    ("ASG-Digits-v0", "num_source_images", 0),
    ("ASG-Digits-v0", "num_source_images", 15),
    ("ASG-DigitSeg-v0", "num_source_scenes", 3),
], indirect=["cheap_env"])
def test_a_source_smaller_than_a_batch_blames_the_source_size(cheap_env: CheapEnv, keyword: str, value: int) -> None:
    batch_size = cheap_env.kwargs["batch_size"]
    with pytest.raises(ValueError) as excinfo:
        cheap_env.make(**{keyword: value})
    message = str(excinfo.value)
    assert message.startswith(f"{keyword} must be an int >= batch_size ({batch_size}), got {value}"), message
    assert "or lower batch_size" in message


@pytest.mark.parametrize("cheap_env", EMBEDDED_IDS, indirect=True)
def test_numpy_integers_and_edge_values_are_accepted(cheap_env: CheapEnv) -> None:
    env = cheap_env.make(total_steps=np.int64(2), batch_size=np.int32(cheap_env.kwargs["batch_size"]),
                         eval_every=np.int64(0), momentum=0, lam=0, weight_decay=0.0, crash_penalty=0)
    config = env.unwrapped.config
    assert env.unwrapped.total_steps == 2
    assert all(type(getattr(config, name)) is int for name in ("total_steps", "batch_size", "eval_every"))
    env.reset(seed=0)
    _, _, _, truncated, _ = env.step(np.full(7, 5))
    _, _, _, truncated, info = env.step(np.full(7, 5))
    assert truncated and not info["diverged"]
    env.close()


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
