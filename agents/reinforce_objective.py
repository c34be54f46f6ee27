"""The REINFORCE objective of the LSTM agent: Eq. 7, plus the switches a practitioner expects.

With every switch off (the ``paper`` preset) the loss is Eq. 7 exactly,
``-(1/(U·K)) Σ_k Σ_t G_{k,t} log π(a_{k,t} | s_{k,t})``. The switches, each independent:

* ``baseline``: subtract a running mean of the returns (exponential, ``baseline_decay``) —
  the one-minibatch loss drop is noisy and mostly positive, so without it every sampled action
  is reinforced;
* ``baseline_per_step``: keep that running mean per position in the episode instead — the loss drop is
  largest early in an episode and returns to the episode's end (``gamma`` 1 over whole-episode unrolls)
  shrink with the steps left, so one mean for every position would credit early actions for their timing;
* ``normalize_advantages``: standardise the advantages within each update;
* ``entropy_coef``: an entropy bonus ``-β·H(π)`` against collapse onto one action;
* ``entropy_floor``: the constraint "mean entropy per coordinate ≥ floor" (nats; ln 11 ≈ 2.40 is
  uniform) as a penalty ``ρ·C·max(0, floor − H̄)``, ρ = ``entropy_floor_coef``. A fixed bonus β
  that holds at one learning rate and budget lets the policy collapse at a larger one; the floor
  leaves the policy free above it and pushes back hard below it. (An adapted β — SAC's
  temperature — was tried first: with the lag of the policy's response it swings between
  collapse and uniform.)
* ``entropy_floor_decay_steps``: lower the floor linearly to 0 over that many env steps of
  training, so the policy explores early and is free to commit to a schedule (or a constant)
  by the end of training.

Paired episodes (the agent's ``paired_episodes``) replace the baselines: two episodes on the same
data order, each the other's baseline (``partner_returns``), so what differs between their returns is
what their actions did, not which minibatches they drew.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class ObjectiveOptions:
    """Additions to Eq. 7; all off reproduces the paper's update bit for bit."""

    baseline: bool = False
    baseline_decay: float = 0.99
    baseline_per_step: bool = False
    normalize_advantages: bool = False
    entropy_coef: float = 0.0
    entropy_floor: float | None = None
    entropy_floor_coef: float = 1.0
    entropy_floor_decay_steps: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.baseline_decay < 1 or self.entropy_coef < 0:
            raise ValueError(f"need 0 <= baseline_decay < 1 and entropy_coef >= 0, got {self.baseline_decay}, "
                             f"{self.entropy_coef}")
        if self.baseline_per_step and not self.baseline:
            raise ValueError("baseline_per_step keeps the reward baseline per position in the episode: it needs "
                             "baseline=True")
        if self.entropy_floor is not None and not (self.entropy_floor > 0 and self.entropy_floor_coef > 0):
            raise ValueError(f"entropy_floor needs a floor > 0 (nats per coordinate; uniform over 11 actions is "
                             f"ln 11 = 2.40) and entropy_floor_coef > 0; got {self.entropy_floor}, "
                             f"{self.entropy_floor_coef}")
        if self.entropy_floor_decay_steps is not None and (self.entropy_floor is None
                                                           or self.entropy_floor_decay_steps < 1):
            raise ValueError(f"entropy_floor_decay_steps anneals entropy_floor: needs a floor and >= 1 env steps, "
                             f"got entropy_floor={self.entropy_floor}, "
                             f"entropy_floor_decay_steps={self.entropy_floor_decay_steps}")

    def floor_at(self, timestep: int) -> float | None:
        """The entropy floor after ``timestep`` env steps of training (None: no floor)."""
        if self.entropy_floor is None or self.entropy_floor_decay_steps is None:
            return self.entropy_floor
        return self.entropy_floor * max(0.0, 1.0 - timestep / self.entropy_floor_decay_steps)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _standardised(advantages: torch.Tensor) -> torch.Tensor:
    return (advantages - advantages.mean()) / (advantages.std() + 1e-8)


