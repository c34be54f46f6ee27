"""The README's `make demo`: learning-rate policies side by side on ASG-Digits-v0.

Runs one episode of the default length per policy (same seed, so the same initial head and data
order) and prints the target accuracy on real MNIST digits, the old-task agreement and the
episode return. The policies are the two constant heuristics of Fig. 1 ("all_large": every
coordinate at η_base; "hand_tuned": backbone 0.1·η_base, head η_base), the random policy, and the
shipped REINFORCE-LSTM policy trained on this env ("learned"), frozen.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
from tqdm import tqdm

import asg_gym  # noqa: F401
from agents import load_pretrained, make_agent
from experiments.common import arg, parse_args, run_episode


LEARNED = "learned"


@dataclass
class Args:
    """Compare learning-rate policies on one ASG-Digits-v0 episode each."""

    policies: list = arg(["all_large", "hand_tuned", "random", LEARNED],
                         f"policies to compare: agents.make_agent names, or {LEARNED!r} for the shipped trained policy")
    total_steps: int = arg(0, "actions per episode (0 = the env default)")
    seed: int = arg(0, "episode seed (same for every policy)")
    device: str = arg("auto", "auto | cpu | cuda")
    quick: bool = arg(False, "toy backbone, 32-px images, 5 steps: a smoke test")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(Args, argv)
    kwargs = {"device": args.device, **({"total_steps": args.total_steps} if args.total_steps else {})}
    if args.quick:
        kwargs.update(backbone="toy", image_size=32, num_source_images=256, eval_size=100, total_steps=5)
    env = gym.make("ASG-Digits-v0", **kwargs)
    steps = env.unwrapped.total_steps
    print(f"ASG-Digits-v0: {steps} SGD steps per episode, coordinates {', '.join(env.unwrapped.coordinate_names)}")
    results = {}
    for name in args.policies:
        agent = load_pretrained("ASG-Digits-v0") if name == LEARNED else make_agent(name, env, seed=args.seed)
        with tqdm(total=steps, desc=f"{name:>14}", unit="step") as bar:
            results[name] = run_episode(env, agent, args.seed, progress=bar)
    print(f"\n{'policy':>14} | {'target acc (MNIST)':>18} | {'old-task agreement':>18} | {'return':>7} | time")
    print("-" * 78)
    for name, r in results.items():
        note = " (diverged)" if r["diverged"] else ""
        print(f"{name:>14} | {r['target_accuracy']:>18.3f} | {r['old_task_agreement']:>18.3f} | "
              f"{r['return']:>7.3f} | {r['seconds']:.0f} s{note}")


if __name__ == "__main__":
    main()
