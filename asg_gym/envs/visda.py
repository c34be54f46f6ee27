"""``ASG-VisDA-v0``: ResNet-101 on VisDA-17, synthetic renderings → real images (the paper's setting).

Needs the user's VisDA-17 folder and torchvision's ImageNet ResNet weights in its local cache;
meant for a GPU. See ``docs/visda.md``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from asg_gym.backbones import build_backbone
from asg_gym.data.image_files import stratified_subset
from asg_gym.data.loaders import LoaderSource, default_num_workers
from asg_gym.data.visda import VISDA_CLASSES, VisDAEvaluation, imagenet_val_dataset, resolve_visda_root, visda_split
from asg_gym.envs.transfer import ASGTransferEnv, resolve_device
from asg_gym.optimizee import Optimizee

# Sec. 4 of the paper: ResNet-101, λ = 0.1, lr 1e-4, momentum 0.9, weight decay 5e-4, batch 32.
DEFAULTS = {
    "backbone": "resnet101",
    "weights": "IMAGENET1K_V1",
    "lam": 0.1,
    "base_lr": 1e-4,
    "batch_size": 32,
    "image_size": 224,
}
# Fixed subset seeds, independent of the episode seed, so episodes see the same images.
_SUBSET_SEED = 0


class VisDAEnv(ASGTransferEnv):
    __doc__ = ASGTransferEnv.__doc__ + """
    ## Arguments (``ASG-VisDA-v0``)

    ```python
    import gymnasium as gym, asg_gym
    env = gym.make("ASG-VisDA-v0", data_root="/data/visda17", total_steps=1000, eval_every=250)
    ```

    * ``backbone``: ``"resnet101"`` (paper), ``"resnet50"`` or ``"resnet18"``.
    * ``weights``: a torchvision weight name (``"IMAGENET1K_V1"``), read from torchvision's cache
      ``$TORCH_HOME/hub/checkpoints`` and never downloaded; a path to a state dict; or ``None``.
    * ``lam``, ``base_lr``, ``momentum``, ``weight_decay``: loss and SGD settings (paper: 0.1,
      1e-4, 0.9, 5e-4).
    * ``batch_size``, ``image_size``: source minibatch (32) and square crop side (224).
    * ``total_steps``: actions per episode; ``None`` = one pass over the (subsampled) source.
    * ``sgd_steps_per_action``, ``eval_every`` (0 = only at the end), ``crash_penalty``.
    * ``eval_size``: evaluate on a fixed class-stratified subset of this many validation
      images (and ImageNet images); ``None`` = the whole split (55,388 images).
    * ``data_root``: the VisDA-17 folder (``train/``, ``validation/``); default ``$ASG_VISDA_ROOT``.
    * ``fraction``: train on a fixed class-stratified fraction of the source images.
    * ``augment``: random resized crop + flip of source images (disables the teacher cache).
    * ``cache_teacher``: cache the teacher's outputs per source image (4 KB each on the device).
    * ``num_workers``: image-decoding processes (default: up to 8); 0 decodes in-process.
    * ``flip_tta``: average the new head's predictions over each image and its mirror image.
    * ``imagenet_val_root``: an ImageNet validation folder (``<root>/<wnid>/*.JPEG``, 1000 folders)
      to also report ``old_task_accuracy``, the ImageNet top-1 of the student.
    * ``bf16``, ``channels_last``: bfloat16 autocast and channels-last convolutions (CUDA).
    * ``device``: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.

    ``info`` also carries ``target_accuracy_<class>`` for each of the 12 classes.
    """

    def __init__(
        self,
        *,
        backbone: str = DEFAULTS["backbone"],
        weights: str | Path | None = DEFAULTS["weights"],
        lam: float = DEFAULTS["lam"],
        base_lr: float = DEFAULTS["base_lr"],
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        batch_size: int = DEFAULTS["batch_size"],
        image_size: int = DEFAULTS["image_size"],
        total_steps: int | None = None,
        sgd_steps_per_action: int = 1,
        eval_every: int = 0,
        eval_size: int | None = None,
        crash_penalty: float = -10.0,
        device: str = "auto",
        data_root: str | Path | None = None,
        fraction: float = 1.0,
        augment: bool = False,
        cache_teacher: bool = True,
        num_workers: int | None = None,
        flip_tta: bool = False,
        imagenet_val_root: str | Path | None = None,
        bf16: bool = False,
        channels_last: bool = False,
        head_hidden: int = 512,
        eval_batch_size: int = 100,
        render_mode: str | None = None,
    ) -> None:
        if image_size < 32:
            raise ValueError(f"image_size must be at least 32 pixels (ResNet downsamples 32×), got {image_size}")
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        root = resolve_visda_root(data_root)  # data errors first: they are the likeliest
        train = visda_split(root, "train", image_size, augment=augment)
        if fraction < 1:
            size = max(batch_size, round(fraction * len(train)))
            train = train.subset(stratified_subset(train.labels, size, _SUBSET_SEED))
        target = visda_split(root, "validation", image_size, size=eval_size, seed=_SUBSET_SEED)

        torch_device = resolve_device(device)
        if bf16 and torch_device.type != "cuda":
            warnings.warn("bf16 autocast is meant for CUDA; running in float32 on CPU", stacklevel=2)
            bf16 = False
        workers = default_num_workers() if num_workers is None else int(num_workers)
        net = build_backbone(backbone, weights)
        optimizee = Optimizee(
            net, len(VISDA_CLASSES), lam=lam, base_lr=base_lr, momentum=momentum, weight_decay=weight_decay,
            head_hidden=head_hidden, device=torch_device, channels_last=channels_last,
            autocast_dtype=torch.bfloat16 if bf16 else None,
        )
        source = LoaderSource(train, batch_size, net.mean, net.std, torch_device, augment=augment, num_workers=workers)
        imagenet = None
        if imagenet_val_root is not None:
            imagenet = imagenet_val_dataset(imagenet_val_root, net.imagenet_head.out_features, image_size, eval_size)
        evaluation = VisDAEvaluation(
            target, net.mean, net.std, torch_device, batch_size=eval_batch_size, num_workers=workers,
            flip_tta=flip_tta, imagenet=imagenet,
        )
        if total_steps is None:
            total_steps = max(1, len(train) // (batch_size * sgd_steps_per_action))
        super().__init__(
            optimizee=optimizee, source=source, evaluation=evaluation, total_steps=total_steps,
            sgd_steps_per_action=sgd_steps_per_action, eval_every=eval_every,
            crash_penalty=crash_penalty, cache_teacher=cache_teacher, render_mode=render_mode,
        )
        self._loaders: tuple[LoaderSource, VisDAEvaluation] = (source, evaluation)

    def close(self) -> None:
        """End the episode and stop the DataLoader worker processes."""
        super().close()
        for loaders in self._loaders:
            loaders.close()
