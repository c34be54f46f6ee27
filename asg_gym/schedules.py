"""The released ASG code's learning-rate schedule: quadratic warm-up, then poly decay with a floor.

The paper states none (Sec. 3.2 gives only η_base); the authors' ``utils/utils.py::lr_poly``, used
by their VisDA-17 and GTA5 trainers and inside their L2O windows, multiplies every learning rate
at SGD iteration ``i`` (0 for the first update) of ``T`` by

    min(0.01 + 0.99·(i / warmup)², 1) · (1 − min(i / T, 0.8)) ** power

with ``warmup = 100`` and ``power = 0.9``: a quadratic warm-up from 1 % of the rate, and a poly
decay that stops at 80 % of training, i.e. never goes below ``0.2 ** power`` (≈ 0.235 for 0.9)
of the rate. :class:`LRSchedule` is that multiplier, each part optional; it leaves the
per-coordinate scales (the agent's actions) alone and multiplies the base rate they scale.
"""

from __future__ import annotations

from dataclasses import dataclass

# The released code's constants (utils/utils.py::lr_poly).
REFERENCE_WARMUP_ITERS = 100
REFERENCE_POLY_POWER = 0.9
WARMUP_START = 0.01  # the warm-up's multiplier at iteration 0
POLY_STOP = 0.8  # fraction of training after which the poly decay holds its value


@dataclass(frozen=True)
class LRSchedule:
    """Learning-rate multiplier per SGD iteration; ``multiplier(i) == 1`` when both parts are off.

    Attributes:
        total_iters: SGD iterations of the whole run (T of the poly decay).
        warmup_iters: length of the quadratic warm-up; 0 = none.
        poly_power: exponent of the poly decay; ``None`` = no decay.
    """

    total_iters: int
    warmup_iters: int = 0
    poly_power: float | None = None

    def __post_init__(self) -> None:
        if self.total_iters < 1 or self.warmup_iters < 0:
            raise ValueError(f"need total_iters >= 1 and warmup_iters >= 0, got {self.total_iters}, "
                             f"{self.warmup_iters}")
        if self.poly_power is not None and self.poly_power < 0:
            raise ValueError(f"poly_power must be >= 0 or None, got {self.poly_power}")

    @property
    def active(self) -> bool:
        return self.warmup_iters > 0 or self.poly_power is not None

    def multiplier(self, iteration: int) -> float:
        """The factor for SGD iteration ``iteration`` (0 = the first update)."""
        factor = 1.0
        if self.warmup_iters > 0:
            factor *= min(WARMUP_START + (1 - WARMUP_START) * (iteration / self.warmup_iters) ** 2, 1.0)
        if self.poly_power is not None:
            factor *= (1 - min(iteration / self.total_iters, POLY_STOP)) ** self.poly_power
        return factor
