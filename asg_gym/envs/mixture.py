"""``ASG-Mixture-v0``: each episode one of several ASG tasks, for training one controller on many.

The observation is task-agnostic (losses, t/T, head statistics, previous scales), so a controller can be
trained on episodes drawn from several tasks and deployed on another. The mixture draws the task of each
episode from its generator (seeded by ``reset(seed=…)``, as Gymnasium's envs are) and delegates the
episode to that task's env. Every task must offer the same decisions: the same action space (coordinates)
and the same number of decisions per episode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

SEED_BOUND = 2**31  # sub-env seeds drawn from the mixture's generator on unseeded resets


class TaskMixture(gym.Env[np.ndarray, np.ndarray]):
    """
    ## Description

    Episodes drawn from several registered ASG tasks: at each reset the mixture picks one task (with
    ``weights``, uniform by default) and the episode is that task's. ``info["task"]`` names it. Used to
    train one learning-rate controller on many tasks and test it on a task it never saw.

    ## Action and Observation Space

    The tasks' own: every task must have the same ``MultiDiscrete`` action space and observations of the
    same shape; the observation bounds are the union of theirs.

    ## Starting State and Episode End

    ``reset(seed=s)`` seeds the mixture's generator with ``s``, draws the task from it and resets the task's
    env with the same ``s`` (so a mixture of one task is that task, episode for episode); an unseeded reset
    draws both the task and the task's seed from the mixture's generator, so that one seeded reset fixes every
    later episode. Episodes end as the task's do; every task must take the same number of decisions.

    ## Arguments

    ```python
    import gymnasium as gym, asg_gym
    env = gym.make("ASG-Mixture-v0", envs=["ASG-Digits-v0", "ASG-DigitsOnPhotos-v1"],
                   env_kwargs={"total_steps": 30, "sgd_steps_per_action": 10})
    ```

    * ``envs``: the task ids (each registered; not the mixture itself).
    * ``env_kwargs``: ``gym.make`` keywords for every task.
    * ``per_env_kwargs``: task id → keywords for that task only (over ``env_kwargs``).
    * ``weights``: the probability of each task (non-negative, summing to a positive number; normalised).

    ## Version History

    * v0, asg-gym 0.3.0: initial release.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012  (Gymnasium's instance attribute; render_mode goes to the tasks)

    def __init__(self, envs: Sequence[str], env_kwargs: Mapping[str, Any] | None = None,
                 per_env_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
                 weights: Sequence[float] | None = None) -> None:
        if isinstance(envs, str) or not envs:
            raise ValueError(f"envs must be a list of one or more env ids, got {envs!r}")
        if "ASG-Mixture-v0" in envs:
            raise ValueError("a mixture's tasks cannot include ASG-Mixture-v0 itself")
        unknown = sorted(set(per_env_kwargs or {}) - set(envs))
        if unknown:
            raise ValueError(f"per_env_kwargs names {unknown}, which are not in envs {list(envs)}")
        self.task_ids = list(envs)
        self.weights = _probabilities(weights, len(self.task_ids))
        shared, own = dict(env_kwargs or {}), per_env_kwargs or {}
        self.tasks: list[Any] = [gym.make(env_id, **{**shared, **own.get(env_id, {})}).unwrapped
                                 for env_id in self.task_ids]
        first: Any = self.tasks[0]
        for env_id, task in zip(self.task_ids[1:], self.tasks[1:], strict=True):
            _check_same_decisions(self.task_ids[0], first, env_id, task)
        self.action_space = first.action_space
        self.observation_space = spaces.Box(
            low=np.min([t.observation_space.low for t in self.tasks], axis=0),
            high=np.max([t.observation_space.high for t in self.tasks], axis=0), dtype=np.float32)
        self.total_steps: int = first.total_steps
        self.windows: list[int] = list(first.windows)
        self.coordinate_names: list[str] = list(first.coordinate_names)
        self._current: Any = None
        self.task: str | None = None
        """The id of the current episode's task (``None`` before the first reset)."""

    @property
    def target_metric(self) -> str:
        """The current task's target-score key (the first task's before any reset)."""
        return (self._current or self.tasks[0]).target_metric

    @property
    def sgd_steps_per_episode(self) -> int:
        return int(self.tasks[0].sgd_steps_per_episode)  # the same for every task (_check_same_decisions)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        index = int(self.np_random.choice(len(self.tasks), p=self.weights))
        task_seed = seed if seed is not None else int(self.np_random.integers(SEED_BOUND))
        self._current, self.task = self.tasks[index], self.task_ids[index]
        observation, info = self._current.reset(seed=task_seed, options=options)
        return observation, {**info, "task": self.task}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._current is None:
            raise RuntimeError("call reset() before step()")
        observation, reward, terminated, truncated, info = self._current.step(action)
        return observation, reward, terminated, truncated, {**info, "task": self.task}

    def render(self) -> Any:
        return None if self._current is None else self._current.render()

    def close(self) -> None:
        for task in self.tasks:
            task.close()


def _probabilities(weights: Sequence[float] | None, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be {n} finite non-negative numbers with a positive sum (one per env), "
                         f"got {list(weights)}")
    return w / w.sum()


def _check_same_decisions(first_id: str, first: Any, env_id: str, task: Any) -> None:
    """Every task offers the same decisions: the same actions, observations and decisions per episode."""
    if task.action_space != first.action_space:
        raise ValueError(f"{env_id} has action space {task.action_space}, {first_id} {first.action_space}: a "
                         "mixture's tasks need the same coordinates")
    if task.observation_space.shape != first.observation_space.shape:
        raise ValueError(f"{env_id} has observations of shape {task.observation_space.shape}, {first_id} "
                         f"{first.observation_space.shape}")
    if task.total_steps != first.total_steps:
        raise ValueError(f"{env_id} takes {task.total_steps} decisions per episode, {first_id} "
                         f"{first.total_steps}: give both the same total_steps (per_env_kwargs)")
    if list(task.windows) != list(first.windows):  # the windows are what t/T and the mixture's attributes mean
        raise ValueError(f"{env_id} decides every {task.windows[0]} SGD steps, {first_id} every "
                         f"{first.windows[0]}: give both the same sgd_steps_per_action and window_growth")
