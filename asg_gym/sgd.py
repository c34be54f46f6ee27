"""The two momentum-SGD update rules the optimizee can use (``momentum_style``).

* ``"torch"`` (``torch.optim.SGD``): ``v ← μ·v + (g + wd·θ);  θ ← θ − η_t·v``. Changing η_t rescales
  the whole velocity at once, and a scale of 0 stops the coordinate dead.
* ``"reference"`` (the released ASG code, Caffe-style): ``v ← μ·v + η_t·(g + wd·θ);  θ ← θ − v``.
  The learning rate enters the velocity, so a new action changes only the new increments:
  action 0 lets a coordinate coast on its momentum, decaying by μ per step.

Under a constant learning rate both produce the same trajectory up to floating-point rounding
(``v_reference = η·v_torch``); they differ whenever the agent changes a coordinate's scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import torch

MomentumStyle = Literal["torch", "reference"]
MOMENTUM_STYLES: tuple[MomentumStyle, ...] = ("torch", "reference")


class ReferenceSGD(torch.optim.Optimizer):
    """Momentum SGD with the learning rate inside the velocity (see the module docstring)."""

    def __init__(self, params: Iterable[Any], lr: float, momentum: float, weight_decay: float) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]  # no closure: one update per call
        for group in self.param_groups:
            lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                increment = param.grad.add(param, alpha=weight_decay) if weight_decay else param.grad.clone()
                increment.mul_(lr)
                velocity = self.state[param].get("velocity")
                if velocity is None:
                    self.state[param]["velocity"] = velocity = increment
                else:
                    velocity.mul_(momentum).add_(increment)
                param.sub_(velocity)


def build_sgd(style: MomentumStyle, groups: list[dict[str, Any]], lr: float, momentum: float,
              weight_decay: float) -> torch.optim.Optimizer:
    """One parameter group per optimization coordinate, with the chosen update rule."""
    if style == "torch":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if style == "reference":
        return ReferenceSGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"momentum_style must be one of {MOMENTUM_STYLES}, got {style!r}")
