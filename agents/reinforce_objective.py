"""The REINFORCE objective of the LSTM agent: Eq. 7, plus the switches a practitioner expects.

With every switch off (the ``paper`` preset) the loss is Eq. 7 exactly,
``-(1/(U·K)) Σ_k Σ_t G_{k,t} log π(a_{k,t} | s_{k,t})``. The switches, each independent:

* ``baseline``: subtract a running mean of the returns (exponential, ``baseline_decay``) —
  the one-minibatch loss drop is noisy and mostly positive, so without it every sampled action
  is reinforced;
* ``normalize_advantages``: standardise the advantages within each update;
* ``entropy_coef``: an entropy bonus ``-β·H(π)`` against collapse onto one action;
* ``target_entropy``: adapt β so that the policy's mean per-coordinate entropy stays near a
  target (nats; ln 11 ≈ 2.40 is uniform) — SAC's automatic temperature, for a fixed β that holds
  at one learning rate and budget lets the policy collapse at a larger one. ``entropy_coef`` is
  then β's starting value; each update takes one SGD step of size ``entropy_coef_lr`` on log β
  against the loss ``log β · (H − target)``: β grows while the policy is sharper than the
  target and shrinks while it is flatter, within [``MIN_ENTROPY_COEF``, ``MAX_ENTROPY_COEF``].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

# β's range under ``target_entropy``: the floor lets it grow back within tens of updates, the cap keeps the
# entropy term from drowning the policy gradient (unit scale once advantages are normalised).
MIN_ENTROPY_COEF, MAX_ENTROPY_COEF = 1e-3, 1.0


@dataclass(frozen=True)
class ObjectiveOptions:
    """Additions to Eq. 7; all off reproduces the paper's update bit for bit."""

    baseline: bool = False
    baseline_decay: float = 0.99
    normalize_advantages: bool = False
    entropy_coef: float = 0.0
    target_entropy: float | None = None
    entropy_coef_lr: float = 0.1

    def __post_init__(self) -> None:
        if not 0 <= self.baseline_decay < 1 or self.entropy_coef < 0:
            raise ValueError(f"need 0 <= baseline_decay < 1 and entropy_coef >= 0, got {self.baseline_decay}, "
                             f"{self.entropy_coef}")
        if self.target_entropy is not None and not (
                self.target_entropy > 0 and MIN_ENTROPY_COEF <= self.entropy_coef <= MAX_ENTROPY_COEF
                and self.entropy_coef_lr > 0):
            raise ValueError(
                f"target_entropy needs a target > 0 (nats per coordinate; uniform over 11 actions is ln 11 = 2.40), "
                f"a starting entropy_coef in [{MIN_ENTROPY_COEF}, {MAX_ENTROPY_COEF}] and entropy_coef_lr > 0; got "
                f"{self.target_entropy}, {self.entropy_coef}, {self.entropy_coef_lr}")

    @property
    def uses_entropy(self) -> bool:
        """Whether the loss has an entropy term (the agent computes H(π) only then)."""
        return self.entropy_coef > 0 or self.target_entropy is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ReinforceObjective:
    """Eq. 7 with the options above; keeps the running baseline (saved with the agent)."""

    def __init__(self, options: ObjectiveOptions) -> None:
        self.options = options
        self.baseline_value: float | None = None
        self.entropy_coef = options.entropy_coef
        """β now: fixed, or adapted by :meth:`adapt_entropy_coef` under ``target_entropy``."""

    def loss(self, returns: torch.Tensor, log_prob: torch.Tensor, entropy: torch.Tensor | None, unroll_length: int
             ) -> torch.Tensor:
        """``returns`` and ``log_prob`` ``(T, K)``; ``entropy`` the policy's mean entropy over the unroll
        (needed only when ``options.uses_entropy``)."""
        options, advantages = self.options, returns
        if options.baseline:
            mean = float(returns.mean())
            previous = mean if self.baseline_value is None else self.baseline_value
            advantages = advantages - previous  # the running mean before this unroll (its own mean the first time)
            decay = options.baseline_decay
            self.baseline_value = mean if self.baseline_value is None else decay * previous + (1 - decay) * mean
        if options.normalize_advantages and advantages.numel() > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        # 1/(U·K) even for a shorter last unroll of an episode: each step keeps the same weight.
        loss = -(advantages * log_prob).sum() / (unroll_length * returns.shape[1])
        if options.uses_entropy:
            assert entropy is not None
            loss = loss - self.entropy_coef * entropy
        return loss

    def adapt_entropy_coef(self, coordinate_entropy: float) -> None:
        """Under ``target_entropy``, after an update: one step on log β from the unroll's mean coordinate entropy."""
        target = self.options.target_entropy
        if target is None:
            return
        log_coef = math.log(self.entropy_coef) + self.options.entropy_coef_lr * (target - coordinate_entropy)
        self.entropy_coef = min(max(math.exp(log_coef), MIN_ENTROPY_COEF), MAX_ENTROPY_COEF)

    def state_dict(self) -> dict[str, Any]:
        return {"baseline_value": self.baseline_value, "entropy_coef": self.entropy_coef}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.baseline_value = state.get("baseline_value")
        self.entropy_coef = state.get("entropy_coef", self.options.entropy_coef)
