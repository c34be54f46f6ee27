"""A cheap stand-in for the ASG env (same spaces), where the best scale per coordinate is known.

Also :class:`Recorder`, a wrapper that records every action and reward (and can simulate a kill).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ToyLREnv(gym.Env[np.ndarray, np.ndarray]):
    """Observation ``Box(5 + C,)`` and action ``MultiDiscrete([11] * C)`` as in ``ASGTransferEnv``.

    Reward: ``reward_scale · (0.3 - mean_c |a_c - target_c| / 10)`` plus Gaussian noise, so
    ``target_c`` is coordinate c's best action whatever the state (0.3 roughly centres a uniform
    policy's reward; ``reward_scale = 0.1`` matches the ASG env's loss drops of a few 1e-2). The 5
    scalar features mimic the real env's scales: a falling "loss" (~2), a small "KL", t/T, a weight
    mean of ~1e-3 and a std of ~3e-2. With ``diverge_at = k`` the k-th step of every episode ends
    it like a non-finite loss does in the ASG env (``reward = -10``, ``terminated``,
    ``info["diverged"]``). ``reset_seeds`` records resets.
    """

    def __init__(self, targets: tuple[int, ...] = (2, 8, 5), noise: float = 0.05, episode_length: int = 10,
                 reward_scale: float = 1.0, diverge_at: int | None = None) -> None:
        self.targets = np.asarray(targets, dtype=np.int64)
        self.noise, self.episode_length, self.reward_scale = noise, episode_length, reward_scale
        c = len(targets)
        self.action_space = spaces.MultiDiscrete([11] * c)
        low = np.array([0, 0, 0, -np.inf, 0] + [0] * c, dtype=np.float32)
        high = np.array([np.inf, np.inf, 1, np.inf, np.inf] + [1] * c, dtype=np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.diverge_at = diverge_at
        self.reset_seeds: list[int | None] = []
        self._t = 0
        self._scales = np.ones(c)

    def _obs(self) -> np.ndarray:
        progress = self._t / self.episode_length
        features = [2.3 - progress, 0.01 * progress, progress, 1e-3 * (1 - progress), 0.03]
        return np.asarray(features + list(self._scales), dtype=np.float32)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.reset_seeds.append(seed)
        self._t, self._scales = 0, np.ones(len(self.targets))
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.int64)
        assert self.action_space.contains(action), action
        self._t += 1
        self._scales = action / 10.0
        distance = np.abs(action - self.targets).mean() / 10.0
        reward = self.reward_scale * (0.3 - distance) + self.noise * float(self.np_random.standard_normal())
        if self._t == self.diverge_at:
            return self._obs(), -10.0, True, False, {"distance": distance, "diverged": True}
        return self._obs(), float(reward), False, self._t >= self.episode_length, {"distance": distance}


class Recorder(gym.Wrapper):
    """Records the actions and rewards of every step; raises KeyboardInterrupt at step ``kill_at``."""

    def __init__(self, env: gym.Env, kill_at: int | None = None) -> None:
        super().__init__(env)
        self.kill_at = kill_at
        self.actions: list[np.ndarray] = []
        self.rewards: list[float] = []

    def step(self, action: Any) -> Any:
        if self.kill_at is not None and len(self.actions) + 1 == self.kill_at:
            raise KeyboardInterrupt("simulated kill")
        result = self.env.step(action)
        self.actions.append(np.asarray(action).copy())
        self.rewards.append(result[1])
        return result
