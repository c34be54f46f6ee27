"""``ASG-GTA5-v0``: FCN segmentation trained on GTA5, evaluated on Cityscapes (the paper's §4.3).

Needs the user's GTA5 and Cityscapes folders and torchvision's ImageNet weights in its local
cache; meant for a GPU. See ``docs/segmentation.md``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from typing_extensions import Unpack

from asg_gym.data.driving import CITYSCAPES_CLASSES, SegmentationLoaderSource, cityscapes_dataset, gta5_dataset
from asg_gym.data.loaders import LoaderBatches, default_num_workers
from asg_gym.envs.config import EnvConfig, SharedKwargs, check_count, check_optional_count
from asg_gym.envs.transfer import ASGTransferEnv
from asg_gym.proxy_guidance import GuidanceForm
from asg_gym.segmentation.evaluation import SegmentationEvaluation
from asg_gym.segmentation.models import build_segmentation_network
from asg_gym.segmentation.optimizee import SegmentationOptimizee

# §4.3 of the paper: FCN-VGG16, λ = 75, η_base = 1e-3, batch 6, 512×512 crops, scales 0.75–1.25.
# Eq. 5's patches; λ·L_KL capped at 9 as the released code's L2O script does (docs/design.md §5).
DEFAULTS: dict[str, Any] = {
    "network": "fcn_vgg16",
    "weights": "IMAGENET1K_V1",
    "lam": 75.0,
    "base_lr": 1e-3,
    "batch_size": 6,
    "crop_size": (512, 512),
    "scale_range": (0.75, 1.25),
    "eval_size": (512, 1024),
    "num_patches": 4,
    "patch_size": 7,
    "guidance": "patches",
    "kl_cap": 9.0,
    "total_steps": None,
}


class GTA5Env(ASGTransferEnv):
    __doc__ = (ASGTransferEnv.__doc__ or "") + """
    ## Segmentation (``ASG-GTA5-v0``)

    19 Cityscapes classes, 255 = ignore. L_XE is the per-pixel cross-entropy, L_KL the dense
    proxy guidance of Eq. 5 (``num_patches`` patches of ``patch_size`` cells of the conv5 map,
    classified by the frozen ImageNet classifier). θ_n is the FCN decoder; observation features
    3–4 are the statistics of its last (classifier) layer. Info at evaluations: ``target_miou``
    (19-class mIoU on Cityscapes val from one confusion matrix), ``target_iou`` and
    ``target_iou_<class>`` per class, ``target_pixel_accuracy`` and ``old_task_agreement``.

    ```python
    import gymnasium as gym, asg_gym
    env = gym.make("ASG-GTA5-v0", data_root="/data/gta5", cityscapes_root="/data/cityscapes",
                   total_steps=1000, eval_every=250)
    ```

    Shared keywords default to the paper's §4.3: ``weights="IMAGENET1K_V1"`` (torchvision's cache,
    never downloaded), λ 75, ``base_lr`` 1e-3, batch 6, ``total_steps=None`` (one pass over GTA5),
    ``data_root`` = the GTA5 folder (``images/``, ``labels/``; default ``$ASG_GTA5_ROOT``). Its own
    keywords:

    * ``network``: ``"fcn_vgg16"`` (paper; coordinates conv1…conv5, conv6&7, projection/upsampling)
      or ``"fcn_resnet50"`` (conv1, bn1, layer1…layer4, head).
    * ``num_patches``, ``patch_size``: Eq. 5's N and the patch side in conv5 cells.
    * ``guidance``: ``"patches"`` (Eq. 5, default) or ``"whole_map"`` (the released code: θ_o on
      the whole conv5 map, pooled as VGG pools it).
    * ``kl_cap``: λ·L_KL is capped at this value by rescaling λ, as the released code's L2O script
      does (default 9.0); ``None`` = no cap (the paper states none).
    * ``crop_size``, ``scale_range``: seeded multi-scale crops + flips (512×512, 0.75–1.25).
    * ``eval_size``: (height, width) Cityscapes images and labels are resized to (512×1024);
      ``None`` = full 1024×2048. ``eval_limit``: evaluate on the first k val images.
    * ``split``: an optional file of GTA5 image names to train on.
    * ``cityscapes_root``: the Cityscapes folder (``leftImg8bit/val``, ``gtFine/val``), default
      ``$ASG_CITYSCAPES_ROOT``.
    * ``num_workers``, ``eval_batch_size``: as ``ASG-VisDA-v0``.

    ## Version History (``ASG-GTA5-v0``)

    * v0, asg-gym 0.1.0: initial release.
    * asg-gym 0.2.0: λ·L_KL capped at 9 by rescaling λ, as the released L2O script does (``kl_cap=9.0``
      by default; ``None`` is the earlier behaviour), **result-changing**: the loss and the reward change.
      The id stayed ``-v0``: the versioning rule (``docs/versioning.md``) was written later, and no GTA5
      result had been recorded. New keywords with the earlier behaviour as default: ``guidance``
      (``"patches"``), ``momentum_style``, ``window_growth``, ``num_threads``. Channels-last by default
      on CPU only (**result-changing (bitwise)** there; CUDA unchanged).
    * asg-gym 0.3.0: keywords validated when the env is built; not result-changing.
    """

    def __init__(
        self,
        *,
        network: str = DEFAULTS["network"],
        num_patches: int = DEFAULTS["num_patches"],
        patch_size: int = DEFAULTS["patch_size"],
        guidance: GuidanceForm = DEFAULTS["guidance"],
        kl_cap: float | None = DEFAULTS["kl_cap"],
        crop_size: Sequence[int] = DEFAULTS["crop_size"],
        scale_range: tuple[float, float] = DEFAULTS["scale_range"],
        eval_size: Sequence[int] | None = DEFAULTS["eval_size"],
        eval_limit: int | None = None,
        split: str | Path | None = None,
        cityscapes_root: str | Path | None = None,
        num_workers: int | None = None,
        eval_batch_size: int = 4,
        **shared: Unpack[SharedKwargs],
    ) -> None:
        config = EnvConfig.build("ASG-GTA5-v0", DEFAULTS, shared)
        num_patches = check_count("num_patches", num_patches)
        patch_size = check_count("patch_size", patch_size)
        eval_limit = check_optional_count("eval_limit", eval_limit, none_means="every val image")
        num_workers = check_optional_count("num_workers", num_workers, 0, none_means="default_num_workers()")
        eval_batch_size = check_count("eval_batch_size", eval_batch_size)
        # Data errors first: they are the likeliest.
        train = gta5_dataset(config.data_root, split=split, crop_size=crop_size, scale_range=scale_range)
        target = cityscapes_dataset(cityscapes_root, eval_size=eval_size, limit=eval_limit)
        device = config.torch_device()
        workers = default_num_workers() if num_workers is None else num_workers
        net = build_segmentation_network(network, config.weights, len(CITYSCAPES_CLASSES))
        optimizee = SegmentationOptimizee(
            net, num_patches=num_patches, patch_size=patch_size, guidance=guidance, kl_cap=kl_cap,
            **config.optimizee_kwargs(device),
        )
        source = SegmentationLoaderSource(train, config.batch_size, net.mean, net.std, device, num_workers=workers)
        batches = LoaderBatches(target, eval_batch_size, net.mean, net.std, device, num_workers=workers)
        evaluation = SegmentationEvaluation(batches, class_names=CITYSCAPES_CLASSES)
        if config.total_steps is None:
            one_pass = max(1, len(train) // (config.batch_size * config.sgd_steps_per_action))
            config = dataclasses.replace(config, total_steps=one_pass)
        super().__init__(optimizee=optimizee, source=source, evaluation=functools.partial(evaluation, optimizee),
                         config=config, target_metric="target_miou")
        self._loaders = (source, batches)

    def close(self) -> None:
        """End the episode and stop the DataLoader worker processes."""
        super().close()
        for loader in self._loaders:
            loader.close()
