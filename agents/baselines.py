"""Fixed and random learning-rate policies: the baselines a learned controller must beat."""

from __future__ import annotations

from typing import Any

import numpy as np

from asg_gym.spaces import scales_to_action


def preset_scales(name: str, num_coordinates: int) -> list[float]:
    """Named constant policies over C coordinates (the last coordinate is the new head).

    * ``"all_large"``: every coordinate at η_base (scale 1.0): "large LR for all layers".
    * ``"hand_tuned"``: backbone 0.1, head 1.0: "small backbone LR + large FC LR" (Fig. 1).
    * ``"head_only"``: backbone frozen (0), head 1.0: "train FC only".
    """
    backbone = {"all_large": 1.0, "hand_tuned": 0.1, "head_only": 0.0}
    if name not in backbone:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(backbone)}")
    return [backbone[name]] * (num_coordinates - 1) + [1.0]


PRESETS = ("all_large", "hand_tuned", "head_only")


class ConstantPolicy:
    """The same scales at every step. ``scales`` is a list of C values or a preset name."""

    def __init__(self, scales: str | list[float], num_coordinates: int = 7) -> None:
        self.name = scales if isinstance(scales, str) else "constant"
        values = preset_scales(scales, num_coordinates) if isinstance(scales, str) else scales
        self.action = scales_to_action(values)

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        obs = np.asarray(observation)
        if obs.ndim == 2:  # a batch from a vector env
            return np.tile(self.action, (obs.shape[0], 1)), state
        return self.action.copy(), state


class RandomPolicy:
    """Uniformly random scales at every step (the paper's random policy, Fig. 6)."""

    def __init__(self, num_coordinates: int = 7, seed: int | None = None) -> None:
        self.num_coordinates = num_coordinates
        self.rng = np.random.default_rng(seed)

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        obs = np.asarray(observation)
        shape = (obs.shape[0], self.num_coordinates) if obs.ndim == 2 else (self.num_coordinates,)
        return self.rng.integers(0, 11, size=shape), state


class RandomInitPolicy(RandomPolicy):
    """Random scales drawn once per episode, then held fixed (a random constant policy).

    The per-episode action lives in ``state``, so pass ``episode_start=True`` at each reset
    (or ``state=None``) to draw a new one.
    """

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        obs = np.asarray(observation)
        n = obs.shape[0] if obs.ndim == 2 else 1
        if state is None:
            state = self.rng.integers(0, 11, size=(n, self.num_coordinates))
        elif episode_start is not None:
            starts = np.atleast_1d(episode_start).astype(bool)
            state = state.copy()
            state[starts] = self.rng.integers(0, 11, size=(int(starts.sum()), self.num_coordinates))
        return (state if obs.ndim == 2 else state[0]).copy(), state
