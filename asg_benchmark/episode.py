"""One evaluation episode of a frozen agent: return, final scores, the evaluation curve and the actions."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asg_benchmark import faults


@dataclass
class EpisodeResult:
    """What one episode gives.

    Attributes:
        episode_return: the sum of rewards (``L_0 − L_T`` without divergence).
        diverged: the loss turned non-finite and ended the episode.
        steps: actions taken.
        target_metric: the env's score key (``target_accuracy``; ``target_miou`` for segmentation).
        target_score: that score at the end of the episode, on the env's evaluation set.
        old_task_agreement: agreement with the frozen ImageNet teacher at the end (reported beside
            the score, never folded into it).
        final_loss, final_loss_xe, final_loss_kl: the training loss and its terms after the last step.
        scores: every final ``target_*`` float of the last ``info``.
        curve: ``(sgd_step, target score, old-task agreement)`` at every evaluation of the episode.
        actions: the actions taken, one list of C integers per step.
        seconds: wall time of the episode.
    """

    episode_return: float
    diverged: bool
    steps: int
    target_metric: str
    target_score: float
    old_task_agreement: float
    final_loss: float
    final_loss_xe: float = float("nan")
    final_loss_kl: float = float("nan")
    scores: dict[str, float] = field(default_factory=dict)
    curve: list[tuple[int, float, float]] = field(default_factory=list)
    actions: list[list[int]] = field(default_factory=list)
    seconds: float = 0.0


def run_episode(env: Any, agent: Any, seed: int, *, deterministic: bool,
                on_step: Callable[[], object] | None = None) -> EpisodeResult:
    """Run ``agent`` (frozen: ``predict`` only) for one episode of ``env`` reset with ``seed``.

    ``deterministic`` goes to every ``predict`` call: ``False`` samples a stochastic policy (as it
    was trained), ``True`` takes its greedy action. The recurrent state is threaded through and
    ``episode_start`` is True on the first step only. ``on_step()`` runs after every step (e.g. a
    progress bar's update).
    """
    metric = getattr(env.unwrapped, "target_metric", "target_accuracy")
    started = time.perf_counter()
    obs, info = env.reset(seed=seed)
    state, episode_start = None, np.array([True])
    result = EpisodeResult(0.0, False, 0, metric, float("nan"), float("nan"), float("nan"))
    done = False
    while not done:
        action, state = agent.predict(obs, state=state, episode_start=episode_start, deterministic=deterministic)
        obs, reward, terminated, truncated, info = env.step(action)
        faults.checkpoint("eval")
        result.actions.append([int(a) for a in np.asarray(action).reshape(-1)])
        result.episode_return += float(reward)
        result.steps += 1
        episode_start = np.array([False])
        done = bool(terminated or truncated)
        if metric in info:
            result.curve.append((int(info["sgd_step"]), float(info[metric]), float(info["old_task_agreement"])))
        if on_step is not None:
            on_step()
    result.diverged = bool(info.get("diverged", False))
    result.final_loss = float(info.get("loss", float("nan")))
    result.final_loss_xe = float(info.get("loss_xe", float("nan")))
    result.final_loss_kl = float(info.get("loss_kl", float("nan")))
    result.scores = {k: float(v) for k, v in info.items() if k.startswith("target_") and isinstance(v, float)}
    if metric not in info:
        raise RuntimeError(f"the episode ended without a final evaluation: no {metric!r} in its last info")
    result.target_score = float(info[metric])
    result.old_task_agreement = float(info.get("old_task_agreement", float("nan")))
    result.seconds = time.perf_counter() - started
    return result
