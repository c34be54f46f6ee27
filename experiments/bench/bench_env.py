"""Env overhead on a Digits-family env, as ratios measured in one run (docs/design.md, "Performance contract").

* env step ÷ the fastest bare PyTorch SGD step of the same student on the same batch (forward +
  backward + update; no env, no teacher) we have: eager in channels-last memory format; the
  NCHW eager bare step is timed too, as is the env in the previous default (NCHW), so the
  speed-up of the current default is measured in the same run;
* env step with the teacher's outputs cached (warm) and not cached;
* reset ÷ env step;
* ms per step split into data, student forward/backward, teacher, optimizer and observation;
* policy overhead: the REINFORCE-LSTM agent's act + update per step (``learn`` on an env with the
  same spaces whose steps cost nothing) ÷ env step.

Timings alternate between the contenders over several rounds and report medians, so a slow
moment of the machine hits all of them alike. Run it alone: never beside another heavy job.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
import tyro

import asg_gym  # noqa: F401
from experiments.common import REPO, report_result


@dataclass
class Args:
    """Benchmark of one env step of a Digits-family env against a bare SGD step of its student."""

    env: str = "ASG-Digits-v0"
    """env id: ASG-Digits-v0 or ASG-DigitsOnPhotos-v1 (the same student and step at their own defaults)"""
    backbone: str = "efficientnet_lite0"
    """student backbone"""
    image_size: int | None = None
    """image size (None: the env's default)"""
    batch_size: int | None = None
    """batch size (None: the env's default)"""
    steps: int = 20
    """timed steps per contender and round"""
    rounds: int = 5
    """alternating rounds (medians are reported)"""
    threads: int = 2
    """torch CPU threads"""
    out: str | None = str(REPO / "results" / "bench_env")
    """output folder (None: print only)"""
    quick: bool = False
    """toy backbone, 3 steps × 2 rounds: a smoke test"""


def timed(fn: Callable[[], object], n: int) -> float:
    """Mean seconds per call of ``fn`` over ``n`` calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def make_env(args: Args, **kwargs: object) -> gym.Env:
    sizes = {k: v for k, v in (("image_size", args.image_size), ("batch_size", args.batch_size)) if v is not None}
    extra = {"num_source_images": 256, "eval_size": 100} if args.quick else {}
    # A source of 20 batches: one warm-up epoch fills the teacher cache.
    env = gym.make(args.env, backbone=args.backbone, device="cpu", eval_every=0, total_steps=10**6,
                   **{"num_source_images": 20 * (args.batch_size or 32), **extra, **sizes, **kwargs})
    return env


def bare_step_fn(env: gym.Env, channels_last: bool) -> Callable[[], None]:
    """A plain PyTorch SGD step of a copy of the env's student on one fixed batch, in NCHW or channels-last."""
    opt = env.unwrapped.optimizee
    images, labels, _ = env.unwrapped.source.next_batch()
    features, head = copy.deepcopy(opt.features), copy.deepcopy(opt.new_head)  # copies: the env is untouched
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    features.to(memory_format=memory_format)
    images = images.contiguous(memory_format=memory_format)
    sgd = torch.optim.SGD([*features.parameters(), *head.parameters()], lr=1e-5, momentum=0.9, weight_decay=5e-4)

    def step() -> None:
        sgd.zero_grad(set_to_none=True)
        loss = F.cross_entropy(head(features(images).mean(dim=(2, 3))), labels)
        loss.backward()
        sgd.step()

    return step


class FreeStepEnv(gym.Env[np.ndarray, np.ndarray]):
    """The spaces and one real observation of an ASG env, with steps that cost nothing."""

    def __init__(self, env: gym.Env, observation: np.ndarray) -> None:
        self.observation_space, self.action_space = env.observation_space, env.action_space
        self._observation = observation

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return self._observation, {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        return self._observation, 0.01, False, False, {}


def policy_fn(env: gym.Env) -> Callable[[], object]:
    """One REINFORCE-LSTM training step (act, and every U = 5 steps an update) on free steps."""
    from agents import ReinforceLSTMAgent

    observation, _ = env.reset(seed=0)
    agent = ReinforceLSTMAgent(FreeStepEnv(env, observation), seed=0)
    return lambda: agent.learn(1)


def component_fns(env: gym.Env) -> dict[str, Callable[[], object]]:
    """The pieces of one env step, each timed on its own."""
    unwrapped = env.unwrapped
    opt, source = unwrapped.optimizee, unwrapped.source
    images, labels, _ = source.next_batch()
    teacher = opt.teacher_log_probs(images)

    def student() -> None:
        opt.zero_grad()
        pooled = opt.features(images).mean(dim=(2, 3))
        loss = F.cross_entropy(opt.new_head(pooled), labels)
        kl = F.kl_div(F.log_softmax(opt.imagenet_head(pooled), 1), teacher, log_target=True, reduction="batchmean")
        (loss + opt.lam * kl).backward()

    student()
    return {
        "data": source.next_batch,
        "student_fwd_bwd": student,
        "teacher": lambda: opt.teacher_log_probs(images),
        "optimizer": opt.sgd_step,
        "observation": unwrapped._observation,
    }


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv)
    if args.quick:
        args.backbone, args.steps, args.rounds, args.image_size, args.out = "toy", 3, 2, 32, None
    torch.set_num_threads(args.threads)
    action = np.array([1] * 6 + [10])  # hand-tuned: small backbone LR, large head LR
    cached, uncached = make_env(args), make_env(args, cache_teacher=False)
    previous = make_env(args, channels_last=False)  # the default before channels-last (asg-gym 0.1.0)
    for env in (cached, uncached, previous):
        env.reset(seed=0)
    for _ in range(20):  # one epoch: afterwards every teacher output is cached
        cached.step(action)
        previous.step(action)
    contenders = {
        "bare_sgd_step_nchw": bare_step_fn(cached, channels_last=False),
        "bare_sgd_step_channels_last": bare_step_fn(cached, channels_last=True),
        "env_step_cached": lambda: cached.step(action),
        "env_step_previous_default": lambda: previous.step(action),
        "env_step_uncached": lambda: uncached.step(action),
        "reset": lambda: cached.reset(seed=1),
        **component_fns(uncached),
        "policy_act_update": policy_fn(cached),
    }
    for fn in contenders.values():
        fn()  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            n = 1 if name == "reset" else args.steps
            samples[name].append(timed(fn, n))
    ms = {name: 1000 * statistics.median(v) for name, v in samples.items()}
    best_bare = min(ms["bare_sgd_step_nchw"], ms["bare_sgd_step_channels_last"])
    result = {
        "ms": {k: round(v, 2) for k, v in ms.items()},
        "env_cached_over_best_bare": round(ms["env_step_cached"] / best_bare, 3),
        "env_cached_over_nchw_bare": round(ms["env_step_cached"] / ms["bare_sgd_step_nchw"], 3),
        "env_uncached_over_best_bare": round(ms["env_step_uncached"] / best_bare, 3),
        "speedup_over_previous_default": round(ms["env_step_previous_default"] / ms["env_step_cached"], 3),
        "reset_over_step": round(ms["reset"] / ms["env_step_cached"], 3),
        "policy_over_step": round(ms["policy_act_update"] / ms["env_step_cached"], 4),
        "config": {"env": args.env, "backbone": args.backbone, "image_size": cached.unwrapped.source.images.shape[-1],
                   "batch_size": cached.unwrapped.source.batch_size, "lam": cached.unwrapped.optimizee.lam,
                   "threads": args.threads,
                   "channels_last": cached.unwrapped.optimizee.channels_last},
    }
    return report_result(result, args.out, "bench_env", args)


if __name__ == "__main__":
    main()
