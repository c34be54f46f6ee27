"""Fig. 7 on the embedded segmentation benchmark: mIoU over training on ASG-DigitSeg-v0.

No guidance (hand-tuned constant, λ = 0) against proxy guidance (Eq. 5 dense KL, the env's λ)
with the hand-tuned constant policy, the random policy, and a REINFORCE-LSTM policy trained on
ASG-DigitSeg-v0 and then frozen. Without ``--policy`` the policy is trained first through
``experiments.train_policy`` (resumable; training episodes use seeds ``0 … N-1``, evaluation
uses fresh seeds).

The learned policy's actions go to ``actions.csv`` (plot them with
``python -m experiments.fig8_policy_behaviour --actions results/fig7_segmentation/actions.csv
--out results/fig8_policy_behaviour/segmentation``; the paper's Fig. 8 is this task).

Writes ``results/fig7_segmentation/{curves.csv, actions.csv, table.md, curves.png, provenance.json}``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

import asg_gym  # noqa: F401
from agents import ReinforceLSTMAgent, make_agent
from asg_gym.envs.digit_seg import DEFAULTS
from experiments import train_policy
from experiments.common import REPO, ResumableCSV, arg, parse_args, write_provenance
from experiments.curves import action_recorder, curve_fields, run_curves, write_outputs
from experiments.sweep_digitseg import QUICK_SEG_ENV

LEARNED = "rl_l2o"


@dataclass
class Args:
    """Segmentation: no guidance vs proxy guidance with constant, random and learned policies (Fig. 7)."""

    policy: str = arg("", "saved ReinforceLSTMAgent ('' = train one into <out>/policy_run first)")
    train_episodes: int = arg(8, "episodes to train the policy when --policy is not given")
    lam: float = arg(DEFAULTS["lam"], "λ of the proxy-guided runs")
    seeds: list = arg([100, 101, 102], "fresh episode seeds")
    total_steps: int = arg(DEFAULTS["total_steps"], "SGD steps per episode")
    eval_every: int = arg(50, "evaluate on real scenes every this many steps")
    env_kwargs: str = arg("{}", "extra gym.make keywords as JSON")
    out: str = arg(str(REPO / "results" / "fig7_segmentation"), "output folder")
    quick: bool = arg(False, "toy FCN, 4 steps, one seed, a 1-episode policy: a smoke test")


def trained_policy(args: Args, env_kwargs: dict[str, Any], out: Path) -> Path:
    """Train (or finish training) the REINFORCE-LSTM policy on the same env configuration."""
    run = out / "policy_run"
    path = run / "policy.pt"
    if path.exists():
        return path
    kwargs = {**env_kwargs, "lam": args.lam, "total_steps": args.total_steps, "eval_every": 0}
    resume = ["--resume"] if (run / "checkpoint.pt").exists() else []
    train_policy.main(["--env", "ASG-DigitSeg-v0", "--env-kwargs", json.dumps(kwargs), "--episodes",
                       str(args.train_episodes), "--out", str(run), "--save", str(path), "--no-progress", *resume])
    return path


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(Args, argv)
    env_kwargs = json.loads(args.env_kwargs)
    if args.quick:
        args.seeds, args.total_steps, args.eval_every, args.train_episodes = [100], 4, 2, 1
        args.out = tempfile.mkdtemp(prefix="asg_fig7_")
        env_kwargs.update(QUICK_SEG_ENV)
    out = Path(args.out)
    write_provenance(out, seeds=args.seeds, args=vars(args))
    policy_path = Path(args.policy) if args.policy else trained_policy(args, env_kwargs, out)

    coordinate_names: list[str] = []

    def make_env(setting: str, lam: float) -> gym.Env:
        env = gym.make("ASG-DigitSeg-v0", lam=lam, total_steps=args.total_steps, eval_every=args.eval_every,
                       **env_kwargs)
        coordinate_names[:] = env.unwrapped.coordinate_names
        return env

    def agent_for(setting: str, env: gym.Env) -> Any:
        return ReinforceLSTMAgent.load(policy_path) if setting == LEARNED else make_agent(setting, env, seed=0)

    table = ResumableCSV(out / "curves.csv", curve_fields("target_miou"), ["setting", "lam", "seed"])
    settings = [("hand_tuned", 0.0), ("hand_tuned", args.lam), ("random", args.lam), (LEARNED, args.lam)]
    run_curves(table, [(s, lam, seed) for s, lam in settings for seed in args.seeds], make_env, agent_for,
               on_episode=action_recorder(out / "actions.csv", LEARNED, coordinate_names))
    names = {LEARNED: "RL-L2O (learned, frozen)", "hand_tuned": "hand-tuned", "random": "random"}
    write_outputs(out, lambda s, lam: f"{names.get(s, s)}, " + (f"λ={lam:g}" if lam > 0 else "no guidance"),
                  "ASG-DigitSeg-v0: mIoU with and without dense proxy guidance", reference=lambda s, lam: ("hand_tuned", 0.0))
    return out


if __name__ == "__main__":
    main()
