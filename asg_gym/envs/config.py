"""The constructor keywords every ASG env shares, defined and documented once.

Each env takes its own keywords explicitly and the shared ones as ``**shared`` (typed by
:class:`SharedKwargs`); :meth:`EnvConfig.build` merges them over the env's defaults.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import torch

from asg_gym.sgd import MomentumStyle
from asg_gym.windows import WindowGrowth


class SharedKwargs(TypedDict, total=False):
    """Keywords of every ASG env (``gym.make(id, **kwargs)``); see :class:`EnvConfig` for their meaning."""

    weights: str | Path | None
    lam: float
    base_lr: float
    momentum: float
    weight_decay: float
    momentum_style: MomentumStyle
    batch_size: int
    total_steps: int | None
    sgd_steps_per_action: int
    window_growth: WindowGrowth
    eval_every: int
    crash_penalty: float
    cache_teacher: bool
    channels_last: bool | None
    bf16: bool
    device: str
    num_threads: int | None
    data_root: str | Path | None
    render_mode: str | None


@dataclass(frozen=True)
class EnvConfig:
    """The shared settings of an ASG env.

    Attributes:
        weights: the pretrained weights: a name the env knows (``"imagenet"`` for the embedded
            EfficientNet-Lite0, a torchvision name such as ``"IMAGENET1K_V1"`` read from its local
            cache and never downloaded), a path to a state dict, or ``None`` (random init).
        lam: λ, the weight of the proxy-guidance term L_KL (λ = 0 still reports L_KL).
        base_lr: η_base; action value k sets coordinate c's learning rate to ``k/10 · base_lr``.
        momentum, weight_decay: the SGD settings (paper: 0.9, 5e-4).
        momentum_style: ``"torch"`` (``torch.optim.SGD``; the default: under ``"reference"`` a random
            schedule scored 16 points lower on ASG-Digits-v0, results/README.md "The update rule") or
            ``"reference"`` (the learning rate inside the velocity, as the released ASG code;
            :mod:`asg_gym.sgd`).
        batch_size: source images per SGD step.
        total_steps: actions per episode; ``None`` (data-set envs) = one pass over the source.
        sgd_steps_per_action: SGD updates per action (a decision window); the observation's losses
            and the reward use the window's mean loss.
        window_growth: ``"fixed"`` windows, or ``"reference"``: the released code's growing windows
            (each as long as all the SGD steps before it, at least ``sgd_steps_per_action``), over
            the same ``total_steps × sgd_steps_per_action`` SGD steps in fewer actions; the env's
            ``total_steps`` attribute is then that number of actions (:mod:`asg_gym.windows`).
        eval_every: evaluate on the real target every this many actions (0 = only at the end).
        crash_penalty: the reward of the step whose loss turns non-finite (the episode ends).
        cache_teacher: cache the frozen teacher's outputs per source sample when the source has
            no random augmentation (same results, one teacher pass per sample).
        channels_last: channels-last memory format for the CNNs and their inputs; ``None`` (default):
            on for CPUs, where it was measured ~1.9× faster for EfficientNet-Lite0's depthwise
            convolutions (``experiments/bench/bench_env.py``), off on CUDA until measured there.
            Results made before this default (asg-gym 0.1.0) ran with ``False``.
        bf16: bfloat16 autocast of the CNN forward passes (CUDA; losses stay float32).
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        num_threads: torch CPU threads of the process that builds the env (``None``: unchanged);
            e.g. cores ÷ workers for vector envs. A worker forked after torch ran keeps 1
            (:mod:`asg_gym.threads` says why).
        data_root: the data-set folder of the envs that read one (else ignored with a warning).
        render_mode: ``"ansi"``, ``"rgb_array"`` or ``None``.

    Construction checks the numbers (counts are whole numbers in range, rates finite and in range)
    with :func:`check_count` and :func:`check_real`, so a bad value fails when the env is built.
    """

    weights: str | Path | None
    lam: float
    base_lr: float
    batch_size: int
    total_steps: int | None
    eval_every: int = 0
    momentum: float = 0.9
    weight_decay: float = 5e-4
    momentum_style: MomentumStyle = "torch"
    sgd_steps_per_action: int = 1
    window_growth: WindowGrowth = "fixed"
    crash_penalty: float = -10.0
    cache_teacher: bool = True
    channels_last: bool | None = None
    bf16: bool = False
    device: str = "auto"
    num_threads: int | None = None
    data_root: str | Path | None = None
    render_mode: str | None = None

    def __post_init__(self) -> None:
        # Bad values fail when the env is built, not as a divergence or a slicing error mid-episode.
        one_pass = "one pass over the source, for the envs that read a data set"
        counts = {
            "batch_size": check_count("batch_size", self.batch_size),
            "total_steps": check_optional_count("total_steps", self.total_steps, none_means=one_pass),
            "sgd_steps_per_action": check_count("sgd_steps_per_action", self.sgd_steps_per_action),
            "eval_every": check_count("eval_every", self.eval_every, 0, why="0 = only at the episode's end"),
            "num_threads": check_optional_count("num_threads", self.num_threads, none_means="leave torch's setting"),
        }
        for name, value in counts.items():
            object.__setattr__(self, name, value)  # numpy integers become ints
        check_real("lam", self.lam, at_least=0, fix="pass e.g. lam=0.1; lam=0 turns proxy guidance off")
        check_real("base_lr", self.base_lr, above=0,
                   fix="pass e.g. base_lr=1e-3 (the largest learning rate an action can set)")
        check_real("momentum", self.momentum, at_least=0, below=1,
                   fix="pass e.g. momentum=0.9 (the paper's), 0 for none; at 1 or more SGD never forgets a gradient "
                       "and diverges")
        check_real("weight_decay", self.weight_decay, at_least=0,
                   fix="pass e.g. weight_decay=5e-4 (the paper's), 0 for none")
        check_real("crash_penalty", self.crash_penalty,
                   fix="pass the reward of a diverging step, e.g. crash_penalty=-10.0")

    @classmethod
    def build(cls, env_id: str, defaults: Mapping[str, Any], given: Mapping[str, Any]) -> EnvConfig:
        """``given`` keywords over the env's ``defaults``; an unknown keyword is a ``TypeError`` naming valid ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(given) - names)
        if unknown:
            raise TypeError(f"{env_id} got unexpected keyword(s) {unknown}; shared keywords are {sorted(names)}, "
                            "see the env's docstring for its own")
        return cls(**{**{k: v for k, v in defaults.items() if k in names}, **given})

    def torch_device(self) -> torch.device:
        """``"auto"`` → CUDA when available, else CPU; a clear error when CUDA is asked for and absent."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        resolved = torch.device(self.device)
        if resolved.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' was requested but torch sees no CUDA device; use device='auto' or 'cpu'")
        return resolved

    def optimizee_kwargs(self, device: torch.device) -> dict[str, Any]:
        """The optimizee's share of the settings (its constructor keywords)."""
        return {"lam": self.lam, "base_lr": self.base_lr, "momentum": self.momentum,
                "weight_decay": self.weight_decay, "momentum_style": self.momentum_style, "device": device,
                "channels_last": self.use_channels_last(device), "autocast_dtype": self.autocast_dtype(device),
                "cache_teacher": self.cache_teacher}

    def use_channels_last(self, device: torch.device) -> bool:
        """``channels_last``, with ``None`` resolved for ``device`` (on for CPU, off for CUDA)."""
        return device.type == "cpu" if self.channels_last is None else self.channels_last

    def autocast_dtype(self, device: torch.device) -> torch.dtype | None:
        """bfloat16 when ``bf16`` on CUDA; on CPU ``bf16`` is refused with a warning (float32)."""
        if not self.bf16:
            return None
        if device.type != "cuda":
            import warnings

            warnings.warn("bf16 autocast is meant for CUDA; running in float32 on CPU", stacklevel=3)
            return None
        return torch.bfloat16


