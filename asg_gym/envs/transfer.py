"""The ASG environment: layer-wise learning-rate control of synthetic-to-real transfer learning."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from asg_gym.envs.rendering import EpisodeHistory, render_ansi, render_rgb_array
from asg_gym.optimizee import LossTerms, Optimizee

NUM_SCALES = 11  # a_c ∈ {0, 0.1, …, 1.0}
NUM_LOSS_FEATURES = 5  # L_XE, L_KL, t/T, mean(θ_n), std(θ_n)
# Observations are clipped to finite bounds far beyond any healthy run (losses ~1, weights ~0.01),
# so spaces stay finite and a diverging run still yields a valid observation.
OBS_LIMIT = 1e3


class BatchSource(Protocol):
    """Where minibatches of labelled source (synthetic) images come from."""

    num_samples: int
    cacheable: bool

    def reset(self, seed: int) -> None: ...

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]: ...


Evaluation = Callable[[Optimizee], dict[str, float]]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but torch sees no CUDA device; use device='auto' or 'cpu'")
    return resolved


def _mean_terms(window: list[LossTerms]) -> LossTerms:
    n = len(window)
    return LossTerms(sum(t.total for t in window) / n, sum(t.xe for t in window) / n, sum(t.kl for t in window) / n)


class ASGTransferEnv(gym.Env[np.ndarray, np.ndarray]):
    """
    ## Description

    Fine-tuning an ImageNet-pretrained CNN on synthetic images, as a control problem (ASG,
    Chen et al., ICML 2020). Each step the agent picks one learning-rate scale per optimization
    coordinate (a block of layers at one feature-map resolution, plus the new task head); the
    environment performs SGD with those learning rates on the proxy-guided loss
    L = L_XE + λ·L_KL, where L_KL keeps the student's ImageNet predictions close to a frozen copy
    of the pretrained model. Real target images are only evaluated and reported in ``info``;
    they never enter the observation or the reward.

    ## Action Space

    ``MultiDiscrete([11] * C)``: value k for coordinate c sets its learning rate to
    ``k / 10 · base_lr``. C (7 for every shipped backbone) and the coordinate names are in
    ``env.unwrapped.coordinate_names``.

    ## Observation Space

    ``Box(5 + C,)`` float32:

    | index | observation | min | max |
    |---|---|---|---|
    | 0 | L_XE, cross-entropy of the new head on the last batch(es) | 0 | 1e3 |
    | 1 | L_KL, proxy-guidance KL to the frozen ImageNet model | 0 | 1e3 |
    | 2 | t / T, fraction of the episode's actions taken | 0 | 1 |
    | 3 | mean of the weights of θ_n's last linear layer | -1e3 | 1e3 |
    | 4 | std of the weights of θ_n's last linear layer | 0 | 1e3 |
    | 5 … 4+C | previous scale a_{t-1,c} per coordinate (1.0 at reset) | 0 | 1 |

    With ``sgd_steps_per_action = k > 1`` the losses are means over the k SGD steps of the action.
    Values are clipped to the bounds (only a diverging run reaches them).

    ## Rewards

    ``r_t = L_{t-1} - L_t``, the drop of the total training loss. Summed over an episode it is
    ``L_0 - L_T``. A non-finite loss ends the episode with ``reward = crash_penalty``.

    ## Starting State

    ``reset(seed=…)`` restores the pretrained weights from memory, draws a new task head, a new
    SGD optimizer (empty momentum) and a new data order from the seed, then evaluates L_0 on the
    first batch. Same seed, same trajectory (bitwise on CPU).

    ## Episode End

    Terminated when the loss becomes non-finite (``info["diverged"] = True``); truncated after
    ``total_steps`` actions.

    ## Info

    ``loss``, ``loss_xe``, ``loss_kl``, ``lr`` and ``scale`` (C values each), ``sgd_step``;
    every ``eval_every`` actions and at the episode's end also ``target_accuracy``,
    ``target_mean_class_accuracy`` and ``old_task_agreement`` (top-1 agreement of the student's
    ImageNet head with the frozen teacher on the real images).

    ## Version History

    * v0: initial release.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        *,
        optimizee: Optimizee,
        source: BatchSource,
        evaluation: Evaluation,
        total_steps: int,
        sgd_steps_per_action: int = 1,
        eval_every: int = 0,
        crash_penalty: float = -10.0,
        cache_teacher: bool = True,
        target_metric: str = "target_accuracy",
        render_mode: str | None = None,
    ) -> None:
        if total_steps < 1 or sgd_steps_per_action < 1 or eval_every < 0:
            raise ValueError(
                "need total_steps >= 1, sgd_steps_per_action >= 1 and eval_every >= 0 (0 = only at the end); "
                f"got {total_steps}, {sgd_steps_per_action}, {eval_every}"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.optimizee = optimizee
        self.source = source
        self.evaluation = evaluation
        self.total_steps = int(total_steps)
        self.sgd_steps_per_action = int(sgd_steps_per_action)
        self.eval_every = int(eval_every)
        self.crash_penalty = float(crash_penalty)
        self.render_mode = render_mode
        self.target_metric = target_metric  # the info key of the target-domain score
        if optimizee.regulariser is not None:
            optimizee.regulariser.prepare(optimizee, source.next_batch)
        if cache_teacher and source.cacheable:
            # Without random augmentation the teacher's output is a function of the sample id.
            optimizee.enable_teacher_cache(source.num_samples)

        self.coordinate_names = optimizee.coordinate_names
        c = len(self.coordinate_names)
        self.action_space = spaces.MultiDiscrete([NUM_SCALES] * c)
        lim = OBS_LIMIT
        low = np.array([0, 0, 0, -lim, 0] + [0] * c, dtype=np.float32)
        high = np.array([lim, lim, 1, lim, lim] + [1] * c, dtype=np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)

        self._t = 0
        self._sgd_step = 0
        self._loss: LossTerms | None = None
        self._scales = np.ones(c)
        self._done = True
        self.history = EpisodeHistory(self.coordinate_names, target_metric)

    # --------------------------------------------------------------------------------- API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        model_seed, data_seed = (int(s) for s in self.np_random.integers(2**31 - 1, size=2))
        self.optimizee.reset(model_seed)
        self.source.reset(data_seed)
        self._t = 0
        self._sgd_step = 0
        self._scales = np.ones(len(self.coordinate_names))
        self._loss = self.optimizee.forward_backward(*self.source.next_batch())  # L_0 at θ_0
        self._done = False
        self.history.clear()
        self.history.record(0, self._loss, self._scales, None)
        return self._observation(), self._info(self._loss, self._scales)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._done or self._loss is None:
            raise RuntimeError("call reset() before step() (and again after an episode ends)")
        scales = self._validate(action) / 10.0
        self.optimizee.set_scales(scales.tolist())
        window: list[LossTerms] = []
        for _ in range(self.sgd_steps_per_action):
            self.optimizee.sgd_step()  # Algorithm 1: update with the gradients of the last loss
            self._sgd_step += 1
            terms = self.optimizee.forward_backward(*self.source.next_batch())
            window.append(terms)
            if not terms.is_finite():
                break
        self._t += 1
        loss = _mean_terms(window)
        diverged = not loss.is_finite()
        reward = self.crash_penalty if diverged else self._loss.total - loss.total
        truncated = self._t >= self.total_steps and not diverged
        self._done = diverged or truncated
        self._scales = scales
        if not diverged:
            self._loss = loss
        info = self._info(loss, scales)
        info["diverged"] = diverged
        metrics = None
        if self._done or (self.eval_every and self._t % self.eval_every == 0):
            metrics = self.evaluation(self.optimizee)
            info.update(metrics)
        self.history.record(self._t, loss, scales, metrics)
        return self._observation(), float(reward), bool(diverged), bool(truncated), info

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "ansi":
            return render_ansi(self.history, self.total_steps)
        if self.render_mode == "rgb_array":
            return render_rgb_array(self.history, self.total_steps)
        return None

    def close(self) -> None:
        self._done = True

    # ------------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The mid-episode state, for an exact resume of a long run.

        Optimizee weights and SGD momentum, the gradients of the last loss (the next action
        applies them), the source's data order, and the step counters. Restore with
        ``reset(seed=<same seed>)`` followed by :meth:`load_state_dict`.
        """
        if self._loss is None:
            raise RuntimeError("call reset() before state_dict()")
        if not hasattr(self.source, "state_dict"):
            raise TypeError(f"{type(self.source).__name__} has no state_dict(); its data order cannot be saved")
        gradients = [None if p.grad is None else p.grad.detach().clone() for p in self.optimizee.trainable_parameters()]
        return {
            "t": self._t,
            "sgd_step": self._sgd_step,
            "total_steps": self.total_steps,
            "done": self._done,
            "scales": [float(s) for s in self._scales],
            "loss": [self._loss.total, self._loss.xe, self._loss.kl],
            "optimizee": copy.deepcopy(self.optimizee.state_dict()),  # a snapshot, not views of live weights
            "gradients": gradients,
            "source": self.source.state_dict(),  # type: ignore[attr-defined]
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`; ``total_steps`` may have grown since it was saved."""
        if self._loss is None:
            raise RuntimeError("call reset(seed=...) before load_state_dict() (it builds the optimizer)")
        self.optimizee.load_state_dict(state["optimizee"])
        for param, grad in zip(self.optimizee.trainable_parameters(), state["gradients"]):
            param.grad = None if grad is None else grad.to(param.device)
        self.source.load_state_dict(state["source"])  # type: ignore[attr-defined]
        self._t, self._sgd_step = int(state["t"]), int(state["sgd_step"])
        self._scales = np.asarray(state["scales"], dtype=float)
        self._loss = LossTerms(*state["loss"])
        diverged = bool(state["done"]) and self._t < int(state["total_steps"])
        self._done = diverged or self._t >= self.total_steps
        self.history.clear()
        self.history.record(self._t, self._loss, self._scales, None)

    # ----------------------------------------------------------------------------- helpers
    def _validate(self, action: Any) -> np.ndarray:
        arr = np.asarray(action)
        expected = self.action_space.shape
        if arr.shape != expected or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"action must be an array of shape {expected} in {self.action_space}, got {action!r}")
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)) or arr.min() < 0 or arr.max() >= NUM_SCALES:
            raise ValueError(
                f"action values must be integers 0…{NUM_SCALES - 1} (scale k/10) for {self.action_space}, got {action!r}"
            )
        return arr.astype(np.int64)

    def _observation(self) -> np.ndarray:
        assert self._loss is not None
        mean, std = self.optimizee.head_weight_stats()
        obs = np.array([self._loss.xe, self._loss.kl, self._t / self.total_steps, mean, std, *self._scales])
        obs = np.nan_to_num(obs, nan=0.0, posinf=OBS_LIMIT, neginf=-OBS_LIMIT)
        return np.clip(obs, self.observation_space.low, self.observation_space.high).astype(np.float32)

    def _info(self, loss: LossTerms, scales: np.ndarray) -> dict[str, Any]:
        base_lr = self.optimizee.base_lr
        return {
            "loss": loss.total,
            "loss_xe": loss.xe,
            "loss_kl": loss.kl,
            "scale": [float(s) for s in scales],
            "lr": [float(s) * base_lr for s in scales],
            "sgd_step": self._sgd_step,
        }
