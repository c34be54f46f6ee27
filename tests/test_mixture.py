"""ASG-Mixture-v0: episodes drawn from several tasks, seeded, each the task's own episode."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import asg_gym  # noqa: F401  (registers the ids)
from tests.cheap_envs import digits_kwargs, digitseg_kwargs

TWO = ["ASG-Digits-v0", "ASG-DigitsOnPhotos-v1"]


def _mixture(**kwargs: Any) -> gym.Env:
    return gym.make("ASG-Mixture-v0", **{"envs": TWO, "env_kwargs": digits_kwargs(), **kwargs})


def _episode(env: gym.Env, seed: int | None, action: int = 4) -> tuple[list[np.ndarray], list[float], str]:
    observation, info = env.reset(seed=seed)
    observations, rewards, done = [observation], [], False
    while not done:
        observation, reward, terminated, truncated, info = env.step(np.full(7, action))
        observations.append(observation)
        rewards.append(float(reward))
        done = terminated or truncated
    return observations, rewards, info.get("task", "")


def test_the_seed_draws_the_task_and_the_episode_is_the_tasks_own() -> None:
    env = _mixture()
    drawn = [env.reset(seed=seed)[1]["task"] for seed in range(12)]
    assert set(drawn) == set(TWO)  # both tasks come up
    assert drawn == [env.reset(seed=seed)[1]["task"] for seed in range(12)]  # and the seed decides which
    assert env.unwrapped.windows == [1] * 6 and env.unwrapped.sgd_steps_per_episode == 6

    seed = drawn.index("ASG-DigitsOnPhotos-v1")
    mixed = _episode(env, seed)
    own = _episode(gym.make("ASG-DigitsOnPhotos-v1", **digits_kwargs()), seed)
    assert mixed[2] == "ASG-DigitsOnPhotos-v1"
    assert all(np.array_equal(a, b) for a, b in zip(mixed[0], own[0], strict=True)) and mixed[1] == own[1]


def test_one_seeded_reset_fixes_the_unseeded_episodes_after_it() -> None:
    def run() -> list[tuple[str, list[float]]]:
        env = _mixture()
        env.reset(seed=7)
        return [(_episode(env, None)[2], _episode(env, None)[1]) for _ in range(3)]

    assert run() == run()


def test_weights_choose_the_tasks() -> None:
    env = _mixture(weights=[0.0, 1.0])
    assert {env.reset(seed=seed)[1]["task"] for seed in range(8)} == {"ASG-DigitsOnPhotos-v1"}


def test_digits_and_digitseg_mix_their_coordinates_line_up() -> None:
    env = gym.make("ASG-Mixture-v0", envs=["ASG-Digits-v0", "ASG-DigitSeg-v0"],
                   per_env_kwargs={"ASG-Digits-v0": {**digits_kwargs(), "total_steps": 4},
                                   "ASG-DigitSeg-v0": digitseg_kwargs()})
    metrics = set()
    for seed in range(8):
        _, info = env.reset(seed=seed)
        metrics.add((info["task"], env.unwrapped.target_metric))
    assert metrics == {("ASG-Digits-v0", "target_accuracy"), ("ASG-DigitSeg-v0", "target_miou")}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"envs": []}, "one or more env ids"),
    ({"envs": "ASG-Digits-v0"}, "list of one or more"),
    ({"envs": ["ASG-Digits-v0", "ASG-Mixture-v0"]}, "cannot include ASG-Mixture-v0"),
    ({"per_env_kwargs": {"ASG-DigitSeg-v0": {}}}, "not in envs"),
    ({"weights": [1.0]}, "one per env"),
    ({"weights": [-1.0, 2.0]}, "non-negative"),
    ({"per_env_kwargs": {"ASG-DigitsOnPhotos-v1": {"total_steps": 5}}}, "same total_steps"),
    ({"per_env_kwargs": {"ASG-DigitsOnPhotos-v1": {"sgd_steps_per_action": 2}}},
     "same sgd_steps_per_action"),
])
def test_a_bad_mixture_says_what_to_change(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _mixture(**kwargs)


def test_step_before_reset_is_refused() -> None:
    with pytest.raises(RuntimeError, match="reset"):
        _mixture().unwrapped.step(np.full(7, 4))


def test_a_controller_trains_on_the_mixture_and_its_episodes_name_their_task(tmp_path) -> None:
    import csv
    import json

    from asg_benchmark.cli import main

    out = tmp_path / "run"
    assert main(["train", "--env", "ASG-Mixture-v0", "--env-kwargs", json.dumps({"envs": TWO,
                 "env_kwargs": digits_kwargs()}), "--episodes", "4", "--seed", "0", "--out", str(out),
                 "--no-progress", "--no-tensorboard"]) == 0
    with (out / "episodes.csv").open() as f:
        tasks = [row["task"] for row in csv.DictReader(f)]
    assert len(tasks) == 4 and set(tasks) <= set(TWO) and len(set(tasks)) == 2
