"""``state_dict`` / ``load_state_dict``: a resumed episode continues bitwise like the uninterrupted one.

The snapshot holds the weights, the SGD momentum, the pending gradients, the data order (and the
patch generator of the segmentation envs) and the step counters; restore it with
``reset(seed=<same seed>)`` then ``load_state_dict``. What the env keeps across episodes, the
teacher cache, must not change an episode: a resumed run fills it from other batches.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from tests.cheap_envs import CheapEnv

ACTION = np.array([2] * 6 + [10])


def steps(env: gym.Env, n: int) -> list[Any]:
    return [env.step(ACTION) for _ in range(n)]


def assert_same_steps(a: list[Any], b: list[Any]) -> None:
    np.testing.assert_equal(a, b)  # observations, rewards, flags and info; NaN equals NaN
    for x, y in zip(a, b, strict=True):
        assert x[0].tobytes() == y[0].tobytes() and x[1] == y[1]


def test_resume_mid_episode_is_exact(cheap_env: CheapEnv) -> None:
    """Weights, momentum, gradients, data order *and* the patch generator come back."""
    env = cheap_env.make(total_steps=5)
    env.reset(seed=2)
    steps(env, 2)
    state = env.unwrapped.state_dict()
    rest = steps(env, 3)  # the uninterrupted run; the snapshot must not follow it
    assert rest[-1][3] is True
    fresh = cheap_env.make(total_steps=5)  # a new process, as after a kill
    fresh.reset(seed=2)
    # Copies: training after a load currently changes the snapshot (test_loading_leaves_the_snapshot_unchanged).
    fresh.unwrapped.load_state_dict(copy.deepcopy(state))
    assert_same_steps(steps(fresh, 3), rest)
    env.reset(seed=2)  # the same env, after it went on
    env.unwrapped.load_state_dict(copy.deepcopy(state))
    assert_same_steps(steps(env, 3), rest)


def test_loading_leaves_the_snapshot_unchanged(cheap_env: CheapEnv) -> None:
    """The same snapshot loaded twice (a retry, or two envs from one checkpoint) continues the same way."""
    env = cheap_env.make(total_steps=5)
    env.reset(seed=2)
    steps(env, 2)
    state = env.unwrapped.state_dict()
    first = steps(env, 3)
    for _ in range(2):
        env.reset(seed=2)
        env.unwrapped.load_state_dict(state)
        assert_same_steps(steps(env, 3), first)


def test_resume_into_a_longer_episode(cheap_env: CheapEnv) -> None:
    """A finished episode saved and loaded with a larger ``total_steps`` goes on (not done)."""
    full = cheap_env.make(total_steps=4, eval_every=0)
    full.reset(seed=3)
    expected = steps(full, 4)
    short = cheap_env.make(total_steps=2, eval_every=0)
    short.reset(seed=3)
    assert steps(short, 2)[-1][3] is True  # truncated
    state = short.unwrapped.state_dict()
    longer = cheap_env.make(total_steps=4, eval_every=0)
    longer.reset(seed=3)
    longer.unwrapped.load_state_dict(state)
    assert_same_steps(steps(longer, 2), expected[2:])


def test_a_diverged_episode_stays_ended_after_loading(cheap_env: CheapEnv) -> None:
    env = cheap_env.make(base_lr=1e6, total_steps=50, eval_every=0)
    env.reset(seed=0)
    for _ in range(50):
        if env.step(np.full(7, 10))[2]:
            break
    state = env.unwrapped.state_dict()
    assert state["done"] and state["t"] < 50
    other = cheap_env.make(base_lr=1e6, total_steps=60, eval_every=0)
    other.reset(seed=0)
    other.unwrapped.load_state_dict(state)
    with pytest.raises(RuntimeError, match="reset"):
        other.step(np.full(7, 10))


def test_state_dict_and_load_state_dict_before_reset_raise(cheap_env: CheapEnv) -> None:
    env = cheap_env.make()
    env.reset(seed=0)
    state = env.unwrapped.state_dict()
    fresh = cheap_env.make()
    with pytest.raises(RuntimeError, match=r"reset\(seed=...\) before load_state_dict"):
        fresh.unwrapped.load_state_dict(state)
    with pytest.raises(RuntimeError, match=r"reset\(\) before state_dict"):
        fresh.unwrapped.state_dict()


def test_the_teacher_cache_gives_the_losses_of_no_cache(cheap_env: CheapEnv, one_thread: None) -> None:
    """Whichever of a batch's samples were cached before, the losses are those computed without the cache.

    A resumed training run (a fresh env) fills the cache from other batches than the uninterrupted run did.
    When the teacher ran on a batch's uncached samples alone, their outputs depended on how many there were
    (convolutions and matrix products round differently for another batch size) and so did every later
    episode: a REINFORCE run resumed after two episodes ended with other weights than an uninterrupted one.
    """
    env = cheap_env.make(eval_every=0)
    env.reset(seed=0)
    optimizee, source = env.unwrapped.optimizee, env.unwrapped.source
    if not source.cacheable:
        pytest.skip(f"{cheap_env.env_id} augments its source images: nothing is cached")
    cached = source.next_batch()
    optimizee.forward_backward(*cached)
    size = len(cached[0])
    for _ in range(source.num_samples // size - 1):  # the rest of the epoch
        new = source.next_batch()
        for k in range(size):  # a batch with one sample not cached yet, at each position
            batch = [torch.cat([old[:k], fresh[k:k + 1], old[k + 1:]]) for old, fresh in zip(cached, new, strict=True)]
            assert optimizee.forward_backward(*batch) == optimizee.forward_backward(*batch[:2])  # keys: the cache
