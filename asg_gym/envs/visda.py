"""``ASG-VisDA-v0``: ResNet-101 on VisDA-17, synthetic renderings → real images (the paper's setting).

Needs the user's VisDA-17 folder and torchvision's ImageNet ResNet weights in its local cache;
meant for a GPU. See ``docs/visda.md``.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

from typing_extensions import Unpack

from asg_gym.backbones import build_backbone
from asg_gym.data.image_files import stratified_subset
from asg_gym.data.loaders import LoaderSource, default_num_workers
from asg_gym.data.visda import VISDA_CLASSES, VisDAEvaluation, imagenet_val_dataset, resolve_visda_root, visda_split
from asg_gym.envs.config import EnvConfig, SharedKwargs, check_count, check_optional_count
from asg_gym.envs.transfer import ASGTransferEnv
from asg_gym.optimizee import ClassificationOptimizee

# Sec. 4 of the paper: ResNet-101, λ = 0.1, lr 1e-4, momentum 0.9, weight decay 5e-4, batch 32.
# Scored as VisDA-17 and the paper score it: mean per-class accuracy (the headline metric), with the
# released code's flip averaging at evaluation.
DEFAULTS: dict[str, Any] = {
    "backbone": "resnet101",
    "weights": "IMAGENET1K_V1",
    "lam": 0.1,
    "base_lr": 1e-4,
    "batch_size": 32,
    "image_size": 224,
    "total_steps": None,
    "flip_tta": True,
}
TARGET_METRIC = "target_mean_class_accuracy"
# Fixed subset seeds, independent of the episode seed, so episodes see the same images.
_SUBSET_SEED = 0


class VisDAEnv(ASGTransferEnv):
    __doc__ = (ASGTransferEnv.__doc__ or "") + """
    ## Arguments (``ASG-VisDA-v0``)

    ```python
    import gymnasium as gym, asg_gym
    env = gym.make("ASG-VisDA-v0", data_root="/data/visda17", total_steps=1000, eval_every=250)
    ```

    Shared keywords default to the paper's Sec. 4: ``weights="IMAGENET1K_V1"`` (torchvision's
    cache ``$TORCH_HOME/hub/checkpoints``, never downloaded), λ 0.1, ``base_lr`` 1e-4, batch 32,
    ``total_steps=None`` (one pass over the source), ``data_root`` = the VisDA-17 folder
    (``train/``, ``validation/``; default ``$ASG_VISDA_ROOT``). Its own keywords:

    * ``backbone``: ``"resnet101"`` (paper), ``"resnet50"`` or ``"resnet18"``.
    * ``image_size``: the square crop side (224).
    * ``eval_size``: evaluate on a fixed class-stratified subset of this many validation
      images (and ImageNet images); ``None`` = the whole split (55,388 images).
    * ``fraction``: train on a fixed class-stratified fraction of the source images.
    * ``augment``: random resized crop + flip of source images (disables the teacher cache).
    * ``num_workers``: image-decoding processes (default: every core but one, up to 16; see
      ``default_num_workers``); 0 decodes in-process.
    * ``flip_tta``: average the new head's predictions over each image and its mirror image, as
      the released code evaluates (default ``True``; ``False`` scores the image alone).
    * ``imagenet_val_root``: an ImageNet validation folder (``<root>/<wnid>/*.JPEG``, 1000 folders)
      to also report ``old_task_accuracy``, the ImageNet top-1 of the student.
    * ``head_hidden``, ``eval_batch_size``: width of θ_n's hidden layer; evaluation minibatch.

    The env's ``target_metric`` (the score curves, tables and ``render`` headline) is
    ``target_mean_class_accuracy``, VisDA-17's metric; ``info`` also carries plain
    ``target_accuracy`` and ``target_accuracy_<class>`` for each of the 12 classes.

    ## Version History (``ASG-VisDA-v0``)

    * v0, asg-gym 0.1.0: initial release.
    * asg-gym 0.2.0: the headline metric is ``target_mean_class_accuracy`` and evaluation averages each
      image with its mirror image by default (``flip_tta=True``), as the released code evaluates:
      **result-changing** for the reported score, not for what the agent faces (no VisDA-17 result had
      been recorded). Channels-last by default on CPU only (**result-changing (bitwise)** there; CUDA
      unchanged). New keywords with the earlier behaviour as default: ``momentum_style``,
      ``window_growth``, ``num_threads``.
    * asg-gym 0.3.0: keywords validated when the env is built; not result-changing.
    * asg-gym 0.3.0, **result-changing (bitwise)** with ``cache_teacher=True`` (the default): the cached
      teacher outputs of a batch with any new sample are computed on the whole batch, as without the
      cache, so an episode no longer depends on the episodes the same env ran before it (CPU kernels
      round differently for other batch sizes; differences of ~1e-8 in L_KL).
    """

    def __init__(
        self,
        *,
        backbone: str = DEFAULTS["backbone"],
        image_size: int = DEFAULTS["image_size"],
        eval_size: int | None = None,
        fraction: float = 1.0,
        augment: bool = False,
        num_workers: int | None = None,
        flip_tta: bool = DEFAULTS["flip_tta"],
        imagenet_val_root: str | Path | None = None,
        head_hidden: int = 512,
        eval_batch_size: int = 100,
        **shared: Unpack[SharedKwargs],
    ) -> None:
        config = EnvConfig.build("ASG-VisDA-v0", DEFAULTS, shared)
        image_size = check_count("image_size", image_size, 32, why="pixels; ResNet downsamples 32×")
        eval_size = check_optional_count("eval_size", eval_size, none_means="the whole validation split")
        num_workers = check_optional_count("num_workers", num_workers, 0, none_means="default_num_workers()")
        head_hidden = check_count("head_hidden", head_hidden)
        eval_batch_size = check_count("eval_batch_size", eval_batch_size)
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        root = resolve_visda_root(config.data_root)  # data errors first: they are the likeliest
        train = visda_split(root, "train", image_size, augment=augment)
        if fraction < 1:
            size = max(config.batch_size, round(fraction * len(train)))
            train = train.subset(stratified_subset(train.labels, size, _SUBSET_SEED))
        target = visda_split(root, "validation", image_size, size=eval_size, seed=_SUBSET_SEED)

        device = config.torch_device()
        workers = default_num_workers() if num_workers is None else num_workers
        net = build_backbone(backbone, config.weights)
        optimizee = ClassificationOptimizee(
            net, len(VISDA_CLASSES), head_hidden=head_hidden, **config.optimizee_kwargs(device)
        )
        source = LoaderSource(train, config.batch_size, net.mean, net.std, device, augment=augment,
                              num_workers=workers)
        imagenet = None
        if imagenet_val_root is not None:
            imagenet = imagenet_val_dataset(imagenet_val_root, net.imagenet_head.out_features, image_size, eval_size)
        evaluation = VisDAEvaluation(
            target, net.mean, net.std, device, batch_size=eval_batch_size, num_workers=workers,
            flip_tta=flip_tta, imagenet=imagenet,
        )
        if config.total_steps is None:
            one_pass = max(1, len(train) // (config.batch_size * config.sgd_steps_per_action))
            config = dataclasses.replace(config, total_steps=one_pass)
        super().__init__(optimizee=optimizee, source=source, evaluation=functools.partial(evaluation, optimizee),
                         config=config, target_metric=TARGET_METRIC)
        self._loaders: tuple[LoaderSource, VisDAEvaluation] = (source, evaluation)

    def close(self) -> None:
        """End the episode and stop the DataLoader worker processes."""
        super().close()
        for loaders in self._loaders:
            loaders.close()
