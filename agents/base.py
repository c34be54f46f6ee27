"""The one interface every learning-rate controller shares (shaped like Stable-Baselines3's)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Agent(Protocol):
    """``predict`` like SB3: ``(action, state)``; agents that learn also have learn/save/load."""

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]: ...


def scales_to_action(scales: "np.ndarray | list[float]") -> np.ndarray:
    """Learning-rate scales in {0, 0.1, …, 1} → MultiDiscrete action values 0…10."""
    arr = np.asarray(scales, dtype=float)
    action = np.rint(arr * 10).astype(np.int64)
    if np.any(np.abs(action / 10 - arr) > 1e-9) or action.min() < 0 or action.max() > 10:
        raise ValueError(f"scales must be multiples of 0.1 in [0, 1], got {scales!r}")
    return action
