"""``agents.make_agent``: every agent name, and the ASG layout every agent checks before anything else."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from agents import (
    AGENT_NAMES,
    SCHEDULE_AGENTS,
    A2CAgent,
    ConstantPolicy,
    PPOAgent,
    PretrainedPolicy,
    RandomInitPolicy,
    RandomPolicy,
    RecurrentPPOAgent,
    ReinforceLSTMAgent,
    ScheduledPolicy,
    TunedConstantAgent,
    make_agent,
)
from tests.toy_lr_env import ToyLREnv


class WrongLayout(ToyLREnv):
    """C = 3 actions but a Box(4 + 3,) observation."""

    def __init__(self) -> None:
        super().__init__()
        self.observation_space = spaces.Box(-1, 1, shape=(4 + 3,), dtype=np.float32)


def test_make_agent_knows_every_name(tmp_path: Path) -> None:
    env = ToyLREnv()
    saved = tmp_path / "toy_policy.pt"
    ReinforceLSTMAgent(env, seed=0).save(saved)
    kinds = {"pretrained": PretrainedPolicy, "reinforce_lstm": ReinforceLSTMAgent, "ppo": PPOAgent, "a2c": A2CAgent,
             "recurrent_ppo": RecurrentPPOAgent, "all_large": ConstantPolicy, "hand_tuned": ConstantPolicy,
             "head_only": ConstantPolicy, "random": RandomPolicy, "random_init": RandomInitPolicy,
             "tuned_constant": TunedConstantAgent, **dict.fromkeys(SCHEDULE_AGENTS, ScheduledPolicy)}
    assert set(kinds) == set(AGENT_NAMES)
    for name, kind in kinds.items():
        tuned = name == "tuned_constant"  # the toy env has no total_steps: tell the search its episode length
        options = {"episode_length": env.episode_length} if tuned else {"policy": str(saved)} if name == "pretrained" \
            else {}
        agent = make_agent(name, env, seed=0, **options)
        assert isinstance(agent, kind)
        if tuned:  # it acts only after its search
            agent.learn(2 * env.episode_length)
        action, _ = agent.predict(env.reset(seed=0)[0], episode_start=np.array([True]))
        assert env.action_space.contains(np.asarray(action, dtype=np.int64)), name


@pytest.mark.parametrize("name", AGENT_NAMES)
def test_every_agent_refuses_envs_without_the_asg_layout(name: str) -> None:
    with pytest.raises(ValueError, match=r"Box\(5 \+ C,\)"):
        make_agent(name, WrongLayout())
    with pytest.raises(ValueError, match="MultiDiscrete"):
        make_agent(name, gym.make("CartPole-v1"))


def test_unknown_names_and_options() -> None:
    with pytest.raises(ValueError, match="unknown agent"):
        make_agent("sac", ToyLREnv())
    with pytest.raises(ValueError, match="takes no options besides seed"):
        make_agent("hand_tuned", ToyLREnv(), gamma=0.9)
