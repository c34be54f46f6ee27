"""Time an ASG-VisDA-v0-equivalent step against a bare PyTorch step, on a CUDA GPU.

No dataset or weights needed: synthetic images and a randomly initialised network (the cost of
a step does not depend on the weights). For fp32 and bf16 autocast it times

* ``bare``: student forward + backward + SGD update, nothing else (the denominator of the ratios in
  docs/design.md, "Performance contract");
* ``env``: what one env step does on the GPU: ``ClassificationOptimizee.sgd_step`` + ``forward_backward``
  with the frozen teacher's forward on every batch (random augmentation, no cache);
* ``env+cache``: the same with the teacher's outputs cached (the default without augmentation).

    python -m experiments.gpu_check                      # ResNet-101, batch 32, 224 px
    python -m experiments.gpu_check --channels-last --iters 50
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
import tyro

from asg_gym.backbones import build_backbone
from asg_gym.optimizee import ClassificationOptimizee, build_new_head

NUM_CLASSES = 12  # VisDA-17


@dataclass
class Args:
    """Milliseconds per step of the ASG env's optimizee vs a bare PyTorch training step."""

    backbone: str = "resnet101"
    """resnet101 (paper), resnet50 or resnet18"""
    batch_size: int = 32
    """images per step (paper: 32)"""
    image_size: int = 224
    """square image side in pixels"""
    iters: int = 30
    """timed steps per configuration"""
    warmup: int = 10
    """untimed steps first (cuDNN autotuning, allocator)"""
    channels_last: bool = False
    """channels-last memory format for the CNNs and inputs"""


def time_steps(step: Callable[[], object], iters: int, warmup: int) -> float:
    """Mean milliseconds of ``step`` after ``warmup`` calls, with the GPU drained around the timing."""
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - start) / iters


def bare_step(args: Args, dtype: torch.dtype | None, images: torch.Tensor, labels: torch.Tensor) -> Callable[[], None]:
    """The plain training step of the same student (BatchNorm frozen, as in the optimizee)."""
    net = build_backbone(args.backbone, None)
    features = net.features.cuda().eval()
    head = build_new_head(net.feature_dim, NUM_CLASSES, 512).cuda()
    if args.channels_last:
        features.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    groups = [{"params": [p for m in modules for p in m.parameters()]} for _, modules in net.coordinates]
    optimizer = torch.optim.SGD([*groups, {"params": head.parameters()}], lr=1e-4, momentum=0.9, weight_decay=5e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype is not None):
            logits = head(features(images).mean(dim=(2, 3)))
        F.cross_entropy(logits.float(), labels).backward()
        optimizer.step()

    return step


def env_step(args: Args, dtype: torch.dtype | None, images: torch.Tensor, labels: torch.Tensor,
             cache: bool) -> Callable[[], None]:
    """What ``ASGTransferEnv.step`` runs on the device for one SGD step (λ = 0.1)."""
    optimizee = ClassificationOptimizee(build_backbone(args.backbone, None), NUM_CLASSES, lam=0.1, device="cuda",
                                        channels_last=args.channels_last, autocast_dtype=dtype)
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


def main(argv: list[str] | None = None) -> None:
    args = tyro.cli(Args, args=argv)
    if not torch.cuda.is_available():
        raise SystemExit(
            f"gpu_check needs a CUDA GPU, and torch {torch.__version__} sees none "
            f"(CUDA build: {torch.version.cuda or 'no, a CPU-only wheel'}). Run it on a machine with an NVIDIA GPU."
        )
    torch.backends.cudnn.benchmark = True  # fixed input shape: let cuDNN pick the fastest kernels
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(args.batch_size, 3, args.image_size, args.image_size, generator=generator).cuda()
    labels = torch.randint(0, NUM_CLASSES, (args.batch_size,), generator=generator).cuda()

    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {args.backbone}, batch {args.batch_size}, "
          f"{args.image_size} px, channels_last={args.channels_last}, {args.iters} timed steps")
    print(f"{'precision':<10}{'step':<12}{'ms/step':>10}{'× bare':>9}{'peak GiB':>10}")
    for precision, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        bare_ms = None
        for name, build in (("bare", partial(bare_step, args, dtype, images, labels)),
                            ("env", partial(env_step, args, dtype, images, labels, cache=False)),
                            ("env+cache", partial(env_step, args, dtype, images, labels, cache=True))):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            ms = time_steps(build(), args.iters, args.warmup)
            bare_ms = bare_ms or ms
            peak = torch.cuda.max_memory_allocated() / 2**30
            print(f"{precision:<10}{name:<12}{ms:>10.1f}{ms / bare_ms:>9.2f}{peak:>10.2f}")


if __name__ == "__main__":
    main()
