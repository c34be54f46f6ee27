"""Learning-rate controllers for the ASG environments, all behind one SB3-shaped interface."""

from agents.base import Agent, scales_to_action
from agents.baselines import PRESETS, ConstantPolicy, RandomInitPolicy, RandomPolicy, preset_scales

__all__ = [
    "Agent", "ConstantPolicy", "PRESETS", "RandomInitPolicy", "RandomPolicy", "preset_scales", "scales_to_action",
]
