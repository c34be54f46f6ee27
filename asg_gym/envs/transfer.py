"""The ASG environment: layer-wise learning-rate control of synthetic-to-real transfer learning."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from asg_gym import spaces as asg_spaces
from asg_gym.allocator import keep_freed_memory
from asg_gym.envs.config import EnvConfig
from asg_gym.envs.rendering import EpisodeHistory, render_ansi, render_rgb_array
from asg_gym.interfaces import BatchSource, LossTerms, Optimizee, StepStats
from asg_gym.threads import set_num_threads
from asg_gym.windows import decision_windows

Evaluation = Callable[[], dict[str, Any]]  # the target-domain scores of the optimizee's current weights


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

    ## Arguments (every id)

    Shared keywords, with each id's own defaults (:class:`~asg_gym.envs.config.EnvConfig`):
    ``weights``, ``lam``, ``base_lr``, ``momentum``, ``weight_decay``, ``momentum_style``, ``batch_size``,
    ``total_steps``, ``sgd_steps_per_action``, ``window_growth`` (``"fixed"`` | ``"reference"``: growing
    decision windows, :mod:`asg_gym.windows`), ``eval_every`` (0 = only at the end),
    ``crash_penalty``, ``cache_teacher``, ``channels_last``, ``bf16``, ``device``
    (``"auto"`` | ``"cpu"`` | ``"cuda"``), ``num_threads``, ``data_root`` and ``render_mode``. Each id documents
    its own keywords below.

    ## Version History

    * v0: initial release.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}  # noqa: RUF012  (as gym.Env)

    def __init__(
        self,
        *,
        optimizee: Optimizee,
        source: BatchSource,
        evaluation: Evaluation,
        config: EnvConfig,
        target_metric: str = "target_accuracy",
    ) -> None:
        # EnvConfig has checked the counts; only the data-set envs resolve total_steps=None (one pass).
        if config.total_steps is None:
            raise ValueError("total_steps=None (one pass over the source) is for the envs that read a data set; "
                             "pass total_steps=<actions per episode>, e.g. total_steps=300")
        if config.render_mode is not None and config.render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {config.render_mode!r}"
            )
        set_num_threads(config.num_threads)
        keep_freed_memory()  # each SGD step reuses the last one's pages (asg_gym.allocator)
        self.config = config
        self.optimizee = optimizee
        self.source = source
        self.evaluation = evaluation
        # The SGD steps of each action; their count is the episode length in actions.
        self.windows = decision_windows(config.total_steps, config.sgd_steps_per_action, config.window_growth)
        self._window_ends = np.cumsum(self.windows).tolist()
        self.total_steps = len(self.windows)
        self.render_mode = config.render_mode
        self.target_metric = target_metric  # the info key of the target-domain score
        optimizee.prepare(source)

        self.coordinate_names = optimizee.coordinate_names
        self.action_space = asg_spaces.action_space(len(self.coordinate_names))
        self.observation_space = asg_spaces.observation_space(len(self.coordinate_names))

        self._t = 0
        self._sgd_step = 0
        self._stats: StepStats | None = None  # of the last action: the observation is built from it
        self._scales = np.ones(len(self.coordinate_names))
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
        self._stats = self.optimizee.start(self.source.next_batch())  # L_0 at θ_0
        self._done = False
        self.history.clear()
        self.history.record(0, self._stats.loss, self._scales, None)
        return self._observation(), self._info(self._stats)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._done or self._stats is None:
            raise RuntimeError("call reset() before step() (and again after an episode ends)")
        scales = asg_spaces.action_to_scales(action, self.action_space)
        window: list[StepStats] = []
        for _ in range(self.windows[self._t]):
            stats = self.optimizee.train_step(scales.tolist(), self.source.next_batch())
            self._sgd_step += 1
            window.append(stats)
            if not stats.loss.is_finite():
                break
        self._t += 1
        loss = LossTerms.mean([s.loss for s in window])
        diverged = not loss.is_finite()
        reward = self.config.crash_penalty if diverged else self._stats.loss.total - loss.total
        truncated = self._t >= self.total_steps and not diverged
        self._done = diverged or truncated
        self._scales = scales
        last = window[-1]
        info = self._info(StepStats(loss, last.lrs, last.head_mean, last.head_std))
        info["diverged"] = diverged
        # A diverged step keeps the last finite losses in the observation (its info shows the NaN).
        self._stats = StepStats(self._stats.loss if diverged else loss, last.lrs, last.head_mean, last.head_std)
        metrics = None
        if self._done or (self.config.eval_every and self._t % self.config.eval_every == 0):
            metrics = self.evaluation()
            info.update(metrics)
        self.history.record(self._t, loss, scales, metrics)
        return self._observation(), float(reward), bool(diverged), bool(truncated), info

    @property
    def sgd_steps_per_episode(self) -> int:
        """The SGD steps of a whole episode (all its decision windows)."""
        return int(self._window_ends[-1])

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

        The optimizee's snapshot (weights, SGD momentum, the pending gradients the next action
        applies), the source's data order, the last step's statistics, and the step counters.
        Restore with ``reset(seed=<same seed>)`` followed by :meth:`load_state_dict`.
        """
        if self._stats is None:
            raise RuntimeError("call reset() before state_dict()")
        stats = self._stats
        return {
            "t": self._t,
            "sgd_step": self._sgd_step,
            "total_steps": self.total_steps,
            "done": self._done,
            "scales": [float(s) for s in self._scales],
            "loss": [stats.loss.total, stats.loss.xe, stats.loss.kl],
            "lrs": list(stats.lrs),
            "head_stats": [stats.head_mean, stats.head_std],
            "optimizee": self.optimizee.state_dict(),
            "source": self.source.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`; ``total_steps`` may have grown since it was saved."""
        if self._stats is None:
            raise RuntimeError("call reset(seed=...) before load_state_dict() (it builds the optimizer)")
        self.optimizee.load_state_dict(state["optimizee"])
        self.source.load_state_dict(state["source"])
        self._t, self._sgd_step = int(state["t"]), int(state["sgd_step"])
        self._scales = np.asarray(state["scales"], dtype=float)
        self._stats = StepStats(LossTerms(*state["loss"]), tuple(state["lrs"]), *state["head_stats"])
        diverged = bool(state["done"]) and self._t < int(state["total_steps"])
        self._done = diverged or self._t >= self.total_steps
        self.history.clear()
        self.history.record(self._t, self._stats.loss, self._scales, None)

    # ----------------------------------------------------------------------------- helpers
    def _observation(self) -> np.ndarray:
        assert self._stats is not None
        # t/T as the fraction of the episode's SGD steps done (= actions done / actions for fixed windows).
        progress = self._window_ends[self._t - 1] / self.sgd_steps_per_episode if self._t else 0.0
        return asg_spaces.observation(self._stats, progress, self._scales, self.observation_space)

    def _info(self, stats: StepStats) -> dict[str, Any]:
        return {
            "loss": stats.loss.total,
            "loss_xe": stats.loss.xe,
            "loss_kl": stats.loss.kl,
            "scale": [float(s) for s in self._scales],
            "lr": list(stats.lrs),
            "sgd_step": self._sgd_step,
        }
