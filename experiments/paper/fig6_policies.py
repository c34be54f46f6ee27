"""Fig. 6 (+ the data of Fig. 8): the learned RL-L2O policy vs hand-tuned vs random.

The REINFORCE-LSTM policy trained on ASG-Digits-v0 (``--policy``, default: the shipped one) is
frozen and applied to fresh episode seeds, next to the best hand-tuned constant policy and the
random policy, all with proxy guidance (same λ). The learned policy's actions are kept in
``actions.csv`` (``actions_greedy.csv`` for a greedy row) for Fig. 8 (``experiments/paper/fig8_policy_behaviour.py``).

Writes ``results/fig6_policies/{curves.csv, actions[_greedy].csv, table.md, curves.png, provenance.json}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from experiments.common import REPO
from experiments.runner import (
    LEARNED,
    POLICY_LABELS,
    CurveArgs,
    Setting,
    action_recorder,
    frozen_policy,
    learned_setting,
    named,
    parse_curve_args,
    run_curve_experiment,
)

ENV = "ASG-Digits-v0"


@dataclass
class Args(CurveArgs):
    """RL-L2O vs hand-tuned vs random (Fig. 6); --quick uses an untrained policy."""

    QUICK: ClassVar[dict[str, Any]] = {"seeds": [100], "total_steps": 4, "eval_every": 2}

    policy: str | None = None
    """path of a saved ReinforceLSTMAgent (None: the shipped ASG-Digits-v0 policy)"""
    baselines: list[str] = field(default_factory=lambda: ["hand_tuned", "random"])
    """baseline agents (agents.make_agent names)"""
    lam: float = 0.1
    """λ for every run"""
    seeds: list[int] = field(default_factory=lambda: [100, 101, 102])
    """fresh episode seeds (not those of policy training)"""
    total_steps: int | None = None
    """SGD steps per episode (None: the env's default)"""
    eval_every: int = 50
    out: str = str(REPO / "results" / "fig6_policies")


def main(argv: list[str] | None = None) -> Path:
    args = parse_curve_args(Args, argv)
    learned = learned_setting(LEARNED, args.lam, frozen_policy(args.policy, ENV, untrained=args.quick), args)
    settings = [learned, *(Setting(name, args.lam, named(name)) for name in args.baselines)]
    return run_curve_experiment(args, ENV, settings, label=lambda s, lam: POLICY_LABELS.get(s, s),
                                title=f"ASG-Digits-v0: learned vs hand-tuned vs random (λ={args.lam:g})",
                                reference=lambda s, lam: ("hand_tuned", lam),
                                on_episode=action_recorder(Path(args.out), learned.name))


if __name__ == "__main__":
    main()
