"""Time an ASG env's GPU work per step against a bare PyTorch step, on a CUDA GPU.

No dataset or weights needed: synthetic tensors and randomly initialised networks (the cost of
a step does not depend on the weights). For fp32 and bf16 autocast it times

* ``bare``: student forward + loss + backward + SGD update, nothing else (the denominator of the
  ratios in docs/design.md, "Performance contract");
* ``env``: what one env step does on the device: the optimizee's ``sgd_step`` + ``forward_backward``
  with the frozen teacher's forward on every batch (random augmentation, no cache);
* ``env+cache`` (classification): the same with the teacher's outputs cached (the default without
  augmentation).

Classification is ``ASG-VisDA-v0``'s ResNet (λ = 0.1, batch 32, 224 px); ``--network fcn_vgg16`` is
``ASG-GTA5-v0``'s FCN (λ = 75, λ·L_KL capped at 9, Eq. 5 patches, batch 6, 512×512 crops).

    python -m experiments.bench.gpu_check                      # ResNet-101, batch 32, 224 px
    python -m experiments.bench.gpu_check --network fcn_vgg16  # FCN-VGG16, batch 6, 512 px
    python -m experiments.bench.gpu_check --channels-last --iters 50 --out results/gpu_check/resnet101_cl.json
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import tyro
from torch import nn

from asg_gym import (
    IGNORE_INDEX,
    ClassificationOptimizee,
    CoordinateSGD,
    SegmentationOptimizee,
    build_backbone,
    build_new_head,
    build_segmentation_network,
)

NUM_CLASSES = 12  # VisDA-17
NUM_SEG_CLASSES = 19  # Cityscapes
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}


@dataclass
class Args:
    """Milliseconds per step of the ASG env's optimizee vs a bare PyTorch training step."""

    backbone: str = "resnet101"
    """classification backbone: resnet101 (paper), resnet50, resnet18 (toy: tests)"""
    network: str | None = None
    """a segmentation FCN instead (fcn_vgg16: the paper's; fcn_resnet50; fcn_toy: tests)"""
    batch_size: int | None = None
    """images per step (None: 32 for classification, 6 for segmentation, as the paper)"""
    image_size: int | None = None
    """square image side in pixels (None: 224 for classification, 512 for segmentation)"""
    iters: int = 30
    """timed steps per configuration"""
    warmup: int = 10
    """untimed steps first (cuDNN autotuning, allocator)"""
    channels_last: bool = False
    """channels-last memory format for the CNNs and inputs"""
    precisions: tuple[str, ...] = ("fp32", "bf16")
    """fp32 and/or bf16 (autocast)"""
    device: str = "cuda"
    """cuda; cpu only for a smoke test of this script"""
    out: str | None = None
    """append the rows to this JSON file (None: print only)"""


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step: Callable[[], object], iters: int, warmup: int, device: torch.device) -> float:
    """Mean milliseconds of ``step`` after ``warmup`` calls, with the GPU drained around the timing."""
    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    synchronize(device)
    return 1000 * (time.perf_counter() - start) / iters


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def _sgd(groups: list[list[nn.Parameter]]) -> torch.optim.Optimizer:
    return torch.optim.SGD([{"params": g} for g in groups], lr=1e-4, momentum=0.9, weight_decay=5e-4)


def bare_classification(args: Args, dtype: torch.dtype | None, images: torch.Tensor, labels: torch.Tensor,
                        device: torch.device) -> Callable[[], None]:
    """The plain training step of the same student (BatchNorm frozen, as in the optimizee)."""
    net = build_backbone(args.backbone, None)
    features = net.features.to(device).eval()
    head = build_new_head(net.feature_dim, NUM_CLASSES, 512).to(device)
    if args.channels_last:
        features.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    groups = [[p for m in modules for p in m.parameters()] for _, modules in net.coordinates]
    optimizer = _sgd([*groups, list(head.parameters())])

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, dtype):
            logits = head(features(images).mean(dim=(2, 3)))
        F.cross_entropy(logits.float(), labels).backward()
        optimizer.step()

    return step


def bare_segmentation(args: Args, dtype: torch.dtype | None, images: torch.Tensor, labels: torch.Tensor,
                      device: torch.device) -> Callable[[], None]:
    """The plain training step of the same FCN: per-pixel cross-entropy, no teacher, no guidance."""
    assert args.network is not None
    net = build_segmentation_network(args.network, None, NUM_SEG_CLASSES)
    encoder, decoder = net.encoder.to(device).eval(), net.decoder.to(device).eval()
    if args.channels_last:
        encoder.to(memory_format=torch.channels_last)
        decoder.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = _sgd([params for _, params in net.coordinate_parameters()])

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, dtype):
            logits = decoder(encoder(images), images.shape[-2:])
        F.cross_entropy(logits.float(), labels, ignore_index=IGNORE_INDEX).backward()
        optimizer.step()

    return step


