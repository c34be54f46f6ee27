"""The baselines: constant presets (all_large, hand_tuned, head_only), random and random-init policies."""

from __future__ import annotations

import numpy as np
import pytest

from agents import PRESETS, ConstantPolicy, RandomInitPolicy, RandomPolicy, preset_scales, scales_to_action


def test_constant_presets_and_random_init_policy() -> None:
    obs = np.zeros(12, dtype=np.float32)
    expected = {"all_large": [10] * 7, "hand_tuned": [1] * 6 + [10], "head_only": [0] * 6 + [10]}
    assert set(expected) == set(PRESETS)
    for name, action in expected.items():
        policy = ConstantPolicy(name, num_coordinates=7)
        np.testing.assert_array_equal(policy.predict(obs)[0], action)
        np.testing.assert_array_equal(policy.predict(np.zeros((3, 12)))[0], [action] * 3)
    random_init = RandomInitPolicy(num_coordinates=7, seed=0)
    first, state = random_init.predict(obs, None, np.array([True]))
    for _ in range(5):  # held within the episode
        action, state = random_init.predict(obs, state, None)
        np.testing.assert_array_equal(action, first)
    redraws = [random_init.predict(obs, state, np.array([True]))[0] for _ in range(3)]
    assert any(not np.array_equal(r, first) for r in redraws)
    draws = np.stack([RandomPolicy(7, seed=0).predict(obs)[0] for _ in range(2)] +
                     [RandomPolicy(7, seed=1).predict(obs)[0]])
    assert np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[0], draws[2])
    assert draws.min() >= 0 and draws.max() <= 10


def test_preset_scales_and_explicit_constant_scales() -> None:
    assert preset_scales("all_large", 3) == [1.0, 1.0, 1.0]
    assert preset_scales("hand_tuned", 3) == [0.1, 0.1, 1.0]
    assert preset_scales("head_only", 3) == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="unknown preset"):
        preset_scales("tiny", 7)
    np.testing.assert_array_equal(ConstantPolicy([0.0, 0.5, 1.0]).predict(np.zeros(8))[0],
                                  scales_to_action([0.0, 0.5, 1.0]))
    with pytest.raises(ValueError, match=r"multiples of 0\.1"):
        ConstantPolicy([0.25, 0.5, 1.0])
