"""Action and observation spaces of every ASG env, and the one mapping between actions and scales.

Action value k of coordinate c means the learning-rate scale ``a_c = k / 10`` (η_c = a_c·η_base).
Agents and envs convert with :func:`action_to_scales` / :func:`scales_to_action` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from asg_gym.interfaces import StepStats

NUM_SCALES = 11  # a_c ∈ {0, 0.1, …, 1.0}
NUM_SCALAR_FEATURES = 5  # L_XE, L_KL, t/T, mean(θ_n), std(θ_n); the previous scales follow
# Observations are clipped to finite bounds far beyond any healthy run (losses ~1, weights ~0.01),
# so spaces stay finite and a diverging run still yields a valid observation.
OBS_LIMIT = 1e3


def action_space(num_coordinates: int) -> spaces.MultiDiscrete:
    return spaces.MultiDiscrete([NUM_SCALES] * num_coordinates)


def observation_space(num_coordinates: int) -> spaces.Box:
    low = np.array([0, 0, 0, -OBS_LIMIT, 0] + [0] * num_coordinates, dtype=np.float32)
    high = np.array([OBS_LIMIT, OBS_LIMIT, 1, OBS_LIMIT, OBS_LIMIT] + [1] * num_coordinates, dtype=np.float32)
    return spaces.Box(low, high, dtype=np.float32)


def action_to_scales(action: Any, space: spaces.Space) -> np.ndarray:
    """A validated action → scales ``k / 10`` (float64); a clear ``ValueError`` naming ``space`` otherwise."""
    arr = np.asarray(action)
    if arr.shape != space.shape or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"action must be an array of shape {space.shape} in {space}, got {action!r}")
    if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)) or arr.min() < 0 or arr.max() >= NUM_SCALES:
        raise ValueError(f"action values must be integers 0…{NUM_SCALES - 1} (scale k/10) for {space}, got {action!r}")
    return arr.astype(np.int64) / 10.0


def scales_to_action(scales: Sequence[float] | np.ndarray) -> np.ndarray:
    """Learning-rate scales in {0, 0.1, …, 1} → MultiDiscrete action values 0…10."""
    arr = np.asarray(scales, dtype=float)
    action = np.rint(arr * 10).astype(np.int64)
    if np.any(np.abs(action / 10 - arr) > 1e-9) or action.min() < 0 or action.max() >= NUM_SCALES:
        raise ValueError(f"scales must be multiples of 0.1 in [0, 1], got {scales!r}")
    return action


def observation(stats: StepStats, progress: float, scales: np.ndarray, space: spaces.Space) -> np.ndarray:
    """``[L_XE, L_KL, t/T, mean(θ_n), std(θ_n), a_{t-1}]``, finite and clipped to ``space``."""
    assert isinstance(space, spaces.Box)
    obs = np.array([stats.loss.xe, stats.loss.kl, progress, stats.head_mean, stats.head_std, *scales])
    obs = np.nan_to_num(obs, nan=0.0, posinf=OBS_LIMIT, neginf=-OBS_LIMIT)
    return np.clip(obs, space.low, space.high).astype(np.float32)
