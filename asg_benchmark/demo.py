"""``asg-benchmark demo`` (the README's ``make demo``): learning-rate policies side by side on ASG-Digits-v0.

Runs one episode of the default length per policy (same seed, so the same initial head and data
order) and prints the target accuracy on real MNIST digits, the old-task agreement and the
episode return. The policies are the two constant heuristics of Fig. 1 ("all_large": every
coordinate at η_base; "hand_tuned": backbone 0.1·η_base, head η_base), the random policy, and the
shipped REINFORCE-LSTM policy trained on this env ("learned"), frozen and deployed as its card says:
on its env keywords, its actions sampled as it was trained (from generators seeded by ``--seed``) or,
for a policy shipped to be deployed greedily, its greedy actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from tqdm import tqdm

import asg_gym  # noqa: F401
from agents import load_pretrained, make_agent, pretrained_deterministic, pretrained_env_kwargs
from asg_benchmark.episode import run_episode
from asg_benchmark.seeds import reseed_agent

LEARNED = "learned"


@dataclass
class Demo:
    """Compare learning-rate policies on one ASG-Digits-v0 episode each."""

    policies: list[str] = field(default_factory=lambda: ["all_large", "hand_tuned", "random", LEARNED])
    """policies to compare: agents.make_agent names, or 'learned' for the shipped trained policy"""
    total_steps: int | None = None
    """actions per episode (None: the env's default)"""
    seed: int = 0
    """episode seed (same for every policy)"""
    device: str = "auto"
    """auto | cpu | cuda"""
    quick: bool = False
    """toy backbone, 32-px images, 5 steps: a smoke test"""


def main(args: Demo) -> None:
    """Run one episode per policy and print the table."""
    # The env the shipped policy was trained on (its decision window, episode length), for every policy alike.
    kwargs: dict[str, Any] = {**(pretrained_env_kwargs("ASG-Digits-v0") if LEARNED in args.policies else {}),
                              "device": args.device}
    if args.total_steps is not None:
        kwargs["total_steps"] = args.total_steps
    if args.quick:
        kwargs.update(backbone="toy", image_size=32, num_source_images=256, eval_size=100, total_steps=5)
    env = gym.make("ASG-Digits-v0", **kwargs)
    unwrapped: Any = env.unwrapped  # the ASG env
    steps = unwrapped.total_steps
    print(f"ASG-Digits-v0: {steps} decisions of {unwrapped.windows[0]} SGD step(s) per "
          f"episode, coordinates {', '.join(unwrapped.coordinate_names)}")
    if LEARNED in args.policies:
        how = "greedy" if pretrained_deterministic("ASG-Digits-v0") else "sampled"
        print(f"{LEARNED}: the shipped policy, its actions {how} (as its card says)")
    results = {}
    for name in args.policies:
        agent = load_pretrained("ASG-Digits-v0") if name == LEARNED else make_agent(name, env, seed=args.seed)
        if name == LEARNED:
            reseed_agent(agent, args.seed)
        with tqdm(total=steps, desc=f"{name:>14}", unit="step") as bar:
            deterministic = pretrained_deterministic("ASG-Digits-v0") if name == LEARNED else True
            results[name] = run_episode(env, agent, args.seed, deterministic=deterministic,
                                        on_step=lambda: bar.update(1))
    print(f"\n{'policy':>14} | {'target acc (MNIST)':>18} | {'old-task agreement':>18} | {'return':>7} | time")
    print("-" * 78)
    for name, r in results.items():
        note = " (diverged)" if r.diverged else ""
        print(f"{name:>14} | {r.scores['target_accuracy']:>18.3f} | {r.old_task_agreement:>18.3f} | "
              f"{r.episode_return:>7.3f} | {r.seconds:.0f} s{note}")

