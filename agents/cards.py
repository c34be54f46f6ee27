"""Policy cards: the JSON file beside a saved policy (``<policy>.json``) that says how to deploy it.

A policy decides on the env it was trained on: its decision window (``sgd_steps_per_action``,
``window_growth``) and update rule (``momentum_style``) are part of what it learned. The card keeps
the ``gym.make`` keywords of its training env, so whoever deploys it (``make demo``, the figure
scripts, ``agents.pretrained_env_kwargs``) uses the same ones. A card may also say how the policy's
actions are taken (``"deployment"``: ``"sampled"``, as it was trained, or ``"greedy"``, its most
probable action), when it was chosen and scored that way. ``asg-benchmark ship`` and
``asg-benchmark train`` write cards; a policy without one was trained on the env's defaults
and is deployed sampled.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asg_gym.checkpoint import write_atomically

EVALUATION_KEYS = ("eval_every", "eval_size")
"""Keywords of the evaluation, not of what the policy sees: never part of a card's ``env_kwargs``."""

DEPLOYMENTS = ("sampled", "greedy")
"""How a card's policy takes its actions: ``predict(deterministic=False)`` or ``predict(deterministic=True)``."""

DECISION_KEYS = ("sgd_steps_per_action", "window_growth", "momentum_style")
"""Keywords that change what one of the policy's actions does: a script that sets the rest itself
(horizon, λ, data) still deploys the policy with these (:func:`decision_env_kwargs`)."""


def card_path(policy: str | Path) -> Path:
    return Path(policy).with_suffix(".json")


def write_card(policy: str | Path, card: Mapping[str, Any]) -> Path:
    """Write ``policy``'s card whole or not at all; its ``env_kwargs`` lose the evaluation keywords."""
    if card.get("deployment", "sampled") not in DEPLOYMENTS:
        raise ValueError(f"a card's 'deployment' is one of {', '.join(DEPLOYMENTS)}, not {card['deployment']!r}")
    card = {**card, "env_kwargs": training_env_kwargs(card.get("env_kwargs", {}))}
    return write_atomically(card_path(policy), lambda tmp: tmp.write_text(json.dumps(card, indent=1) + "\n"))


def training_env_kwargs(env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``env_kwargs`` without the evaluation keywords."""
    return {k: v for k, v in env_kwargs.items() if k not in EVALUATION_KEYS}


def read_card(policy: str | Path) -> dict[str, Any]:
    """``policy``'s card; ``{}`` when it has none."""
    path = card_path(policy)
    if not path.is_file():
        return {}
    try:
        card: dict[str, Any] = json.loads(path.read_text())
        card["env_kwargs"] = dict(card["env_kwargs"])
        deployment = card.get("deployment", "sampled")
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a policy card (a JSON object with 'env_kwargs'): {error}; "
                         f"delete it to deploy {Path(policy).name} on the env's defaults") from error
    if deployment not in DEPLOYMENTS:
        raise ValueError(f"{path}: 'deployment' is {deployment!r}, expected one of {', '.join(DEPLOYMENTS)}")
    return card


def deployment_env_kwargs(policy: str | Path) -> dict[str, Any]:
    """The ``gym.make`` keywords ``policy`` was trained with, from its card; ``{}`` (the env's defaults)
    when it has none."""
    return dict(read_card(policy).get("env_kwargs", {}))


def deploys_greedily(policy: str | Path) -> bool:
    """Whether ``policy``'s card says to take its greedy action (``predict(deterministic=True)``); a policy
    without a card, or whose card does not say, is deployed as it was trained: sampled."""
    return bool(read_card(policy).get("deployment") == "greedy")


def decision_env_kwargs(env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`DECISION_KEYS` of a card's ``env_kwargs``."""
    return {k: v for k, v in env_kwargs.items() if k in DECISION_KEYS}
