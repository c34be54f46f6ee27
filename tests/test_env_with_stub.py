"""``ASGTransferEnv`` alone, driving a scripted stub optimizee (as dm_control tests its env with a mock task).

The env depends only on the ``Optimizee`` and ``BatchSource`` protocols (``asg_gym.interfaces``)
and on a zero-argument evaluation, so every rule of ``docs/design.md`` §2 "Env contract" that is
the env's own (action → scales, SGD windows, reward, observation layout, evaluation schedule,
divergence, checkpoints) is checked here exactly, without a network. Also the one mapping
between actions and scales, ``asg_gym.spaces``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces

from asg_gym.envs.config import EnvConfig
from asg_gym.envs.transfer import ASGTransferEnv
from asg_gym.interfaces import Batch, BatchSource, LossTerms, StepStats
from asg_gym.spaces import OBS_LIMIT, action_space, action_to_scales, scales_to_action

BASE_LR = 0.1
LAM = 0.5


def scripted_loss(n: int) -> LossTerms:
    """The loss after SGD step n (0: L_0 at θ_0): falling, different at every step."""
    xe, kl = 2.0 / (1 + n), 0.01 * n
    return LossTerms(xe + LAM * kl, xe, kl)


def head_mean(n: int) -> float:
    return -0.001 * n


def head_std(n: int) -> float:
    return 0.01 + 0.001 * n


class StubSource:
    """Batch number i is ``(tensor([i.]), tensor([0]), tensor([i]))``: its sample id tells which batch it was."""

    num_samples = 100
    cacheable = True

    def __init__(self) -> None:
        self.seeds: list[int] = []
        self.position = 0

    def reset(self, seed: int) -> None:
        self.seeds.append(seed)
        self.position = 0

    def next_batch(self) -> Batch:
        i = self.position
        self.position += 1
        return torch.tensor([float(i)]), torch.tensor([0]), torch.tensor([i])

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.position = state["position"]


class StubOptimizee:
    """Records what the env asks of it; reports ``script(n)`` after its n-th SGD step."""

    coordinate_names = ("early", "late", "head")

    def __init__(self, script: Callable[[int], LossTerms] = scripted_loss) -> None:
        self.script = script
        self.calls: list[str] = []
        self.scales: list[Sequence[float]] = []  # as received by every train_step
        self.batches: list[int] = []  # the batch number given to start and to every train_step
        self.seeds: list[int] = []
        self.prepared_with: BatchSource | None = None
        self.n = 0  # SGD steps since reset

    def prepare(self, source: BatchSource) -> None:
        self.calls.append("prepare")
        self.prepared_with = source

    def reset(self, seed: int) -> None:
        self.calls.append("reset")
        self.seeds.append(seed)
        self.n = 0

    def start(self, batch: Batch) -> StepStats:
        self.calls.append("start")
        self.batches.append(int(batch[2][0]))
        return self._stats([1.0] * 3)

    def train_step(self, scales: Sequence[float], batch: Batch) -> StepStats:
        self.calls.append("train_step")
        self.scales.append(scales)
        self.batches.append(int(batch[2][0]))
        self.n += 1
        return self._stats(scales)

    def _stats(self, scales: Sequence[float]) -> StepStats:
        return StepStats(self.script(self.n), tuple(s * BASE_LR for s in scales), head_mean(self.n), head_std(self.n))

    def state_dict(self) -> dict[str, Any]:
        return {"n": self.n}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.n = state["n"]


@dataclasses.dataclass
class Stubbed:
    env: ASGTransferEnv
    optimizee: StubOptimizee
    source: StubSource
    evaluated_at: list[int]  # the optimizee's SGD step at every evaluation


def make(script: Callable[[int], LossTerms] = scripted_loss, target_metric: str = "target_accuracy",
         **config: Any) -> Stubbed:
    settings = {"weights": None, "lam": LAM, "base_lr": BASE_LR, "batch_size": 1, "total_steps": 4, **config}
    optimizee, source, evaluated_at = StubOptimizee(script), StubSource(), []
    evaluation = lambda: (evaluated_at.append(optimizee.n),  # noqa: E731
                          {target_metric: 0.25, "old_task_agreement": 0.75})[1]
    env = ASGTransferEnv(optimizee=optimizee, source=source, evaluation=evaluation, config=EnvConfig(**settings),
                         target_metric=target_metric)
    return Stubbed(env, optimizee, source, evaluated_at)


def expected_obs(loss: LossTerms, progress: float, n: int, scales: Sequence[float]) -> np.ndarray:
    return np.array([loss.xe, loss.kl, progress, head_mean(n), head_std(n), *scales]).astype(np.float32)


def window_mean(steps: Sequence[int]) -> LossTerms:
    terms = [scripted_loss(n) for n in steps]
    return LossTerms(*(sum(getattr(t, f) for t in terms) / len(terms) for f in ("total", "xe", "kl")))


# ------------------------------------------------------------------------------ the protocol
def test_spaces_follow_the_optimizee_coordinates() -> None:
    env = make().env
    assert env.coordinate_names == ("early", "late", "head")
    assert env.action_space == spaces.MultiDiscrete([11] * 3)
    assert env.observation_space.shape == (5 + 3,) and env.observation_space.dtype == np.float32


def test_protocol_order_and_seeds() -> None:
    stub = make()
    assert stub.optimizee.calls == ["prepare"] and stub.optimizee.prepared_with is stub.source
    stub.env.reset(seed=7)
    assert stub.optimizee.calls == ["prepare", "reset", "start"]  # prepare once, L_0 from start
    stub.env.step([1, 1, 1])
    assert stub.optimizee.calls[-1] == "train_step" and stub.optimizee.batches == [0, 1]
    stub.env.reset(seed=7)
    stub.env.reset(seed=8)
    seeds = list(zip(stub.optimizee.seeds, stub.source.seeds, strict=True))  # (model seed, data seed) per reset
    assert seeds[0] == seeds[1] != seeds[2]
    assert all(type(s) is int for pair in seeds for s in pair)
    assert stub.optimizee.calls.count("prepare") == 1


def test_action_k_is_scale_k_over_10_exactly() -> None:
    stub = make(total_steps=11)
    stub.env.reset(seed=0)
    for k in range(11):
        obs, _, _, _, info = stub.env.step(np.array([k, 10 - k, k]))
        expected = [k / 10, (10 - k) / 10, k / 10]
        assert stub.optimizee.scales[-1] == expected and all(type(s) is float for s in stub.optimizee.scales[-1])
        assert info["scale"] == expected
        assert info["lr"] == [s * BASE_LR for s in expected]  # the optimizee's report, passed on
        np.testing.assert_array_equal(obs[5:], np.array(expected, dtype=np.float32))


def test_one_train_step_per_sgd_step_and_window_means() -> None:
    stub = make(sgd_steps_per_action=3, total_steps=2)
    _, info = stub.env.reset(seed=0)
    assert info["loss"] == scripted_loss(0).total and info["sgd_step"] == 0
    obs, reward, _, _, info = stub.env.step([2, 5, 10])
    assert stub.optimizee.scales == [[0.2, 0.5, 1.0]] * 3  # the action's scales for every SGD step of the window
    assert stub.optimizee.batches == [0, 1, 2, 3]  # a new batch each
    first = window_mean([1, 2, 3])
    assert (info["loss"], info["loss_xe"], info["loss_kl"]) == pytest.approx((first.total, first.xe, first.kl),
                                                                             abs=1e-15)
    assert reward == pytest.approx(scripted_loss(0).total - first.total, abs=1e-15)
    assert info["sgd_step"] == 3
    np.testing.assert_allclose(obs, expected_obs(first, 1 / 2, 3, [0.2, 0.5, 1.0]), rtol=1e-7)
    _, reward, _, truncated, info = stub.env.step([0, 0, 0])
    second = window_mean([4, 5, 6])
    assert reward == pytest.approx(first.total - second.total, abs=1e-15)  # previous window mean - this one
    assert info["sgd_step"] == 6 and truncated and len(stub.optimizee.scales) == 6


def test_observation_layout() -> None:
    """``[L_XE, L_KL, t/T, mean(θ_n), std(θ_n), previous scales]``, float32; scales 1 at reset."""
    stub = make(total_steps=4)
    obs, info = stub.env.reset(seed=0)
    np.testing.assert_array_equal(obs, expected_obs(scripted_loss(0), 0.0, 0, [1.0, 1.0, 1.0]))
    assert obs.dtype == np.float32 and info["scale"] == [1.0, 1.0, 1.0]
    previous = scripted_loss(0)
    for t, action in enumerate(([2, 5, 10], [0, 3, 7], [10, 10, 10]), start=1):
        obs, reward, _, _, info = stub.env.step(np.array(action))
        np.testing.assert_array_equal(obs, expected_obs(scripted_loss(t), t / 4, t, [a / 10 for a in action]))
        assert reward == previous.total - scripted_loss(t).total and type(reward) is float
        assert (info["loss"], info["loss_xe"], info["loss_kl"]) == (scripted_loss(t).total, scripted_loss(t).xe,
                                                                    scripted_loss(t).kl)
        previous = scripted_loss(t)


def test_observation_is_clipped_into_the_space() -> None:
    def wild(n: int) -> LossTerms:
        return LossTerms(5e3, 5e3, 0.0) if n else scripted_loss(0)

    stub = make(script=wild)
    stub.env.reset(seed=0)
    obs, *_ = stub.env.step([1, 1, 1])
    assert obs[0] == OBS_LIMIT and stub.env.observation_space.contains(obs)


@pytest.mark.parametrize(("every", "total", "evaluated"), [(2, 5, [2, 4, 5]), (0, 3, [3]), (1, 2, [1, 2])])
def test_evaluation_every_eval_every_actions_and_at_the_end(every: int, total: int, evaluated: list[int]) -> None:
    stub = make(eval_every=every, total_steps=total)
    _, info = stub.env.reset(seed=0)
    assert stub.evaluated_at == [] and "target_accuracy" not in info  # reset does not evaluate
    for t in range(1, total + 1):
        _, _, _, _, info = stub.env.step([1, 1, 1])
        assert ("target_accuracy" in info) == (t in evaluated)
        if t in evaluated:
            assert info["target_accuracy"] == 0.25 and info["old_task_agreement"] == 0.75
    assert stub.evaluated_at == evaluated  # once each time, after that action's SGD steps


def test_target_metric_names_the_score_in_info_and_render() -> None:
    stub = make(target_metric="target_miou", eval_every=1, render_mode="ansi")
    stub.env.reset(seed=0)
    _, _, _, _, info = stub.env.step([1, 1, 1])
    assert info["target_miou"] == 0.25
    assert "target_miou=0.250" in stub.env.render()


def test_truncation_and_step_after_the_end() -> None:
    stub = make(total_steps=2)
    stub.env.reset(seed=0)
    assert stub.env.step([1, 1, 1])[2:4] == (False, False)
    assert stub.env.step([1, 1, 1])[2:4] == (False, True)
    calls = len(stub.optimizee.calls)
    with pytest.raises(RuntimeError, match="reset"):
        stub.env.step([1, 1, 1])
    assert len(stub.optimizee.calls) == calls


# ------------------------------------------------------------------------------- divergence
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_divergence_keeps_the_last_finite_losses(bad: float) -> None:
    def diverging(n: int) -> LossTerms:
        return LossTerms(bad, bad, 0.0) if n == 2 else scripted_loss(n)

    stub = make(script=diverging, crash_penalty=-3.5, total_steps=5, eval_every=0)
    stub.env.reset(seed=0)
    before, _, _, _, info = stub.env.step([1, 1, 1])
    assert info["diverged"] is False and stub.evaluated_at == []
    obs, reward, terminated, truncated, info = stub.env.step([3, 3, 3])
    assert terminated and not truncated and reward == -3.5 and type(reward) is float
    assert info["diverged"] is True and not math.isfinite(info["loss"])  # info shows the bad loss
    np.testing.assert_array_equal(obs[:2], before[:2])  # the observation keeps the last finite losses
    assert obs[2] == np.float32(2 / 5) and stub.env.observation_space.contains(obs)
    np.testing.assert_array_equal(obs[5:], np.full(3, 0.3, dtype=np.float32))
    assert stub.evaluated_at == [2] and info["target_accuracy"] == 0.25  # the end of the episode is evaluated
    with pytest.raises(RuntimeError, match="reset"):
        stub.env.step([1, 1, 1])
    stub.env.reset(seed=0)  # a new episode starts normally
    assert stub.env.step([1, 1, 1])[4]["diverged"] is False


def test_divergence_ends_the_sgd_window_early() -> None:
    stub = make(script=lambda n: LossTerms(math.nan, math.nan, 0.0) if n == 2 else scripted_loss(n),
                sgd_steps_per_action=3, crash_penalty=-1.0)
    stub.env.reset(seed=0)
    _, reward, terminated, _, info = stub.env.step([1, 1, 1])
    assert terminated and reward == -1.0
    assert stub.optimizee.calls.count("train_step") == 2 and info["sgd_step"] == 2  # no step after the NaN


# ------------------------------------------------------------------------------ checkpoints
def test_state_dict_delegates_and_resumes() -> None:
    stub = make(total_steps=5)
    stub.env.reset(seed=0)
    stub.env.step([1, 2, 3])
    obs, *_ = stub.env.step([4, 5, 6])
    state = stub.env.state_dict()
    assert state["optimizee"] == {"n": 2} and state["source"] == {"position": 3}
    assert (state["t"], state["sgd_step"], state["scales"]) == (2, 2, [0.4, 0.5, 0.6])
    rest = [stub.env.step([7, 7, 7]) for _ in range(3)]
    other = make(total_steps=5)
    other.env.reset(seed=0)
    other.env.load_state_dict(state)
    assert other.optimizee.n == 2 and other.source.position == 3
    np.testing.assert_equal([other.env.step([7, 7, 7]) for _ in range(3)], rest)
    assert other.optimizee.batches[-3:] == [3, 4, 5]
    with pytest.raises(RuntimeError, match="reset"):
        make().env.load_state_dict(state)
    with pytest.raises(RuntimeError, match="reset"):
        make().env.state_dict()
    np.testing.assert_array_equal(obs, expected_obs(scripted_loss(2), 2 / 5, 2, [0.4, 0.5, 0.6]))


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("action", [[1, 1], [1, 1, 11], [1, -1, 1], [0.5, 1, 1], "abc", [[1], [1], [1]]])
def test_a_bad_action_reaches_nothing(action: Any) -> None:
    stub = make()
    stub.env.reset(seed=0)
    calls = list(stub.optimizee.calls)
    with pytest.raises(ValueError, match=r"MultiDiscrete\(\[11 11 11\]\)"):
        stub.env.step(action)
    assert stub.optimizee.calls == calls and stub.source.position == 1


@pytest.mark.parametrize(("config", "match"), [
    ({"total_steps": None}, "total_steps"),
    ({"total_steps": 0}, "total_steps"),
    ({"sgd_steps_per_action": 0}, "sgd_steps_per_action"),
    ({"eval_every": -1}, "eval_every"),
    ({"render_mode": "human"}, "render_mode"),
])
def test_bad_settings_are_refused_before_the_optimizee_is_touched(config: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make(**config)


def test_gymnasium_check_env_on_the_stub() -> None:
    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(make(total_steps=50).env, skip_render_check=True)


# ------------------------------------------------------------------- actions <-> scales
def test_action_to_scales_and_back_round_trip() -> None:
    space = action_space(3)
    for k in range(11):
        action = np.array([k, 10 - k, 0])
        scales = action_to_scales(action, space)
        assert scales.dtype == np.float64 and scales.tolist() == [k / 10, (10 - k) / 10, 0.0]
        np.testing.assert_array_equal(scales_to_action(scales), action)
        assert scales_to_action(scales).dtype == np.int64
    np.testing.assert_array_equal(scales_to_action([0.0, 0.1, 0.7, 1.0]), [0, 1, 7, 10])
    np.testing.assert_array_equal(action_to_scales([0, 3, 10], space), [0.0, 0.3, 1.0])  # lists too
    assert action_to_scales(np.array([1, 2, 3], dtype=np.int32), space).tolist() == [0.1, 0.2, 0.3]


@pytest.mark.parametrize("action", [[1, 1], [1, 1, 11], [-1, 1, 1], [0.5, 1, 1], [np.nan, 1, 1], "abc",
                                    [[1], [1], [1]], None])
def test_action_to_scales_errors_name_the_space(action: Any) -> None:
    with pytest.raises(ValueError, match=r"MultiDiscrete\(\[11 11 11\]\)"):
        action_to_scales(action, action_space(3))


@pytest.mark.parametrize("scales", [[0.25], [1.1], [-0.1], [0.3, 2.0]])
def test_scales_to_action_refuses_off_grid_scales(scales: list[float]) -> None:
    with pytest.raises(ValueError, match=r"multiples of 0\.1 in \[0, 1\]"):
        scales_to_action(scales)
