"""Decision windows: how many SGD steps each action of an episode governs.

``"fixed"``: every action governs ``sgd_steps_per_action`` steps (the env's default is 1).
``"reference"``: the released ASG code's growing windows. Its next window is
``max(10, steps_this_epoch + steps_in_earlier_epochs // 20)``: within its first epoch a window
is as long as all the steps before it (10, 10, 20, 40, 80, …), so the controller decides often
early, when the loss moves fast, and rarely late. An ASG episode is one fine-tuning run (its
"epoch"), so here a window is ``max(sgd_steps_per_action, steps so far)``, the last one cut to
the episode's SGD budget of ``total_steps × sgd_steps_per_action`` steps: the same SGD steps as
fixed windows with the same keywords, in fewer decisions.
"""

from __future__ import annotations

from typing import Literal

WindowGrowth = Literal["fixed", "reference"]
WINDOW_GROWTHS: tuple[WindowGrowth, ...] = ("fixed", "reference")


def decision_windows(total_steps: int, sgd_steps_per_action: int, growth: WindowGrowth = "fixed") -> list[int]:
    """The SGD steps of each decision of an episode (its length is the episode's number of actions)."""
    if growth not in WINDOW_GROWTHS:
        raise ValueError(f"window_growth must be one of {WINDOW_GROWTHS}, got {growth!r}")
    if growth == "fixed":
        return [sgd_steps_per_action] * total_steps
    budget, done, windows = total_steps * sgd_steps_per_action, 0, []
    while done < budget:
        windows.append(min(max(sgd_steps_per_action, done), budget - done))
        done += windows[-1]
    return windows
