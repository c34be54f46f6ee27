"""A learned policy is deployed as it was trained: its card's decision window, its actions sampled (or
greedy, where its card says so).

Covers :mod:`agents.cards` and how the figure scripts (:mod:`experiments.runner`) deploy a frozen policy.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.cards import decision_env_kwargs, deployment_env_kwargs, deploys_greedily, write_card
from experiments.runner import CurveArgs, SavedPolicy, Setting, env_keywords, learned_setting, run_one


def test_a_card_keeps_the_training_env_without_its_evaluation_keywords(tmp_path: Path) -> None:
    policy = tmp_path / "policy.pt"
    assert deployment_env_kwargs(policy) == {}  # no card: the env's defaults
    kwargs = {"sgd_steps_per_action": 10, "total_steps": 30, "momentum_style": "reference", "eval_every": 0,
              "eval_size": 10, "backbone": "toy"}
    write_card(policy, {"env": "ASG-Digits-v0", "env_kwargs": kwargs})
    assert deployment_env_kwargs(policy) == {"sgd_steps_per_action": 10, "total_steps": 30,
                                             "momentum_style": "reference", "backbone": "toy"}
    assert decision_env_kwargs(deployment_env_kwargs(policy)) == {"sgd_steps_per_action": 10,
                                                                  "momentum_style": "reference"}
    assert not list(tmp_path.glob("*.tmp"))
    policy.with_suffix(".json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a policy card"):
        deployment_env_kwargs(policy)


def test_a_card_says_whether_its_policy_is_sampled_or_greedy(tmp_path: Path) -> None:
    policy = tmp_path / "policy.pt"
    assert not deploys_greedily(policy)  # no card: sampled, as it was trained
    write_card(policy, {"env": "ASG-Digits-v0", "env_kwargs": {}})
    assert not deploys_greedily(policy)
    write_card(policy, {"env": "ASG-Digits-v0", "env_kwargs": {}, "deployment": "greedy"})
    assert deploys_greedily(policy)
    with pytest.raises(ValueError, match="one of sampled, greedy"):
        write_card(policy, {"env": "ASG-Digits-v0", "env_kwargs": {}, "deployment": "argmax"})
    assert deploys_greedily(policy)  # the refused card did not replace the old one
    policy.with_suffix(".json").write_text('{"env_kwargs": {}, "deployment": "mode"}')
    with pytest.raises(ValueError, match="'deployment' is 'mode'"):
        deploys_greedily(policy)


def test_train_policy_writes_the_card_beside_the_policy(tmp_path: Path, digits_kwargs: dict) -> None:
    from tests import commands

    kwargs = {**digits_kwargs, "total_steps": 2, "sgd_steps_per_action": 2}
    saved = commands.train(["--env-kwargs", json.dumps(kwargs), "--episodes", "1", "--out", str(tmp_path / "run"),
                               "--save", str(tmp_path / "policy.pt"), "--no-progress", "--no-tensorboard"])
    card = json.loads(saved.with_suffix(".json").read_text())
    assert card["env"] == "ASG-Digits-v0" and card["training"]["episodes"] == 1
    row = next(csv.DictReader((tmp_path / "run" / "episodes.csv").open()))  # one episode: early = late = it
    assert card["training"]["return_early"] == card["training"]["return_late"] == round(float(row["return"]), 4)
    assert 0 < card["training"]["entropy_early"] <= round(math.log(11), 4)  # rounded like the card
    assert "eval_every" not in card["env_kwargs"] and card["env_kwargs"]["sgd_steps_per_action"] == 2
    assert SavedPolicy(str(saved), "ASG-Digits-v0").decision_env_kwargs() == {"sgd_steps_per_action": 2}


def carded_policy(tmp_path: Path, window: int) -> SavedPolicy:
    path = tmp_path / "policy.pt"
    write_card(path, {"env": "ASG-Digits-v0", "env_kwargs": {"sgd_steps_per_action": window, "total_steps": 30}})
    return SavedPolicy(str(path), "ASG-Digits-v0")


def test_a_learned_setting_samples_on_its_window_and_spans_the_same_sgd_steps(tmp_path: Path) -> None:
    args = CurveArgs(total_steps=300, eval_every=100)
    learned = learned_setting("rl_l2o", 0.1, carded_policy(tmp_path, 10), args)
    assert (learned.name, learned.sampled) == ("rl_l2o", True)
    assert env_keywords(args, learned) == {"lam": 0.1, "eval_every": 10, "total_steps": 30, "sgd_steps_per_action": 10}
    constant = Setting("hand_tuned", 0.1, lambda env: None)
    assert env_keywords(args, constant) == {"lam": 0.1, "eval_every": 100, "total_steps": 300}
    greedy = learned_setting("rl_l2o", 0.1, carded_policy(tmp_path, 10), CurveArgs(total_steps=300, greedy=True))
    assert (greedy.name, greedy.sampled) == ("rl_l2o/greedy", False)  # its own rows: never mixed with sampled ones
    policy = carded_policy(tmp_path, 10)
    assert policy.path is not None
    write_card(policy.path, {"env": "ASG-Digits-v0", "env_kwargs": {"sgd_steps_per_action": 10},
                             "deployment": "greedy"})
    by_card = learned_setting("rl_l2o", 0.1, policy, args)  # no --greedy: the card decides
    assert (by_card.name, by_card.sampled) == ("rl_l2o/greedy", False)


@pytest.mark.parametrize(("flags", "message"), [
    ({"total_steps": 305}, r"--total-steps 305 is not a whole number of decisions of 10"),
    ({"total_steps": 300, "eval_every": 15}, r"--eval-every 15"),
    ({"total_steps": None}, r"give --total-steps"),
    ({"total_steps": 300, "env_kwargs": '{"sgd_steps_per_action": 5}'}, r"sets otherwise"),
])
def test_a_horizon_a_windowed_policy_cannot_run_stops_the_script(tmp_path: Path, flags: dict, message: str) -> None:
    args = CurveArgs(**flags)
    with pytest.raises(SystemExit, match=message):
        env_keywords(args, learned_setting("rl_l2o", 0.1, carded_policy(tmp_path, 10), args))


def test_the_same_window_from_env_kwargs_and_the_card_is_no_clash(tmp_path: Path) -> None:
    args = CurveArgs(total_steps=300, env_kwargs='{"sgd_steps_per_action": 10}')
    constant = Setting("hand_tuned", 0.1, lambda env: None)
    assert env_keywords(args, constant)["total_steps"] == 30  # every row decides every 10 SGD steps then
    assert env_keywords(args, learned_setting("rl_l2o", 0.1, carded_policy(tmp_path, 10), args))["total_steps"] == 30


class Probe:
    """Records how each ``predict`` was asked to act."""

    def __init__(self) -> None:
        self.deterministic: list[bool] = []

    def predict(self, obs: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False) -> Any:
        self.deterministic.append(deterministic)
        return np.zeros(7, dtype=np.int64), state


@pytest.mark.parametrize("sampled", [True, False])
def test_run_one_samples_a_sampled_setting(tmp_path: Path, digits_kwargs: dict, sampled: bool) -> None:
    import gymnasium as gym

    from experiments.common import ResumableCSV
    from experiments.curves import CURVE_FIELDS

    probe = Probe()
    setting = Setting("probe", 0.1, lambda env: probe, sampled=sampled)
    table = ResumableCSV(tmp_path / "curves.csv", CURVE_FIELDS, ["setting", "lam", "seed"])
    run_one(table, setting, 0, gym.make("ASG-Digits-v0", **{**digits_kwargs, "total_steps": 2}), None)
    assert probe.deterministic == [not sampled] * 2 and table.done(setting="probe", lam=0.1, seed=0)


def test_curve_tables_carry_the_benchmark_statistics(tmp_path: Path) -> None:
    from experiments.curves import interval_table

    rng = np.random.default_rng(0)
    curves = {(name, 0.1): {seed: [(300, float(base + 0.01 * rng.standard_normal()), 0.5)] for seed in range(10)}
              for name, base in (("hand_tuned", 0.5), ("rl_l2o", 0.6))}
    table = interval_table(curves, lambda s, lam: s, reference=lambda s, lam: ("hand_tuned", 0.1), reps=200)
    assert "P(improvement over hand_tuned)" in table
    learned = next(line for line in table.splitlines() if line.startswith("| rl_l2o"))
    assert "| 10 | 0.59" in learned and "1.000 [1.000, 1.000]" in learned and "10/0/0" in learned
    # Curves compared each with its own reference (e.g. its λ = 0 twin): no single row to compare with here.
    per_curve = interval_table(curves, lambda s, lam: s, reference=lambda s, lam: (s, 0.0), reps=200)
    assert "P(improvement)" in per_curve and "1.000 [" not in per_curve


def test_a_sampled_agent_draws_from_generators_seeded_by_the_episode(digits_kwargs: dict) -> None:
    import gymnasium as gym

    from agents import ReinforceLSTMAgent
    from experiments.runner import acting_agent

    env = gym.make("ASG-Digits-v0", **digits_kwargs)
    setting = Setting("rl_l2o", 0.1, lambda env: ReinforceLSTMAgent(env, seed=0), sampled=True)
    obs = np.zeros(env.observation_space.shape, dtype=np.float32)

    def actions(seed: int) -> np.ndarray:
        agent = acting_agent(setting, env, seed)
        return np.stack([agent.predict(obs, deterministic=False)[0] for _ in range(20)])

    assert np.array_equal(actions(3), actions(3)) and not np.array_equal(actions(3), actions(4))
