"""Hand-designed learning-rate schedules on the action grid: a constant preset × a time-varying multiplier.

A schedule agent scales a preset's per-coordinate scales (:func:`agents.baselines.preset_scales`)
by a multiplier m(p) of the training progress ``p = t/T``, read from observation index 2, so it
needs no state and no clock of its own. Actions are scales in {0, 0.1, …, 1}, so the scheduled
scale ``a_c · m(p)`` is **rounded to the nearest 0.1** (halves up): small products round to 0,
e.g. ``hand_tuned``'s backbone scale 0.1 is frozen once m(p) < 0.5. The grid is the action space
every agent shares, so the schedules live with it rather than with a finer one.

Multipliers (``SCHEDULES``):

* ``"warmup_poly"``: the released ASG code's ``lr_poly`` (also :mod:`asg_gym.schedules`, in SGD
  iterations), ``min(0.01 + 0.99·(p / w)², 1) · (1 − min(p, 0.8)) ** 0.9``: a quadratic warm-up
  over the first fraction ``w`` of the episode and a poly(0.9) decay that stops at 80 % of
  training, so it never goes below ``0.2 ** 0.9 ≈ 0.235`` (the "20 % floor"). ``w`` is the
  reference's 100 SGD iterations as a fraction of the episode's ``total_steps ×
  sgd_steps_per_action`` iterations (capped at 1), or ``warmup_fraction`` when given.
* ``"cosine"``: ``0.5·(1 + cos(π·p))``, from 1 to 0.
* ``"step"``: ×``gamma`` at each milestone (p = 0.5 and 0.75). ``gamma`` is 0.5, not the classic
  ImageNet 0.1: on the grid ×0.1 takes a head at 1.0 to 0.1 and then to 0.0, i.e. it stops
  training for the last quarter; with halves the head goes 1.0 → 0.5 → 0.3 (0.25 rounded up).

Agent names are ``<preset>_<schedule>``, e.g. ``hand_tuned_cosine`` (:data:`SCHEDULE_AGENTS`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from agents.baselines import PRESETS, preset_scales
from asg_gym.spaces import scales_to_action

Schedule = Literal["warmup_poly", "cosine", "step"]
SCHEDULES: tuple[Schedule, ...] = ("warmup_poly", "cosine", "step")
SCHEDULE_AGENTS = tuple(f"{preset}_{schedule}" for preset in PRESETS for schedule in SCHEDULES)
"""Every ``<preset>_<schedule>`` agent name."""

# The released code's lr_poly constants (utils/utils.py), as in asg_gym/schedules.py.
REFERENCE_WARMUP_ITERS = 100
WARMUP_START = 0.01
POLY_POWER = 0.9
POLY_STOP = 0.8
PROGRESS_INDEX = 2  # t/T in the observation (docs/design.md §1, "Observation")


def parse_schedule_agent(name: str) -> tuple[str, Schedule] | None:
    """``"hand_tuned_cosine"`` → ``("hand_tuned", "cosine")``; ``None`` for any other name."""
    for preset in PRESETS:
        for schedule in SCHEDULES:
            if name == f"{preset}_{schedule}":
                return preset, schedule
    return None


def multiplier(schedule: Schedule, progress: float, *, warmup_fraction: float = 0.1, gamma: float = 0.5,
               milestones: Sequence[float] = (0.5, 0.75)) -> float:
    """The factor of schedule ``schedule`` at training progress ``progress`` = t/T in [0, 1]."""
    p = min(max(float(progress), 0.0), 1.0)
    if schedule == "warmup_poly":
        warmup = min(WARMUP_START + (1 - WARMUP_START) * (p / warmup_fraction) ** 2, 1.0)
        return warmup * (1 - min(p, POLY_STOP)) ** POLY_POWER
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * p))
    if schedule == "step":
        return gamma ** sum(p >= m for m in milestones)
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")


def round_to_grid(scales: Sequence[float] | np.ndarray) -> np.ndarray:
    """Scales → the nearest multiple of 0.1 in [0, 1], halves rounded up (0.05 → 0.1)."""
    # The 1e-9 keeps products such as 0.1 × 0.5 (= 0.05000000000000000277) on the side they are meant to be.
    tenths = np.floor(np.asarray(scales, dtype=float) * 10 + 0.5 + 1e-9)
    return np.clip(tenths, 0, 10) / 10


def reference_warmup_fraction(env: Any) -> float:
    """The reference's 100 warm-up SGD iterations as a fraction of one of ``env``'s episodes (≤ 1).

    An episode's SGD iterations are the env's ``sgd_steps_per_episode`` (ASG envs, growing
    windows included), else its ``total_steps`` (one SGD step per action); envs that say neither
    get 0.1.
    """
    unwrapped = getattr(env, "unwrapped", env)
    iterations = getattr(unwrapped, "sgd_steps_per_episode", None)
    if iterations is None:
        iterations = getattr(unwrapped, "total_steps", None)
    if not isinstance(iterations, int) or iterations < 1:
        return 0.1
    return min(REFERENCE_WARMUP_ITERS / iterations, 1.0)


class ScheduledPolicy:
    """Preset (or explicit) scales × a schedule's multiplier of t/T, rounded to the 0.1 grid."""

    def __init__(self, scales: str | Sequence[float], schedule: Schedule, num_coordinates: int = 7, *,
                 warmup_fraction: float = 0.1, gamma: float = 0.5,
                 milestones: Sequence[float] = (0.5, 0.75)) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if not 0 < warmup_fraction <= 1 or not 0 <= gamma <= 1 or any(not 0 <= m <= 1 for m in milestones):
            raise ValueError(f"need 0 < warmup_fraction <= 1, 0 <= gamma <= 1 and milestones in [0, 1]; "
                             f"got {warmup_fraction}, {gamma}, {list(milestones)}")
        self.name = f"{scales}_{schedule}" if isinstance(scales, str) else f"constant_{schedule}"
        values = preset_scales(scales, num_coordinates) if isinstance(scales, str) else list(scales)
        self.base = scales_to_action(values) / 10  # validates the base scales
        self.schedule: Schedule = schedule
        self.params: dict[str, Any] = {"warmup_fraction": warmup_fraction, "gamma": gamma,
                                       "milestones": tuple(milestones)}

    def scales_at(self, progress: float) -> np.ndarray:
        """The C scales (multiples of 0.1) at training progress ``progress`` = t/T."""
        return round_to_grid(self.base * multiplier(self.schedule, progress, **self.params))

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        obs = np.asarray(observation)
        if obs.ndim == 2:  # a batch from a vector env: each row its own progress
            return np.stack([scales_to_action(self.scales_at(p)) for p in obs[:, PROGRESS_INDEX]]), state
        return scales_to_action(self.scales_at(float(obs[PROGRESS_INDEX]))), state


def make_schedule_agent(name: str, env: Any, num_coordinates: int, **kwargs: Any) -> ScheduledPolicy:
    """The schedule agent ``name`` (``<preset>_<schedule>``); ``kwargs``: ``warmup_fraction``, ``gamma``,
    ``milestones`` (``seed`` is accepted and ignored: a schedule is deterministic)."""
    parsed = parse_schedule_agent(name)
    if parsed is None:
        raise ValueError(f"unknown schedule agent {name!r}; choose one of {', '.join(SCHEDULE_AGENTS)}")
    kwargs.pop("seed", None)
    unknown = sorted(set(kwargs) - {"warmup_fraction", "gamma", "milestones"})
    if unknown:
        raise ValueError(f"agent {name!r} takes warmup_fraction, gamma, milestones and seed; got {unknown}")
    kwargs.setdefault("warmup_fraction", reference_warmup_fraction(env))
    preset, schedule = parsed
    return ScheduledPolicy(preset, schedule, num_coordinates, **kwargs)
