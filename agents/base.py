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
