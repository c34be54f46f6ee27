"""What every learning agent shares: the ASG space check and the per-step training callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from asg_gym.spaces import NUM_SCALAR_FEATURES, NUM_SCALES


def asg_num_coordinates(observation_space: spaces.Space, action_space: spaces.Space) -> int:
    """C of an env with the ASG layout: ``Box(5 + C,)`` observations, ``MultiDiscrete([11] * C)`` actions.

    Raises ``ValueError`` naming the expected layout for any other pair of spaces.
    """
    expected = "observation Box(5 + C,) and action MultiDiscrete([11] * C)"
    if not isinstance(action_space, spaces.MultiDiscrete) or action_space.nvec.ndim != 1 \
            or not np.all(action_space.nvec == NUM_SCALES):
        raise ValueError(f"an ASG agent needs {expected}; got action space {action_space}")
    c = int(action_space.nvec.shape[0])
    if not isinstance(observation_space, spaces.Box) or observation_space.shape != (NUM_SCALAR_FEATURES + c,):
        raise ValueError(f"an ASG agent needs {expected} with C = {c}; got observation space {observation_space}")
    return c


@dataclass
class StepRecord:
    """What a training callback sees after each environment step of ``learn``."""

    num_timesteps: int
    """Environment steps taken by the agent so far, across all ``learn`` calls."""
    num_episodes: int
    """Episodes finished so far (this step's episode included when ``done``)."""
    reward: float
    done: bool
    """The episode ended at this step (terminated or truncated)."""
    info: dict[str, Any]
    episode_return: float | None = None
    """The finished episode's return, when ``done``."""
    episode_length: int | None = None
    episode_entropy: list[float] | None = None
    """When ``done``, for agents that report it: each coordinate's entropy (nats) of the
    distributions the episode's actions were sampled from, averaged over its steps (uniform: ln 11 ≈ 2.40)."""
    update: dict[str, float] | None = None
    """Statistics of the policy update made at this step (``losses/…`` names), if one was made."""
    num_updates: int = 0
    """Policy updates made so far."""


StepCallback = Callable[[StepRecord], "bool | None"]
"""Called after every step of ``learn``; returning ``False`` stops training (as in SB3)."""


def entropy_columns(entropy: list[float] | None, num_coordinates: int) -> dict[str, Any]:
    """A training episode's ``entropy`` (the mean over coordinates) and ``entropy_<c>`` table cells, from
    :attr:`StepRecord.episode_entropy`; blank for agents that do not report it."""
    names = ["entropy", *(f"entropy_{c}" for c in range(num_coordinates))]
    if entropy is None:
        return dict.fromkeys(names, "")
    return dict(zip(names, [sum(entropy) / len(entropy), *entropy], strict=True))
