"""``ASG-DigitSeg-v0``: segmentation of synthetic digit scenes → scenes of real digits, on any CPU.

The embedded counterpart of ``ASG-GTA5-v0``: an FCN on the embedded EfficientNet-Lite0, dense
proxy guidance (Eq. 5), and mIoU on scenes composed from real MNIST-5k digits. Everything comes
from PyPI packages; nothing is downloaded.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

from typing_extensions import Unpack

from asg_gym.data.digit_scenes import NUM_SCENE_CLASSES, real_scenes, synthetic_scenes
from asg_gym.data.tensor_source import TensorSource
from asg_gym.envs.config import EnvConfig, SharedKwargs, check_count
from asg_gym.envs.transfer import ASGTransferEnv
from asg_gym.evaluation import TensorBatches
from asg_gym.proxy_guidance import GuidanceForm
from asg_gym.segmentation.evaluation import SegmentationEvaluation
from asg_gym.segmentation.models import build_segmentation_network
from asg_gym.segmentation.optimizee import SegmentationOptimizee

# base_lr and λ from experiments/studies/sweep_digitseg.py (results/sweep_digitseg/): at 1e-2 "all_large" and
# λ = 10 diverge; at 3e-3 nothing diverges and λ = 1 gave the best mIoU. Sizes: ~2 min per episode.
DEFAULTS: dict[str, Any] = {
    "weights": "imagenet",
    "lam": 1.0,
    "base_lr": 3e-3,
    "scene_size": 96,
    "batch_size": 8,
    "num_patches": 4,
    "patch_size": 2,
    "total_steps": 300,
    "eval_every": 100,
    "eval_size": 200,
    "num_source_scenes": 2000,
    "max_digits": 3,
}
TARGET_SCENES_SEED = 1  # target scenes: a fixed set, independent of the episode seed and of the source


class DigitSegEnv(ASGTransferEnv):
    __doc__ = (ASGTransferEnv.__doc__ or "") + """
    ## Segmentation (``ASG-DigitSeg-v0``)

    Labels are per pixel: digits 0…9 and 10 = background. L_XE is the per-pixel cross-entropy
    and L_KL the dense proxy guidance of Eq. 5 (patches of the conv5 map). θ_n is the FCN
    decoder; observation features 3–4 are the statistics of its last (classifier) layer. The info
    reports ``target_miou``, ``target_iou`` (per class), ``target_pixel_accuracy`` and
    ``old_task_agreement`` (image-level ImageNet top-1 agreement with the frozen teacher).

    ```python
    import gymnasium as gym, asg_gym
    env = gym.make("ASG-DigitSeg-v0", total_steps=300)
    ```

    Its own keywords (the shared ones are above):

    * ``network``: ``"fcn_efficientnet_lite0"`` (embedded ImageNet weights) or ``"fcn_toy"``.
    * ``num_patches``, ``patch_size``: N patches per image and their side in conv5 cells (Eq. 5).
    * ``guidance``, ``kl_cap``: as ``ASG-GTA5-v0`` (``"patches"``; no cap by default here, so that
      the recorded results stay reproducible).
    * ``scene_size``: the square scene side in pixels; ``eval_size``: real target scenes.
    * ``total_steps`` (shared): the 300-step default keeps an episode near 2 minutes on 2 CPU cores,
      but the FCN is then still
      learning to segment at all (held-out rendered scenes score about as low as real ones;
      ``experiments/studies/digitseg_gap.py``): for synthetic-to-real questions use 1,200 steps or more.
    * ``num_source_scenes``, ``max_digits``, ``source_seed``: the rendered synthetic set.

    ## Version History (``ASG-DigitSeg-v0``)

    * v0, asg-gym 0.1.0: initial release (defaults base LR 3e-3, λ 1, from
      ``experiments/studies/sweep_digitseg.py``).
    * asg-gym 0.2.0: channels-last memory format by default on CPU, **result-changing (bitwise)**:
      ``channels_last=False`` reproduces 0.1.0 bit for bit. New keywords whose defaults keep the earlier
      behaviour: ``guidance`` (``"patches"``), ``kl_cap`` (``None``: no cap), ``momentum_style``,
      ``window_growth``, ``num_threads``.
    * asg-gym 0.3.0: keywords validated when the env is built (as ``ASG-Digits-v0``;
      ``num_source_scenes`` ≥ ``batch_size``); not result-changing.
    * asg-gym 0.3.0, **result-changing (bitwise)** with ``cache_teacher=True`` (the default): the cached
      teacher outputs of a batch with any new sample are computed on the whole batch, as without the
      cache, so an episode no longer depends on the episodes the same env ran before it (CPU kernels
      round differently for other batch sizes; differences of ~1e-8 in L_KL).
    """

    def __init__(
        self,
        *,
        network: str = "fcn_efficientnet_lite0",
        num_patches: int = DEFAULTS["num_patches"],
        patch_size: int = DEFAULTS["patch_size"],
        guidance: GuidanceForm = "patches",
        kl_cap: float | None = None,
        scene_size: int = DEFAULTS["scene_size"],
        eval_size: int = DEFAULTS["eval_size"],
        num_source_scenes: int = DEFAULTS["num_source_scenes"],
        max_digits: int = DEFAULTS["max_digits"],
        source_seed: int = 0,
        **shared: Unpack[SharedKwargs],
    ) -> None:
        config = EnvConfig.build("ASG-DigitSeg-v0", DEFAULTS, shared)
        if config.data_root is not None:
            warnings.warn("ASG-DigitSeg-v0 ships its data; data_root is ignored", stacklevel=2)
        scene_size = check_count("scene_size", scene_size, 32, why="pixels")
        eval_size = check_count("eval_size", eval_size)
        num_source_scenes = check_count("num_source_scenes", num_source_scenes, config.batch_size,
                                        minimum_name="batch_size")
        max_digits = check_count("max_digits", max_digits)
        num_patches = check_count("num_patches", num_patches)
        patch_size = check_count("patch_size", patch_size)
        source_seed = check_count("source_seed", source_seed, 0)
        device = config.torch_device()
        net = build_segmentation_network(network, config.weights, NUM_SCENE_CLASSES)
        optimizee = SegmentationOptimizee(
            net, num_patches=num_patches, patch_size=patch_size, guidance=guidance, kl_cap=kl_cap,
            **config.optimizee_kwargs(device),
        )
        images, labels = synthetic_scenes(num_source_scenes, scene_size, max_digits, source_seed)
        source = TensorSource(images, labels, config.batch_size, net.mean, net.std, device)
        target_images, target_labels = real_scenes(eval_size, scene_size, max_digits, TARGET_SCENES_SEED)
        evaluation = SegmentationEvaluation(
            TensorBatches(target_images, target_labels, net.mean, net.std, device, batch_size=50)
        )
        super().__init__(optimizee=optimizee, source=source, evaluation=functools.partial(evaluation, optimizee),
                         config=config, target_metric="target_miou")
