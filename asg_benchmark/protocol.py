"""What one benchmark is: env, agents, seeds, budget and draws, checked against the protocol.

The protocol (``docs/benchmark.md``, ``docs/design.md`` §4): every learning agent trains for the
same number of env steps on training episodes, is frozen, and is evaluated on at least 10
evaluation seeds disjoint from the training seeds; stochastic policies are sampled (several
draws per evaluation seed), greedy evaluation is its own row; the score is the final target
accuracy on the full real target set, old-task agreement beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator

import asg_gym  # noqa: F401  (registers the ids)
from asg_benchmark.errors import AgentError, ProtocolError
from asg_benchmark.registry import AgentSpec, resolve_agent, split_label
from asg_benchmark.seeds import check_seeds

# Protocol settings, under the user's --env-kwargs: the score is on the full real test split (all 5,000
# MNIST images; the 1,797 UCI digits; ASG-DigitsOnPhotos' 4,000 not held out for validation), and
# only the final evaluation counts (eval_every for curves).
TARGET_IMAGES = {"mnist": 5000, "uci": 1797, "mnist_m": 5000}  # asg_gym.data.real_digits' sets
# DigitsEnv and the tasks built on it
DIGITS_FAMILY = ("ASG-Digits-v0", "ASG-DigitsOnPhotos-v1", "ASG-DigitsOnPhotos-v0")
COMMON_ENV_KWARGS: dict[str, Any] = {"eval_every": 0}
# Decision windows of 10 SGD steps (the reference code's shortest): the per-decision reward's
# signal-to-noise is 0.04 / 0.40 / 0.70 / 1.02 for windows of 1 / 5 / 10 / 20 steps
# (experiments/studies/reward_snr.py, results/reward_snr/); 30 decisions keep the env's 300 SGD steps.
DIGITS_DECISIONS: dict[str, Any] = {"sgd_steps_per_action": 10, "total_steps": 30}


def protocol_env_kwargs(env: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The protocol's keywords for ``env`` given the user's (which win over them)."""
    if env in DIGITS_FAMILY:
        return {**COMMON_ENV_KWARGS, **DIGITS_DECISIONS, "eval_size": whole_split(env, given)}
    return dict(COMMON_ENV_KWARGS)


def whole_split(env: str, given: Mapping[str, Any]) -> int:
    """The target images of the split a Digits-family ``env`` scores on, from the env class's own defaults and
    held-out size: the test split (every image not held out for validation), or the validation split."""
    task: Any = load_env_creator(str(gym.spec(env).entry_point))  # the env class (registered by string)
    if given.get("target_split") == "validation":
        return int(task.validation_size)
    return TARGET_IMAGES[given.get("target", task.defaults.get("target", "mnist"))] - int(task.validation_size)


# The training env never shows target scores to an agent (asg_benchmark.training_env strips them), so
# its end-of-episode evaluation is wasted work: make it as small as the env allows.
TRAIN_ENV_KWARGS: dict[str, dict[str, Any]] = {**{env: {"eval_size": 10} for env in DIGITS_FAMILY},
                                               "ASG-DigitSeg-v0": {"eval_size": 1}}

# --quick: each env's cheapest settings (toy networks, tiny images), 6-step episodes of single SGD steps.
_QUICK_DIGITS: dict[str, Any] = {"backbone": "toy", "image_size": 32, "num_source_images": 256, "eval_size": 100,
                                 "batch_size": 16, "total_steps": 6, "sgd_steps_per_action": 1, "eval_every": 3,
                                 "device": "cpu"}
QUICK_ENV_KWARGS: dict[str, dict[str, Any]] = {
    **dict.fromkeys(DIGITS_FAMILY, _QUICK_DIGITS),
    "ASG-DigitSeg-v0": {"network": "fcn_toy", "weights": None, "scene_size": 32, "num_source_scenes": 64,
                        "eval_size": 8, "batch_size": 4, "total_steps": 6, "sgd_steps_per_action": 1, "eval_every": 3,
                        "patch_size": 1, "device": "cpu"},
}
QUICK_AGENT_KWARGS: dict[str, dict[str, Any]] = {"ppo": {"n_steps": 6, "batch_size": 6}, "a2c": {"n_steps": 6},
                                                 "recurrent_ppo": {"n_steps": 6, "batch_size": 6}}
