"""Rollout slots: the K envs a learner steps in lockstep, held in this process or by Ray actors.

``ReinforceLSTMAgent.learn`` samples the K actions of a step in one batched policy call and hands
them to :meth:`Rollouts.step`; :class:`LocalRollouts` steps its envs one after the other,
:class:`RayRollouts` steps its actors (one env each, in their own processes) in parallel. Ray is
an optional extra (``pip install -e .[ray]``), imported only when :class:`RayRollouts` is built.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

Transition = tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]
"""What ``env.step`` returns: observation, reward, terminated, truncated, info."""


def import_ray() -> Any:
    """The ``ray`` module, or an ImportError naming the extra that installs it."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise ImportError(f"Ray is an optional dependency: pip install -e .[ray] ({exc})") from exc


def episode_limit(env: gym.Env) -> int | None:
    """Actions per episode: the ASG env's ``total_steps``, else the registered time limit (None: unknown)."""
    limit = getattr(env.unwrapped, "total_steps", None) or (env.spec.max_episode_steps if env.spec else None)
    return int(limit) if limit else None


def replay_episode(env: gym.Env, seed: int, actions: Sequence[np.ndarray]) -> np.ndarray:
    """Reset ``env`` with ``seed`` and take ``actions``: the state of an interrupted episode; its observation."""
    observation, _ = env.reset(seed=seed)
    for action in actions:
        observation, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            raise RuntimeError("replaying the interrupted episode ended it early: the env is not deterministic")
    return np.asarray(observation, dtype=np.float32)


class Rollouts(ABC):
    """K envs with the same spaces, stepped together; slot k is env k."""

    num_slots: int
    observation_space: spaces.Space
    action_space: spaces.Space
    episode_limit: int | None
    """Actions per episode of every slot's env (None: unknown)."""

    @abstractmethod
    def reset(self, seeds: Mapping[int, int]) -> dict[int, np.ndarray]:
        """Reset slot k with seed ``seeds[k]``; the first observations by slot."""

    @abstractmethod
    def step(self, actions: np.ndarray) -> list[Transition]:
        """Every slot takes its row of ``actions`` (K, C); one transition per slot."""

    @abstractmethod
    def replay(self, episodes: Mapping[int, tuple[int, Sequence[np.ndarray]]]) -> dict[int, np.ndarray]:
        """Slot k replays ``episodes[k] = (seed, actions)`` (:func:`replay_episode`); its observation by slot."""

    @abstractmethod
    def close(self) -> None: ...


class LocalRollouts(Rollouts):
    """Env objects of this process, stepped in slot order (K = 1: exactly the plain single-env loop)."""

    def __init__(self, envs: Sequence[gym.Env]) -> None:
        if not envs:
            raise ValueError("LocalRollouts needs at least one env")
        self.envs = list(envs)
        self.num_slots = len(self.envs)
        self.observation_space, self.action_space = self.envs[0].observation_space, self.envs[0].action_space
        self.episode_limit = episode_limit(self.envs[0])

    def reset(self, seeds: Mapping[int, int]) -> dict[int, np.ndarray]:
        return {k: np.asarray(self.envs[k].reset(seed=seed)[0], dtype=np.float32) for k, seed in seeds.items()}

    def step(self, actions: np.ndarray) -> list[Transition]:
        return [self.envs[k].step(actions[k]) for k in range(self.num_slots)]

    def replay(self, episodes: Mapping[int, tuple[int, Sequence[np.ndarray]]]) -> dict[int, np.ndarray]:
        return {k: replay_episode(self.envs[k], seed, actions) for k, (seed, actions) in episodes.items()}

    def close(self) -> None:
        for env in self.envs:
            env.close()


class EnvActor:
    """One env in a Ray actor's process (the class Ray wraps; its methods run remotely)."""

    def __init__(self, make_env: Callable[[], gym.Env]) -> None:
        self.env = make_env()

    def describe(self) -> tuple[spaces.Space, spaces.Space, int | None]:
        return self.env.observation_space, self.env.action_space, episode_limit(self.env)

    def reset(self, seed: int) -> np.ndarray:
        return np.asarray(self.env.reset(seed=seed)[0], dtype=np.float32)

    def step(self, action: np.ndarray) -> Transition:
        return self.env.step(action)

    def replay(self, seed: int, actions: Sequence[np.ndarray]) -> np.ndarray:
        return replay_episode(self.env, seed, actions)

    def close(self) -> None:
        self.env.close()


class RayRollouts(Rollouts):
    """K Ray actors, each building its env with ``make_env()`` and asking for ``num_cpus``/``num_gpus``.

    Needs a running Ray (``ray.init``): the caller owns the Ray session. ``make_env`` is pickled
    to the actors, so it must be picklable (a module-level function or a ``functools.partial``).
    """

    def __init__(self, make_env: Callable[[], gym.Env], num_workers: int, *, num_cpus: float = 1.0,
                 num_gpus: float = 0.0) -> None:
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        self._ray = import_ray()
        actor = self._ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(EnvActor)
        self.actors = [actor.remote(make_env) for _ in range(num_workers)]
        self.num_slots = num_workers
        described = self._ray.get([a.describe.remote() for a in self.actors])
        self.observation_space, self.action_space, self.episode_limit = described[0]

    def reset(self, seeds: Mapping[int, int]) -> dict[int, np.ndarray]:
        futures = {k: self.actors[k].reset.remote(seed) for k, seed in seeds.items()}
        return dict(zip(futures, self._ray.get(list(futures.values())), strict=True))

    def step(self, actions: np.ndarray) -> list[Transition]:
        return list(self._ray.get([a.step.remote(actions[k]) for k, a in enumerate(self.actors)]))

    def replay(self, episodes: Mapping[int, tuple[int, Sequence[np.ndarray]]]) -> dict[int, np.ndarray]:
        futures = {k: self.actors[k].replay.remote(seed, list(actions)) for k, (seed, actions) in episodes.items()}
        return dict(zip(futures, self._ray.get(list(futures.values())), strict=True))

    def close(self) -> None:
        self._ray.get([a.close.remote() for a in self.actors])
        for a in self.actors:
            self._ray.kill(a)
        self.actors = []


def as_rollouts(env: gym.Env | Rollouts) -> Rollouts:
    """A single env as one local slot; rollouts as they are."""
    return env if isinstance(env, Rollouts) else LocalRollouts([env])
