"""Schedule agents: preset scales × a multiplier of t/T (observation index 2), on the 0.1 grid."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from agents import SCHEDULE_AGENTS, ScheduledPolicy, make_agent
from agents.schedules import SCHEDULES, multiplier, reference_warmup_fraction, round_to_grid
from tests.toy_lr_env import ToyLREnv


def _obs(progress: float, c: int = 7) -> np.ndarray:
    return np.array([2.3, 0.01, progress, 0.0, 0.03] + [1.0] * c, dtype=np.float32)


# hand_tuned: backbone 0.1, head 1.0; warm-up over the first 10 % of the episode.
EXPECTED = {  # t/T → (backbone scale, head scale)
    "warmup_poly": {0.0: (0.0, 0.0), 0.5: (0.1, 0.5), 1.0: (0.0, 0.2)},  # 0.01 at 0; 0.536; the 0.2**0.9 floor
    "cosine": {0.0: (0.1, 1.0), 0.5: (0.1, 0.5), 1.0: (0.0, 0.0)},  # 0.05 rounds up to 0.1
    "step": {0.0: (0.1, 1.0), 0.5: (0.1, 0.5), 1.0: (0.0, 0.3)},  # ×0.5 at 0.5 and 0.75; 0.25 rounds up
}


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_schedule_values_on_the_grid(schedule: str) -> None:
    policy = ScheduledPolicy("hand_tuned", schedule, 7, warmup_fraction=0.1)  # type: ignore[arg-type]
    for progress, (backbone, head) in EXPECTED[schedule].items():
        action, state = policy.predict(_obs(progress))
        assert state is None and action.dtype == np.int64
        np.testing.assert_array_equal(action, [round(backbone * 10)] * 6 + [round(head * 10)])
        scales = policy.scales_at(progress)
        np.testing.assert_allclose(scales * 10, np.round(scales * 10), atol=1e-12)  # multiples of 0.1
    batch = np.stack([_obs(p) for p in (0.0, 0.5, 1.0)])
    np.testing.assert_array_equal(policy.predict(batch)[0], [policy.predict(o)[0] for o in batch])


def test_multipliers_and_rounding() -> None:
    assert multiplier("warmup_poly", 0.0, warmup_fraction=0.1) == pytest.approx(0.01)
    assert multiplier("warmup_poly", 0.9, warmup_fraction=0.1) == pytest.approx(0.2 ** 0.9)  # held after 80 %
    assert multiplier("cosine", 0.5) == pytest.approx(0.5) and multiplier("step", 0.75) == 0.25
    np.testing.assert_array_equal(round_to_grid([0.05, 0.149, 0.15, 1.3, -0.2]), [0.1, 0.1, 0.2, 1.0, 0.0])
    with pytest.raises(ValueError, match="unknown schedule"):
        multiplier("linear", 0.5)  # type: ignore[arg-type]


def test_schedule_agents_through_make_agent() -> None:
    assert len(SCHEDULE_AGENTS) == 9 and "head_only_cosine" in SCHEDULE_AGENTS
    env = ToyLREnv()  # C = 3
    agent = make_agent("all_large_step", env, seed=4)
    np.testing.assert_array_equal(agent.predict(_obs(0.6, 3))[0], [5, 5, 5])
    np.testing.assert_array_equal(make_agent("head_only_cosine", env).predict(_obs(0.0, 3))[0], [0, 0, 10])
    custom = make_agent("all_large_step", env, gamma=0.1, milestones=[0.5])
    np.testing.assert_array_equal(custom.predict(_obs(0.6, 3))[0], [1, 1, 1])
    with pytest.raises(ValueError, match="takes warmup_fraction"):
        make_agent("all_large_step", env, power=2)


def test_reference_warmup_is_100_sgd_iterations() -> None:
    """From the env's public ``sgd_steps_per_episode`` (growing windows included), else ``total_steps``."""
    env = SimpleNamespace(unwrapped=SimpleNamespace(total_steps=300, sgd_steps_per_episode=600))
    assert reference_warmup_fraction(env) == pytest.approx(100 / 600)
    short = SimpleNamespace(unwrapped=SimpleNamespace(total_steps=6))
    assert reference_warmup_fraction(short) == 1.0
    assert reference_warmup_fraction(ToyLREnv()) == 0.1