def env_step(args: Args, dtype: torch.dtype | None, images: torch.Tensor, labels: torch.Tensor,
             device: torch.device, cache: bool) -> Callable[[], None]:
    """What ``ASGTransferEnv.step`` runs on the device for one SGD step."""
    common: dict[str, Any] = {"device": device, "channels_last": args.channels_last, "autocast_dtype": dtype}
    optimizee: CoordinateSGD
    if args.network is None:
        optimizee = ClassificationOptimizee(build_backbone(args.backbone, None), NUM_CLASSES, lam=0.1, **common)
    else:  # ASG-GTA5-v0's defaults
        network = build_segmentation_network(args.network, None, NUM_SEG_CLASSES)
        optimizee = SegmentationOptimizee(network, lam=75.0, base_lr=1e-3, kl_cap=9.0, **common)
    optimizee.reset(0)
    optimizee.set_scales([1.0] * optimizee.num_coordinates)
    keys = None
    if cache:
        optimizee.enable_teacher_cache(len(images))
        keys = torch.arange(len(images))
    optimizee.forward_backward(images, labels, keys)

    def step() -> None:
        optimizee.sgd_step()
        optimizee.forward_backward(images, labels, keys)  # reads the losses back: one sync per step

    return step


def run(args: Args) -> list[dict[str, Any]]:
    """One row per (precision, contender): ms/step, ratio to the bare step, peak device memory."""
    device = torch.device(args.device)
    segmentation = args.network is not None
    batch = args.batch_size or (6 if segmentation else 32)
    side = args.image_size or (512 if segmentation else 224)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, side, side, generator=generator).to(device)
    if segmentation:
        labels = torch.randint(0, NUM_SEG_CLASSES, (batch, side, side), generator=generator).to(device)
        bare: Callable[..., Callable[[], None]] = bare_segmentation
        contenders = {"env": False}
    else:
        labels = torch.randint(0, NUM_CLASSES, (batch,), generator=generator).to(device)
        bare = bare_classification
        contenders = {"env": False, "env+cache": True}
    model = args.network or args.backbone
    rows = []
    for precision in args.precisions:
        dtype = PRECISIONS[precision]
        builds = {"bare": partial(bare, args, dtype, images, labels, device),
                  **{name: partial(env_step, args, dtype, images, labels, device, cache)
                     for name, cache in contenders.items()}}
        bare_ms = None
        for name, build in builds.items():
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            ms = time_steps(build(), args.iters, args.warmup, device)
            bare_ms = bare_ms or ms
            peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
            rows.append({"model": model, "batch_size": batch, "image_size": side, "channels_last": args.channels_last,
                         "precision": precision, "step": name, "ms_per_step": round(ms, 2),
                         "ratio_to_bare": round(ms / bare_ms, 3), "peak_gib": None if peak is None else round(peak, 2)})
    return rows


def device_description(device: torch.device) -> str:
    if device.type != "cuda":
        return f"cpu (torch {torch.__version__})"
    return (f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
            f"cuDNN {torch.backends.cudnn.version()}, TF32 conv={torch.backends.cudnn.allow_tf32} "
            f"matmul={torch.backends.cuda.matmul.allow_tf32}")


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = tyro.cli(Args, args=argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(
            f"gpu_check needs a CUDA GPU, and torch {torch.__version__} sees none "
            f"(CUDA build: {torch.version.cuda or 'no, a CPU-only wheel'}). Run it on a machine with an NVIDIA GPU."
        )
    unknown = sorted(set(args.precisions) - set(PRECISIONS))
    if unknown:
        raise SystemExit(f"--precisions takes {sorted(PRECISIONS)}, got {unknown}")
    torch.backends.cudnn.benchmark = True  # fixed input shape: let cuDNN pick the fastest kernels
    described = device_description(device)
    print(f"{described}; {args.network or args.backbone}, channels_last={args.channels_last}, "
          f"{args.iters} timed steps")
    rows = run(args)
    print(f"{'precision':<10}{'step':<12}{'ms/step':>10}{'× bare':>9}{'peak GiB':>10}")
    for row in rows:
        peak = "n/a" if row["peak_gib"] is None else f"{row['peak_gib']:.2f}"
        print(f"{row['precision']:<10}{row['step']:<12}{row['ms_per_step']:>10.1f}{row['ratio_to_bare']:>9.2f}"
              f"{peak:>10}")
    if args.out is not None:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        previous = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps([*previous, {"device": described, "args": asdict(args), "rows": rows}], indent=2)
                        + "\n")
    return rows


if __name__ == "__main__":
    main()
