"""Fig. 6 (+ the data of Fig. 8): the learned RL-L2O policy vs hand-tuned vs random.

The REINFORCE-LSTM policy trained on ASG-Digits-v0 (``--policy``, default: the shipped one) is
frozen and applied to fresh episode seeds, next to the best hand-tuned constant policy and the
random policy, all with proxy guidance (same λ). The learned policy's actions are kept in
``actions.csv`` for Fig. 8 (``experiments/fig8_policy_behaviour.py``).

Writes ``results/fig6_policies/{curves.csv, actions.csv, table.md, curves.png, provenance.json}``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

import asg_gym  # noqa: F401
from agents import ReinforceLSTMAgent, load_pretrained, make_agent
from experiments.common import REPO, ResumableCSV, arg, parse_args, write_provenance
from experiments.curves import CURVE_FIELDS, QUICK_ENV, action_recorder, run_curves, write_outputs


@dataclass
class Args:
    """RL-L2O vs hand-tuned vs random (Fig. 6)."""

    policy: str = arg("", "path of a saved ReinforceLSTMAgent ('' = the shipped ASG-Digits-v0 policy)")
    baselines: list = arg(["hand_tuned", "random"], "baseline agents (agents.make_agent names)")
    lam: float = arg(0.1, "λ for every run")
    seeds: list = arg([100, 101, 102], "fresh episode seeds (not those of policy training)")
    total_steps: int = arg(0, "SGD steps per episode (0 = the env default)")
    eval_every: int = arg(50, "evaluate on real digits every this many steps")
    env_kwargs: str = arg("{}", "extra gym.make keywords as JSON")
    out: str = arg(str(REPO / "results" / "fig6_policies"), "output folder")
    quick: bool = arg(False, "toy backbone, an untrained policy, 4 steps: a smoke test")


LEARNED = "rl_l2o"


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(Args, argv)
    env_kwargs = json.loads(args.env_kwargs)
    if args.total_steps:
        env_kwargs["total_steps"] = args.total_steps
    if args.quick:
        args.seeds, args.eval_every, args.out = [100], 2, tempfile.mkdtemp(prefix="asg_fig6_")
        env_kwargs.update(QUICK_ENV, total_steps=4)
    out = Path(args.out)
    write_provenance(out, seeds=args.seeds, args=vars(args))

    coordinate_names: list[str] = []

    def make_env(setting: str, lam: float) -> gym.Env:
        env = gym.make("ASG-Digits-v0", lam=lam, eval_every=args.eval_every, **env_kwargs)
        coordinate_names[:] = env.unwrapped.coordinate_names
        return env

    def agent_for(setting: str, env: gym.Env) -> Any:
        if setting != LEARNED:
            return make_agent(setting, env, seed=0)
        if args.quick:
            return ReinforceLSTMAgent(env, seed=0)
        return ReinforceLSTMAgent.load(args.policy) if args.policy else load_pretrained("ASG-Digits-v0")

    table = ResumableCSV(out / "curves.csv", CURVE_FIELDS, ["setting", "lam", "seed"])
    runs = [(s, args.lam, seed) for s in (LEARNED, *args.baselines) for seed in args.seeds]
    run_curves(table, runs, make_env, agent_for,
               on_episode=action_recorder(out / "actions.csv", LEARNED, coordinate_names))
    name = {LEARNED: "RL-L2O (learned, frozen)", "hand_tuned": "hand-tuned", "random": "random"}
    write_outputs(out, lambda s, lam: name.get(s, s),
                  f"ASG-Digits-v0: learned vs hand-tuned vs random (λ={args.lam:g})",
                  reference=lambda s, lam: ("hand_tuned", lam))
    return out


if __name__ == "__main__":
    main()
