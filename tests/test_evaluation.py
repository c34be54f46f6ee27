"""Target-domain evaluation: its minibatch size per device, and scores that do not depend on it."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from asg_gym.evaluation import GPU_BATCH, evaluation_batch_size


def test_the_cpu_minibatch_holds_a_fixed_number_of_pixels_and_the_gpu_one_is_fixed() -> None:
    cpu = torch.device("cpu")
    assert [evaluation_batch_size(side, cpu) for side in (32, 48, 96, 224, 2000)] == [288, 128, 32, 5, 1]
    assert evaluation_batch_size(96, torch.device("cuda")) == GPU_BATCH


def test_scores_do_not_depend_on_the_minibatch(digits_kwargs: dict[str, Any]) -> None:
    env: Any = gym.make("ASG-Digits-v0", **digits_kwargs)
    env.reset(seed=0)
    for action in np.random.default_rng(0).integers(0, 11, (3, 7)):  # off the pretrained weights
        env.step(action)
    evaluation = env.unwrapped.evaluation.func
    assert evaluation.batches.batch_size == evaluation_batch_size(32, torch.device("cpu"))
    scores = evaluation(env.unwrapped.optimizee)
    evaluation.batches.batch_size = 7  # a last minibatch of another size too
    assert evaluation(env.unwrapped.optimizee) == scores
