"""The env a learning agent trains on: its own seed namespace, no target scores, every step counted."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from asg_benchmark import faults
from asg_benchmark.seeds import TRAIN_EPISODE_OFFSET


def is_target_key(key: str) -> bool:
    """Info keys computed on real target images (scores and old-task agreement on them)."""
    return key.startswith("target_") or key == "old_task_agreement"


class TrainingEnv(gym.Wrapper[np.ndarray, np.ndarray, np.ndarray, np.ndarray]):
    """Wraps the training env of one agent.

    * ``reset(seed=s)`` resets the env with ``s + TRAIN_EPISODE_OFFSET``: whatever episode seeds an
      agent uses for training (``seed + k``, a vector env's ``seed + i``), none is an evaluation
      seed, which :func:`asg_benchmark.seeds.check_seeds` keeps below the offset. Unseeded resets
      continue the env's own generator.
    * Target-domain keys (``target_*``, ``old_task_agreement``) are removed from ``info``: an
      agent can never learn or tune from real target images.
    * ``num_steps`` counts the env steps the agent actually took (SB3 agents train in whole
      rollouts, so they may take more than the budget); ``episode_seeds`` the seeds it reset with.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.num_steps = 0
        self.episode_seeds: list[int | None] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        shifted = None if seed is None else int(seed) + TRAIN_EPISODE_OFFSET
        self.episode_seeds.append(shifted)
        obs, info = self.env.reset(seed=shifted, options=options)
        return obs, _without_target(info)

    def step(self, action: Any) -> tuple[np.ndarray, Any, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.num_steps += 1
        faults.checkpoint("train")
        return obs, reward, terminated, truncated, _without_target(info)


def _without_target(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if not is_target_key(k)}
