"""Learning-rate controllers for the ASG environments, all behind one SB3-shaped interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.base import Agent
from agents.baselines import PRESETS, ConstantPolicy, RandomInitPolicy, RandomPolicy, preset_scales
from agents.cards import decision_env_kwargs, deployment_env_kwargs, deploys_greedily
from agents.lstm_policy import ReinforceLSTMPolicy
from agents.pretrained import (
    POLICIES,
    PretrainedPolicy,
    load_pretrained,
    pretrained_deterministic,
    pretrained_env_kwargs,
    pretrained_path,
)
from agents.reinforce_lstm import PRESETS as REINFORCE_PRESETS
from agents.reinforce_lstm import ReinforceLSTMAgent
from agents.rollouts import LocalRollouts, RayRollouts, Rollouts
from agents.sb3_agents import A2CAgent, EnvOrVecEnv, PPOAgent, RecurrentPPOAgent, SB3Agent
from agents.schedules import SCHEDULE_AGENTS, ScheduledPolicy, make_schedule_agent
from agents.training import StepCallback, StepRecord, asg_num_coordinates
from agents.tuned_constant import TunedConstantAgent
from asg_gym.spaces import scales_to_action

_SB3_AGENTS: dict[str, type[SB3Agent]] = {"ppo": PPOAgent, "a2c": A2CAgent, "recurrent_ppo": RecurrentPPOAgent}
LEARNING_AGENTS = ("reinforce_lstm", *_SB3_AGENTS)
"""Agents with ``learn``/``save``/``load``."""
AGENT_NAMES = (*LEARNING_AGENTS, *PRESETS, "random", "random_init", *SCHEDULE_AGENTS, "tuned_constant", "pretrained")
"""Every name :func:`make_agent` knows (``tuned_constant`` learns but is not saved by :func:`load_agent`;
``pretrained`` deploys a saved policy frozen: :class:`agents.pretrained.PretrainedPolicy`)."""


def make_agent(name: str, env: EnvOrVecEnv, **kwargs: Any) -> Any:
    """The agent called ``name`` (see :data:`AGENT_NAMES`) for ``env``'s C coordinates.

    ``kwargs`` go to the agent's constructor; ``seed`` is accepted by every agent (ignored by
    the constant presets); ``reinforce_lstm`` also takes ``preset`` (``"paper"``, the default, or
    ``"stabilized"``, ``"entropy_floor"``, ``"recommended"``, ``"paired"``: :data:`REINFORCE_PRESETS`), which the other
    keywords override; ``pretrained`` takes ``policy`` (an env id with a shipped policy, or a policy file).
    ``env`` is a ``gym.Env``, or rollout slots (``reinforce_lstm``: an ``agents.Rollouts``)
    or an SB3 vector env (SB3 agents).
    """
    c = asg_num_coordinates(env.observation_space, env.action_space)
    if name == "reinforce_lstm":  # preset: a named set of options (REINFORCE_PRESETS), under the explicit ones
        preset = kwargs.pop("preset", "paper")
        if preset not in REINFORCE_PRESETS:
            raise ValueError(f"unknown reinforce_lstm preset {preset!r}; presets: {', '.join(REINFORCE_PRESETS)}")
        return ReinforceLSTMAgent(env, **{**REINFORCE_PRESETS[preset], **kwargs})
    if name in _SB3_AGENTS:
        return _SB3_AGENTS[name](env, **kwargs)
    if name == "tuned_constant":
        return TunedConstantAgent(env, **kwargs)
    if name in SCHEDULE_AGENTS:
        return make_schedule_agent(name, env, c, **kwargs)
    if name == "pretrained":
        return PretrainedPolicy(c, **kwargs)
    seed = kwargs.pop("seed", None)
    if kwargs:
        raise ValueError(f"agent {name!r} takes no options besides seed, got {sorted(kwargs)}")
    if name in PRESETS:
        return ConstantPolicy(name, num_coordinates=c)
    if name == "random":
        return RandomPolicy(c, seed=seed)
    if name == "random_init":
        return RandomInitPolicy(c, seed=seed)
    raise ValueError(f"unknown agent {name!r}; choose one of {', '.join(AGENT_NAMES)}")


def load_agent(name: str, path: str | Path, env: gym.Env | Rollouts | EnvOrVecEnv | None = None
               ) -> ReinforceLSTMAgent | SB3Agent:
    """Load a learning agent saved by its ``save``; ``env`` (as for :func:`make_agent`) to go on learning."""
    if name == "reinforce_lstm":
        return ReinforceLSTMAgent.load(path, env=env)
    if name in _SB3_AGENTS:
        return _SB3_AGENTS[name].load(path, env=env)
    raise ValueError(f"only learning agents are saved; {name!r} is not one of {', '.join(LEARNING_AGENTS)}")


__all__ = [
    "AGENT_NAMES",
    "LEARNING_AGENTS",
    "POLICIES",
    "PRESETS",
    "REINFORCE_PRESETS",
    "SCHEDULE_AGENTS",
    "A2CAgent",
    "Agent",
    "ConstantPolicy",
    "LocalRollouts",
    "PPOAgent",
    "PretrainedPolicy",
    "RandomInitPolicy",
    "RandomPolicy",
    "RayRollouts",
    "RecurrentPPOAgent",
    "ReinforceLSTMAgent",
    "ReinforceLSTMPolicy",
    "Rollouts",
    "SB3Agent",
    "ScheduledPolicy",
    "StepCallback",
    "StepRecord",
    "TunedConstantAgent",
    "asg_num_coordinates",
    "decision_env_kwargs",
    "deployment_env_kwargs",
    "deploys_greedily",
    "load_agent",
    "load_pretrained",
    "make_agent",
    "preset_scales",
    "pretrained_deterministic",
    "pretrained_env_kwargs",
    "pretrained_path",
    "scales_to_action",
]