class ReinforceObjective:
    """Eq. 7 with the options above; keeps the running baseline (saved with the agent)."""

    def __init__(self, options: ObjectiveOptions) -> None:
        self.options = options
        self.baseline_value: float | None = None
        self.step_baselines: list[float | None] = []  # baseline_per_step: one running mean per episode position

    def loss(self, returns: torch.Tensor, log_prob: torch.Tensor, coordinate_entropy: torch.Tensor | None,
             unroll_length: int, timestep: int = 0, positions: torch.Tensor | None = None,
             partner_returns: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``returns`` and ``log_prob`` ``(T, K)``; ``coordinate_entropy`` ``(T, K, C)``, the entropy of each
        coordinate's distribution at each step (used only by ``entropy_coef`` and ``entropy_floor``);
        ``timestep``: env steps trained so far (for an annealed floor); ``positions`` ``(T, K)``: each step's
        index in its episode (needed by ``baseline_per_step``). ``partner_returns`` ``(T, K)``: each step's
        baseline is the return of the paired episode at the same position (the running baselines are not used);
        ``mask`` ``(T, K)``: the steps that count (padding and steps without a partner have none).
        :meth:`advantages` then :meth:`policy_loss`."""
        advantages = self.advantages(returns, positions, partner_returns, mask)
        return self.policy_loss(advantages, log_prob, coordinate_entropy, unroll_length, timestep, mask)

    def advantages(self, returns: torch.Tensor, positions: torch.Tensor | None = None,
                   partner_returns: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(T, K)``: each step's return less its baseline, standardised if asked (zero where ``mask`` is
        False). Moves the running baselines: call it once per update."""
        options, advantages = self.options, returns
        if partner_returns is not None:
            advantages = returns - partner_returns
        elif options.baseline_per_step:
            if positions is None or positions.shape != returns.shape:
                raise ValueError("baseline_per_step needs each step's position in its episode, shaped like returns")
            advantages = returns - self._step_baseline(returns, positions)
        elif options.baseline:
            mean = float(returns.mean())
            previous = mean if self.baseline_value is None else self.baseline_value
            advantages = advantages - previous  # the running mean before this unroll (its own mean the first time)
            decay = options.baseline_decay
            self.baseline_value = mean if self.baseline_value is None else decay * previous + (1 - decay) * mean
        if mask is not None:  # only the steps that count: their advantages, normalised among them
            keep = mask.bool()
            kept = advantages[keep]
            if options.normalize_advantages and kept.numel() > 1:
                kept = _standardised(kept)
            return torch.zeros_like(returns).masked_scatter(keep, kept)
        if options.normalize_advantages and advantages.numel() > 1:
            advantages = _standardised(advantages)
        return advantages

    def policy_loss(self, advantages: torch.Tensor, log_prob: torch.Tensor, coordinate_entropy: torch.Tensor | None,
                    unroll_length: int, timestep: int = 0, mask: torch.Tensor | None = None,
                    old_log_prob: torch.Tensor | None = None, clip_range: float = 0.2) -> torch.Tensor:
        """The loss of :meth:`advantages`' ``(T, K)`` values with the entropy terms. With ``old_log_prob`` (the
        log-probabilities the actions were sampled with) it is PPO's clipped surrogate instead of Eq. 7, for
        further passes over the same unroll: the ratio π/π_old gets no gradient beyond ``1 ± clip_range``."""
        if mask is not None and coordinate_entropy is not None:
            coordinate_entropy = coordinate_entropy[mask.bool()]  # (N, C): the counted steps' entropies
        if old_log_prob is None:
            weighted = advantages * log_prob
        else:
            ratio = torch.exp(log_prob - old_log_prob)
            weighted = torch.min(ratio * advantages, ratio.clamp(1 - clip_range, 1 + clip_range) * advantages)
        # 1/(U·K) even for a shorter last unroll of an episode: each step keeps the same weight.
        loss = -weighted.sum() / (unroll_length * advantages.shape[1])
        if self.options.entropy_coef > 0:  # of the joint distribution: coordinates are independent given the state
            assert coordinate_entropy is not None
            loss = loss - self.options.entropy_coef * coordinate_entropy.sum(dim=-1).mean()
        floor = self.options.floor_at(timestep)
        if floor:  # None, or annealed to 0: no constraint
            assert coordinate_entropy is not None
            shortfall = torch.relu(floor - coordinate_entropy.mean())
            loss = loss + self.options.entropy_floor_coef * coordinate_entropy.shape[-1] * shortfall
        return loss

    def _step_baseline(self, returns: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Per step, the running mean of the returns seen at its position before this update (the update's own
        mean there the first time); then those means move towards this update's."""
        need = int(positions.max()) + 1
        self.step_baselines += [None] * max(0, need - len(self.step_baselines))
        baseline = torch.empty_like(returns)
        decay = self.options.baseline_decay
        for position in positions.unique().tolist():
            at = positions == position
            mean, previous = float(returns[at].mean()), self.step_baselines[position]
            baseline[at] = mean if previous is None else previous
            self.step_baselines[position] = mean if previous is None else decay * previous + (1 - decay) * mean
        return baseline

    def state_dict(self) -> dict[str, Any]:
        return {"baseline_value": self.baseline_value, "step_baselines": list(self.step_baselines)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.baseline_value = state.get("baseline_value")
        self.step_baselines = list(state.get("step_baselines", []))