QUICK_BUDGET = 12  # two 6-step toy episodes: the --quick budget unless one is given


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark.

    Attributes:
        env: the env id (``gym.make``).
        env_kwargs: ``gym.make`` keywords, over the protocol's (:func:`protocol_env_kwargs`).
        agents: agent names: built-in, registered, or ``"package.module:factory"``.
        agent_kwargs: agent name → constructor keywords.
        train_seeds: one trained agent per training seed (its ``seed``).
        eval_seeds: the ``reset(seed=…)`` of every evaluation episode; ≥ 10, none a training seed.
        budget: env steps every learning agent trains for (the same for all).
        draws: episodes per evaluation seed of a stochastic policy, each with its own sampling seed.
        allow_few_seeds: accept fewer than 10 evaluation seeds (smoke tests; not the protocol).
        greedy: also evaluate the greedy (``deterministic=True``) rows of agents that have them.
        smoke: a smoke run (:func:`quick`): its folder's protocol and report say that its numbers are no result.
    """

    env: str
    agents: tuple[str, ...]
    train_seeds: tuple[int, ...]
    eval_seeds: tuple[int, ...]
    budget: int
    draws: int = 3
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    agent_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    allow_few_seeds: bool = False
    greedy: bool = True
    smoke: bool = False

    def eval_env_kwargs(self) -> dict[str, Any]:
        """The keywords of the evaluation env: protocol defaults, then the user's."""
        return {**protocol_env_kwargs(self.env, self.env_kwargs), **self.env_kwargs}

    def train_env_kwargs(self) -> dict[str, Any]:
        """The training env: the evaluation env's keywords with the cheapest target evaluation."""
        return {**self.eval_env_kwargs(), "eval_every": 0, **TRAIN_ENV_KWARGS.get(self.env, {})}

    def resolve(self) -> dict[str, AgentSpec]:
        """Check the spec (seeds, budget, draws, agent names and options); the agents' specs by name."""
        check_seeds(self.train_seeds, self.eval_seeds, allow_few=self.allow_few_seeds)
        if self.budget < 1 or self.draws < 1:
            raise ProtocolError(f"need a budget >= 1 env step and draws >= 1, got {self.budget}, {self.draws}")
        specs = {name: resolve_agent(name) for name in self.agents}
        labels = [spec.name for spec in specs.values()]
        if not self.agents or len(set(labels)) != len(self.agents):
            raise AgentError(f"give each agent (or label) once, got {list(self.agents)}")
        unknown = sorted(set(self.agent_kwargs) - set(labels))
        if unknown:
            raise AgentError(f"--agent-kwargs names agents that are not benchmarked: {unknown}")
        return specs


def quick(spec: BenchmarkSpec) -> BenchmarkSpec:
    """``spec`` as a smoke run: the toy network and tiny sizes, under the user's own keywords."""
    if spec.env not in QUICK_ENV_KWARGS:
        raise ProtocolError(f"--quick has settings for {', '.join(QUICK_ENV_KWARGS)}, not {spec.env}; run it "
                            "without --quick, with small --env-kwargs of your own")
    named = [split_label(name) for name in spec.agents]
    agent_kwargs = {label: {**QUICK_AGENT_KWARGS.get(agent, {}), **spec.agent_kwargs.get(label, {})}
                    for label, agent in named if agent in QUICK_AGENT_KWARGS or label in spec.agent_kwargs}
    return BenchmarkSpec(env=spec.env, agents=spec.agents, train_seeds=spec.train_seeds, eval_seeds=spec.eval_seeds,
                         budget=spec.budget, draws=spec.draws,
                         env_kwargs={**QUICK_ENV_KWARGS[spec.env], **spec.env_kwargs}, agent_kwargs=agent_kwargs,
                         allow_few_seeds=spec.allow_few_seeds, greedy=spec.greedy, smoke=True)
