"""Shipped policies, and a saved policy deployed frozen as an agent (the benchmark's ``pretrained`` row).

A shipped policy lives in ``agents/policies`` with its card (:mod:`agents.cards`). :class:`PretrainedPolicy`
deploys one (or any policy file ``asg-benchmark train`` or ``ship`` wrote) without training it, as its card
says: greedy or sampled. Its observation is task-agnostic (losses, t/T, head statistics, previous scales),
so a policy trained on one env can run zero-shot on another with the same number of coordinates::

    asg-benchmark run --env ASG-DigitsOnPhotos-v1 --agents digits_policy=pretrained \\
        --agent-kwargs '{"digits_policy": {"policy": "ASG-Digits-v0"}}'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents.cards import DEPLOYMENTS, deployment_env_kwargs, deploys_greedily
from agents.reinforce_lstm import ReinforceLSTMAgent

POLICIES = Path(__file__).resolve().parent / "policies"
_PRETRAINED = {"ASG-Digits-v0": "reinforce_lstm_digits.pt"}


def pretrained_path(env_id: str = "ASG-Digits-v0", folder: str | Path | None = None) -> Path:
    """Where the shipped policy of ``env_id`` lives, its card beside it (``folder``: default ``agents/policies``)."""
    if env_id not in _PRETRAINED:
        raise ValueError(f"no pretrained policy for {env_id!r}; shipped: {', '.join(_PRETRAINED)}")
    return Path(POLICIES if folder is None else folder) / _PRETRAINED[env_id]


def load_pretrained(env_id: str = "ASG-Digits-v0", folder: str | Path | None = None) -> ReinforceLSTMAgent:
    """The shipped REINFORCE-LSTM policy trained on ``env_id`` (frozen use: ``predict``), from ``folder``
    (default: the package's ``agents/policies``).

    Deploy it on the env it was trained on, ``gym.make(env_id, **pretrained_env_kwargs(env_id))``, and take
    its actions as it was scored: ``predict(obs, state, deterministic=pretrained_deterministic(env_id))``.
    """
    return _load(pretrained_path(env_id, folder))


def pretrained_env_kwargs(env_id: str = "ASG-Digits-v0", folder: str | Path | None = None) -> dict[str, Any]:
    """The ``gym.make`` keywords the shipped policy of ``env_id`` was trained with (its decision window,
    episode length, …), from the card beside it (``<policy>.json``); ``{}``: the env's defaults."""
    return deployment_env_kwargs(pretrained_path(env_id, folder))


def pretrained_deterministic(env_id: str = "ASG-Digits-v0", folder: str | Path | None = None) -> bool:
    """Whether the shipped policy of ``env_id`` is deployed greedily (``predict(deterministic=True)``), as its
    card says; False: its actions are sampled, as it was trained."""
    return deploys_greedily(pretrained_path(env_id, folder))


def _load(path: Path) -> ReinforceLSTMAgent:
    if not path.is_file():
        raise FileNotFoundError(f"no policy at {path}; train one with: asg-benchmark train --save {path}")
    return ReinforceLSTMAgent.load(path)


class PretrainedPolicy:
    """A saved REINFORCE-LSTM policy, frozen, taking its actions as its card says.

    ``policy`` is an env id with a shipped policy (``"ASG-Digits-v0"``) or the path of a policy file.
    ``predict`` ignores its ``deterministic`` argument: the card decides (``"greedy"`` or
    ``"sampled"``), or ``deployment`` when given (a policy whose card does not say, declared before it is
    scored), so the policy is scored as it was chosen to be deployed. There is no ``learn``: the
    benchmark evaluates it as is, with no training budget.
    """

    def __init__(self, num_coordinates: int, policy: str = "ASG-Digits-v0", deployment: str | None = None,
                 seed: int | None = None) -> None:
        path = pretrained_path(policy) if policy in _PRETRAINED else Path(policy)
        if deployment not in (None, *DEPLOYMENTS):
            raise ValueError(f"deployment is one of {', '.join(DEPLOYMENTS)} (or None: the card's), got {deployment!r}")
        self.path = path
        self.policy = _load(path)
        self.deterministic = deploys_greedily(path) if deployment is None else deployment == "greedy"
        if self.policy.num_coordinates != num_coordinates:
            raise ValueError(f"the policy at {path} sets {self.policy.num_coordinates} learning-rate scales, this "
                             f"env has {num_coordinates}: deploy it on an env with the same coordinates")
        if seed is not None:
            self.set_sampling_seed(seed)

    def set_sampling_seed(self, seed: int) -> None:
        """Seed the sampling of a ``"sampled"`` card's actions (the benchmark does so per evaluation episode)."""
        self.policy.generator.manual_seed(seed)

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        return self.policy.predict(observation, state, episode_start, deterministic=self.deterministic)
