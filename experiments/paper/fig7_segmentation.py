"""Fig. 7 on the embedded segmentation benchmark: mIoU over training on ASG-DigitSeg-v0.

No guidance (hand-tuned constant, λ = 0) against proxy guidance (Eq. 5 dense KL, the env's λ)
with the hand-tuned constant policy, the random policy, and a REINFORCE-LSTM policy trained on
ASG-DigitSeg-v0 and then frozen. Without ``--policy`` the policy is trained first through
``asg-benchmark train`` (resumable; training episodes use seeds ``0 … N-1``, evaluation
uses fresh seeds).

The learned policy's actions go to ``actions.csv`` (``actions_greedy.csv`` under ``--greedy``; plot them with
``python -m experiments.paper.fig8_policy_behaviour --actions results/fig7_segmentation/actions_greedy.csv
--out results/fig8_policy_behaviour/segmentation``; the paper's Fig. 8 is this task).

Writes ``results/fig7_segmentation/{curves.csv, actions[_greedy].csv, table.md, curves.png, provenance.json}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from asg_benchmark import Train, train_controller
from asg_gym import DIGIT_SEG_DEFAULTS
from experiments import runner
from experiments.common import REPO
from experiments.curves import QUICK_SEG_ENV
from experiments.runner import LEARNED, POLICY_LABELS, Setting

ENV = "ASG-DigitSeg-v0"


@dataclass
class Args(runner.CurveArgs):
    """Segmentation: no guidance vs proxy guidance with constant, random and learned policies (Fig. 7)."""

    QUICK: ClassVar[dict[str, Any]] = {"seeds": [100], "total_steps": 4, "eval_every": 2, "train_episodes": 1}
    QUICK_ENV: ClassVar[dict[str, Any]] = QUICK_SEG_ENV

    policy: str | None = None
    """saved ReinforceLSTMAgent (None: train one into <out>/policy_run first)"""
    train_episodes: int = 8
    """episodes to train the policy when --policy is not given"""
    agent_kwargs: str = "{}"
    """REINFORCE-LSTM options for that training, a JSON object, e.g. '{"preset": "stabilized"}'"""
    lam: float = DIGIT_SEG_DEFAULTS["lam"]
    """λ of the proxy-guided runs"""
    seeds: list[int] = field(default_factory=lambda: [100, 101, 102])
    """fresh episode seeds (not those of policy training)"""
    total_steps: int = DIGIT_SEG_DEFAULTS["total_steps"]
    eval_every: int = 50
    out: str = str(REPO / "results" / "fig7_segmentation")


def trained_policy(args: Args) -> Path:
    """Train (or finish training) the REINFORCE-LSTM policy on the same env configuration."""
    run = Path(args.out) / "policy_run"
    path = run / "policy.pt"
    if path.exists():
        return path
    window = int(args.gym_kwargs().get("sgd_steps_per_action", 1))
    kwargs = {**args.gym_kwargs(), "lam": args.lam, "eval_every": 0,
              "total_steps": runner.sgd_steps_to_actions(args.total_steps, window, "--total-steps")}
    # An episode here is minutes of CPU and a checkpoint milliseconds: keep every policy update.
    train_controller(Train(env=ENV, env_kwargs=json.dumps(kwargs), episodes=args.train_episodes,
                           agent_kwargs=args.agent_kwargs, checkpoint_every=1, out=str(run), save=str(path),
                           progress=False, resume=(run / "checkpoint.pt").exists()))
    return path


def label(setting: str, lam: float) -> str:
    return f"{POLICY_LABELS.get(setting, setting)}, " + (f"λ={lam:g}" if lam > 0 else "no guidance")


def main(argv: list[str] | None = None) -> Path:
    args = runner.parse_curve_args(Args, argv)
    if args.policy:
        policy = args.policy
    elif args.report_only:  # the rows exist already: read the trained policy's card, train nothing
        policy = str(Path(args.out) / "policy_run" / "policy.pt")
    else:
        policy = str(trained_policy(args))
    hand_tuned, random = runner.named("hand_tuned"), runner.named("random")
    learned = runner.learned_setting(LEARNED, args.lam, runner.frozen_policy(policy, ENV), args)
    settings = [Setting("hand_tuned", 0.0, hand_tuned), Setting("hand_tuned", args.lam, hand_tuned),
                Setting("random", args.lam, random), learned]
    return runner.run_curve_experiment(args, ENV, settings, label=label, metric="target_miou",
                                title="ASG-DigitSeg-v0: mIoU with and without dense proxy guidance",
                                reference=lambda s, lam: ("hand_tuned", 0.0),
                                against=[("hand_tuned", args.lam), ("random", args.lam)],
                                on_episode=runner.action_recorder(Path(args.out), learned.name))


if __name__ == "__main__":
    main()