def check_count(name: str, value: object, minimum: int = 1, *, minimum_name: str | None = None, why: str = "") -> int:
    """``value`` as an ``int`` if it is a whole number (``int`` or numpy integer, not ``bool``) >= ``minimum``.

    Else a ``TypeError`` (not a whole number) or ``ValueError`` (too small) naming ``name``, the value,
    what is expected and how to fix it; ``minimum_name`` names the keyword the minimum comes from
    (``check_count("num_source_images", n, batch_size, minimum_name="batch_size")``), ``why`` explains it.
    """
    bound = f"{minimum_name} ({minimum})" if minimum_name else str(minimum)
    expected = f"{name} must be an int >= {bound}" + (f" ({why})" if why else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{expected}, got {value!r} ({type(value).__name__}); pass a whole number")
    if value < minimum:
        lower = f", or lower {minimum_name}" if minimum_name else ""
        raise ValueError(f"{expected}, got {value!r}; pass {name}={minimum} or more{lower}")
    return int(value)


def check_optional_count(name: str, value: object, minimum: int = 1, *, none_means: str) -> int | None:
    """:func:`check_count`, with ``None`` allowed too (``none_means`` says what it stands for)."""
    if value is None:
        return None
    return check_count(name, value, minimum, why=f"or None: {none_means}")


def check_real(name: str, value: object, *, at_least: float | None = None, above: float | None = None,
               below: float | None = None, fix: str) -> float:
    """``value`` as a ``float`` if it is a finite real number (not ``bool``) within the given bounds.

    Else a ``TypeError`` (not a number) or ``ValueError`` (NaN, infinite or out of bounds) naming
    ``name``, the value and the bounds, followed by ``fix``.
    """
    bounds = [f"{op} {bound}" for op, bound in ((">=", at_least), (">", above), ("<", below)) if bound is not None]
    expected = f"{name} must be a finite number" + (f" {' and '.join(bounds)}" if bounds else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{expected}, got {value!r} ({type(value).__name__}); {fix}")
    number = float(value)
    if not (math.isfinite(number) and (at_least is None or number >= at_least) and (above is None or number > above)
            and (below is None or number < below)):
        raise ValueError(f"{expected}, got {value!r}; {fix}")
    return number
