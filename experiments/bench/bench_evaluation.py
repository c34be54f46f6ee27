"""The evaluation of the test split on CPU per minibatch size, and whether the logits depend on it.

For each env at its defaults (an evaluation of its default 1,000 test images; the benchmark's, of the whole test
split, takes 4–5× as long): a student moved off its pretrained weights by a few SGD steps, then its evaluation timed at
each minibatch size, alternating over rounds (medians), with the frozen teacher's outputs already cached. The logits
of every minibatch size are compared with those of 250 (the size before ``asg_gym.evaluation.evaluation_batch_size``):
the largest absolute difference and whether every prediction is the same. Run it alone.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import tyro

from experiments.bench.bench_env import Args as EnvArgs
from experiments.bench.bench_env import make_env
from experiments.common import REPO, report_result


@dataclass
class Args:
    """Evaluation time per minibatch size on CPU, and the logits' dependence on it."""

    envs: list[str] = field(default_factory=lambda: ["ASG-Digits-v0", "ASG-DigitsOnPhotos-v1"])
    """env ids of the Digits family (each at its defaults)"""
    batch_sizes: list[int] = field(default_factory=lambda: [250, 128, 64, 32, 16])
    """minibatch sizes timed besides the env's own"""
    rounds: int = 2
    """alternating rounds (medians are reported)"""
    threads: int = 2
    """torch CPU threads"""
    out: str | None = str(REPO / "results" / "bench_env" / "evaluation")
    """output folder (None: print only)"""
    quick: bool = False
    """toy backbone at 32 px on 200 images, one round, print only: a smoke test"""


def _logits(evaluation: Any, env: Any, batch_size: int) -> torch.Tensor:
    """The student's new-task logits of the whole test split, in minibatches of ``batch_size``."""
    batches, optimizee = evaluation.batches, env.unwrapped.optimizee
    own, batches.batch_size = batches.batch_size, batch_size
    logits = torch.cat([optimizee.predict(images)[0] for images, _ in batches()])
    batches.batch_size = own
    return logits


def measure(env_id: str, args: Args) -> dict:
    env_args = EnvArgs(env=env_id, backbone="toy", image_size=32) if args.quick else EnvArgs(env=env_id)
    env: Any = make_env(env_args, sgd_steps_per_action=1, **({"eval_size": 200} if args.quick else {}))
    env.reset(seed=0)
    for action in np.random.default_rng(0).integers(3, 11, (5, 7)):  # off the pretrained weights
        env.step(action)
    evaluation = env.unwrapped.evaluation.func  # asg_gym.evaluation.TensorEvaluation
    default = evaluation.batches.batch_size
    sizes = list(dict.fromkeys([*args.batch_sizes, default]))
    evaluation(env.unwrapped.optimizee)  # fills the teacher cache
    seconds: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(args.rounds):
        for size in sizes:
            evaluation.batches.batch_size = size
            start = time.perf_counter()
            evaluation(env.unwrapped.optimizee)
            seconds[size].append(time.perf_counter() - start)
    reference = _logits(evaluation, env, 250)
    logits = {size: _logits(evaluation, env, size) for size in sizes}
    return {
        "image_size": int(evaluation.batches.images.shape[-1]), "images": len(evaluation.batches.images),
        "default_batch_size": default,
        "seconds": {str(size): round(statistics.median(v), 2) for size, v in seconds.items()},
        "batch250_over_default": round(statistics.median(seconds[250]) / statistics.median(seconds[default]), 3)
        if 250 in seconds else None,
        "max_abs_logit_difference_from_250": {str(s): float((v - reference).abs().max()) for s, v in logits.items()},
        "same_predictions_as_250": {str(s): bool((v.argmax(1) == reference.argmax(1)).all())
                                    for s, v in logits.items()},
    }


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv)
    if args.quick:
        args.envs, args.batch_sizes, args.rounds, args.out = ["ASG-Digits-v0"], [250, 16], 1, None
    torch.set_num_threads(args.threads)
    result = {env_id: measure(env_id, args) for env_id in args.envs}
    return report_result(result, args.out, "bench_evaluation", args)


if __name__ == "__main__":
    main()
