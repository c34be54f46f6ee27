"""The prepared GPU check of the paper-scale envs: one script, under 8 minutes on one modern GPU.

1. ``experiments.bench.gpu_check`` for ResNet-101 (batch 32, 224 px) and FCN-VGG16 (batch 6, 512 px),
   fp32 and bf16, in the default and the channels-last layout: ms/step of the env's device work
   against a bare PyTorch step, and peak GPU memory.
2. ``ASG-VisDA-v0`` (``weights=None``) on a generated VisDA-17-shaped folder and ``ASG-GTA5-v0``
   (``weights=None``) on generated GTA5/Cityscapes-shaped folders
   (``experiments/bench/make_fixture_folders.py``), fp32 and bf16: a few warm-up steps, then ``--steps``
   timed env steps with the real data pipeline (default ``num_workers``), recording ms/step, its
   ratio to the bare step of step 1, the time spent waiting in ``source.next_batch()`` (loader
   stalls), one evaluation, and peak GPU memory. VisDA's teacher cache is cold throughout (every
   image is new), as in the first epoch.
3. Pinned versus pageable host memory for both sources (``experiments.bench.bench_pipeline``).

Everything lands in ``<out>/results.json`` and ``<out>/README.md`` (device named, with the
estimated wall time of a paper-length run from the measured ms/step), plus ``provenance.json``.

    python -m experiments.gpu_run                  # on the GPU machine: results/gpu_check/
    python -m experiments.gpu_run --dry-run        # the whole pipeline on CPU with tiny sizes (tests)
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import tyro

import asg_gym  # noqa: F401  (registers the ids)
from experiments.bench import gpu_check
from experiments.bench.bench_pipeline import command, pinned_memory
from experiments.bench.make_fixture_folders import make_cityscapes_folder, make_gta5_folder, make_visda_folder
from experiments.common import REPO, git_revision, machine, write_provenance

# Paper-length runs (Sec. 3.2): VisDA-17 30 epochs of 152,397 / 32 steps; GTA5 50 epochs, counted
# as one pass over its 24,966 frames at batch 6, or as the released code's 2,000-iteration epoch.
PAPER_STEPS = {"ASG-VisDA-v0": {"30 epochs x 4,762 steps": 30 * 4762},
               "ASG-GTA5-v0": {"50 epochs x 4,161 steps (one pass)": 50 * 4161,
                               "50 epochs x 2,000 steps (released code's epoch)": 50 * 2000}}


@dataclass
class Args:
    """Measure the paper-scale envs on a CUDA GPU (or rehearse everything on CPU with --dry-run)."""

    out: str | None = None
    """output folder (None: results/gpu_check, or a new temporary folder with --dry-run)"""
    data_root: str | None = None
    """where to generate the data folders (None: a temporary folder, removed afterwards)"""
    steps: int = 100
    """timed env steps per env and precision"""
    warmup_steps: int = 10
    """untimed env steps first (cuDNN autotuning, worker start-up)"""
    gpu_check_iters: int = 30
    """timed steps per gpu_check configuration"""
    num_workers: int | None = None
    """DataLoader workers of the envs (None: the envs' default)"""
    budget_s: float = 450.0
    """skip the parts still to come once this many seconds have passed (the whole run must fit 8 min)"""
    dry_run: bool = False
    """CPU, toy networks, tiny images and 3 steps: checks the pipeline, measures nothing"""


@dataclass(frozen=True)
class Scale:
    """Sizes of one run: the paper's on a GPU, tiny ones for a dry run."""

    device: str
    backbone: str
    network: str
    visda_render: tuple[int, int]
    image_size: int
    batch: int
    gta5_frame: tuple[int, int]
    cityscapes_frame: tuple[int, int]
    crop: int
    seg_batch: int
    eval_size: tuple[int, int]
    patch_size: int

    @staticmethod
    def of(dry_run: bool) -> Scale:
        if dry_run:
            return Scale("cpu", "toy", "fcn_toy", (64, 48), 32, 4, (96, 64), (96, 48), 32, 2, (32, 64), 1)
        return Scale("cuda", "resnet101", "fcn_vgg16", (384, 216), 224, 32, (1914, 1052), (2048, 1024), 512, 6,
                     (512, 1024), 7)


class StallMeter:
    """Wraps a source's ``next_batch`` and adds up the seconds spent waiting in it."""

    def __init__(self, next_batch: Callable[[], Any]) -> None:
        self._next_batch = next_batch
        self.seconds, self.calls = 0.0, 0

    def __call__(self) -> Any:
        start = time.perf_counter()
        batch = self._next_batch()
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return batch

    def reset(self) -> None:
        self.seconds, self.calls = 0.0, 0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_env(env_id: str, kwargs: dict[str, Any], steps: int, warmup: int) -> dict[str, Any]:
    """Warm-up steps, then ``steps`` timed ones with loader stalls, one evaluation, peak memory."""
    device = torch.device(kwargs["device"])
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    env = gym.make(env_id, total_steps=10**6, eval_every=0, **kwargs)
    core = env.unwrapped
    meter = StallMeter(core.source.next_batch)
    core.source.next_batch = meter  # the env calls source.next_batch(): time the waits
    build_s = time.perf_counter() - started
    start = time.perf_counter()
    env.reset(seed=0)
    reset_s = time.perf_counter() - start
    action = np.array([1] * (len(core.coordinate_names) - 1) + [10])  # hand-tuned: backbone 0.1, head 1
    for _ in range(warmup):
        env.step(action)
    meter.reset()
    _sync(device)
    start = time.perf_counter()
    info: dict[str, Any] = {}
    for _ in range(steps):
        _, _, terminated, _, info = env.step(action)
        if terminated:
            break
    _sync(device)
    elapsed = time.perf_counter() - start
    timed = meter.calls
    start = time.perf_counter()
    scores = core.evaluation()
    eval_s = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    env.close()
    return {"env": env_id, "precision": "bf16" if kwargs.get("bf16") else "fp32", "steps": timed,
            "ms_per_step": round(1000 * elapsed / max(timed, 1), 2),
            "loader_stall_ms_per_step": round(1000 * meter.seconds / max(timed, 1), 2),
            "loader_stall_fraction": round(meter.seconds / elapsed, 3) if elapsed else None,
            "diverged": bool(info.get("diverged", False)), "final_loss": info.get("loss"),
            "build_s": round(build_s, 2), "reset_s": round(reset_s, 2), "evaluation_s": round(eval_s, 2),
            "target_metric": core.target_metric, "target_score": scores.get(core.target_metric),
            "peak_gib": None if peak is None else round(peak, 2)}


def make_data(root: Path, scale: Scale, args: Args) -> dict[str, Path]:
    """VisDA: a distinct image for every step (a cold teacher cache); GTA5: enough frames to cycle."""
    batches = args.steps + args.warmup_steps + 2
    processes = 1 if args.dry_run else os.cpu_count() or 1
    make_visda_folder(root / "visda17", batches * scale.batch, 10 * scale.batch, size=scale.visda_render,
                      processes=processes)
    make_gta5_folder(root / "gta5", 16 * scale.seg_batch, size=scale.gta5_frame, processes=processes)
    make_cityscapes_folder(root / "cityscapes", 4, size=scale.cityscapes_frame, processes=processes)
    return {"visda": root / "visda17", "gta5": root / "gta5", "cityscapes": root / "cityscapes"}


def env_kwargs(scale: Scale, roots: dict[str, Path], args: Args) -> dict[str, dict[str, Any]]:
    workers = {} if args.num_workers is None else {"num_workers": args.num_workers}
    if args.dry_run:
        workers = {"num_workers": 0}
    common = {"weights": None, "device": scale.device, **workers}
    return {
        "ASG-VisDA-v0": {**common, "data_root": str(roots["visda"]), "backbone": scale.backbone,
                         "image_size": scale.image_size, "batch_size": scale.batch},
        "ASG-GTA5-v0": {**common, "data_root": str(roots["gta5"]), "cityscapes_root": str(roots["cityscapes"]),
                        "network": scale.network, "crop_size": (scale.crop, scale.crop),
                        "batch_size": scale.seg_batch, "eval_size": scale.eval_size, "patch_size": scale.patch_size},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = tyro.cli(Args, args=argv)
    scale = Scale.of(args.dry_run)
    if scale.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_run needs a CUDA GPU (torch sees none); --dry-run rehearses it on CPU")
    started = time.perf_counter()
    results: dict[str, Any] = {"command": command("gpu_run", argv),
                               "device": gpu_check.device_description(torch.device(scale.device)),
                               "dry_run": args.dry_run, "machine": machine(), "git_revision": git_revision(),
                               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "args": asdict(args),
                               "gpu_check": [], "envs": [], "skipped": []}

    def within_budget(part: str) -> bool:
        if time.perf_counter() - started <= args.budget_s:
            return True
        results["skipped"].append(part)
        return False

    # The data first: its writer processes fork before CUDA is initialised.
    temporary = tempfile.TemporaryDirectory(prefix="asg_gpu_run_") if args.data_root is None else None
    root = Path(temporary.name if temporary else str(args.data_root))
    start = time.perf_counter()
    roots = make_data(root, scale, args)
    results["data_seconds"] = round(time.perf_counter() - start, 1)
    small = ["--batch-size", "2", "--image-size", "32", "--iters", "1", "--warmup", "1"] if args.dry_run else \
        ["--iters", str(args.gpu_check_iters)]
    for model in (["--backbone", scale.backbone], ["--network", scale.network]):
        for layout in ([], ["--channels-last"]):
            if within_budget(" ".join(model + layout)):
                rows = gpu_check.main([*model, *layout, *small, "--device", scale.device])
                results["gpu_check"].extend(rows)
    steps, warmup = (3, 1) if args.dry_run else (args.steps, args.warmup_steps)
    for env_id, kwargs in env_kwargs(scale, roots, args).items():
        for bf16 in (False,) if args.dry_run else (False, True):  # bf16 autocast is for CUDA
            if within_budget(f"{env_id} bf16={bf16}"):
                row = time_env(env_id, {**kwargs, "bf16": bf16}, steps, warmup)
                model = scale.network if env_id == "ASG-GTA5-v0" else scale.backbone
                row["ratio_to_bare"] = ratio_to_bare(results["gpu_check"], model, row["precision"], row["ms_per_step"])
                results["envs"].append(row)
    if within_budget("pinned memory"):
        results["pinned_memory"] = pinned(roots, scale)
    if temporary is not None:
        temporary.cleanup()
    results["seconds"] = round(time.perf_counter() - started, 1)
    if args.out is not None:
        out = Path(args.out)
    else:  # a dry run must not overwrite a GPU measurement
        out = Path(tempfile.mkdtemp(prefix="asg_gpu_run_dry_")) if args.dry_run else REPO / "results" / "gpu_check"
    out.mkdir(parents=True, exist_ok=True)
    results["out"] = str(out)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "README.md").write_text(report(results))
    write_provenance(out, seconds=results["seconds"], device=results["device"])
    print(report(results))
    return results


def ratio_to_bare(rows: list[dict[str, Any]], model: str, precision: str, ms: float) -> float | None:
    """The env step ÷ gpu_check's fastest bare step of the same network and precision (either layout)."""
    bare = [r["ms_per_step"] for r in rows if r["step"] == "bare" and r["model"] == model
            and r["precision"] == precision]
    return round(ms / min(bare), 3) if bare else None


def pinned(roots: dict[str, Path], scale: Scale) -> dict[str, Any]:
    from asg_gym import (
        IMAGENET_MEAN,
        IMAGENET_STD,
        LoaderSource,
        SegmentationLoaderSource,
        default_num_workers,
        gta5_dataset,
        visda_split,
    )

    train = visda_split(roots["visda"], "train", scale.image_size)
    frames = gta5_dataset(roots["gta5"], crop_size=(scale.crop, scale.crop))
    cuda = torch.device("cuda")
    workers = default_num_workers()
    return {
        "visda": pinned_memory(lambda n, pin: LoaderSource(train, scale.batch, IMAGENET_MEAN, IMAGENET_STD, cuda,
                                                           num_workers=n, pin_memory=pin), workers, 10),
        "gta5": pinned_memory(lambda n, pin: SegmentationLoaderSource(frames, scale.seg_batch, IMAGENET_MEAN,
                                                                      IMAGENET_STD, cuda, num_workers=n,
                                                                      pin_memory=pin), workers, 5),
    }


def report(results: dict[str, Any]) -> str:
    lines = [f"# GPU check (`python -m experiments.gpu_run{' --dry-run' if results['dry_run'] else ''}`)", "",
             f"* device: {results['device']}", f"* host: {results['machine']}",
             f"* command: `{results['command']}`",
             f"* git revision {results['git_revision']}, {results['date']}, {results['seconds']} s in all"]
    if results["dry_run"]:
        lines.append("* DRY RUN: CPU, toy networks, tiny images: the numbers below measure nothing")
    if results["skipped"]:
        lines.append(f"* skipped (over the time budget): {results['skipped']}")
    lines += ["", "## Env device work vs a bare step (`experiments.bench.gpu_check`)", "",
              "| model | batch | px | channels-last | precision | step | ms/step | × bare | peak GiB |",
              "|---|---:|---:|---|---|---|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['batch_size']} | {r['image_size']} | {r['channels_last']} | {r['precision']} | "
              f"{r['step']} | {r['ms_per_step']} | {r['ratio_to_bare']} | {r['peak_gib']} |"
              for r in results["gpu_check"]]
    lines += ["", "## Env steps with the real data pipeline (generated folders, `weights=None`)", "",
              "| env | precision | steps | ms/step | × bare | loader stall ms/step | stall share | evaluation s | "
              "peak GiB |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['env']} | {r['precision']} | {r['steps']} | {r['ms_per_step']} | {r['ratio_to_bare']} | "
              f"{r['loader_stall_ms_per_step']} | {r['loader_stall_fraction']} | {r['evaluation_s']} | "
              f"{r['peak_gib']} |" for r in results["envs"]]
    lines += ["", "## Expected wall time of a paper-length run, from the measured ms/step", "",
              "Training steps only (evaluations, one per epoch, come on top); VisDA's teacher cache is cold in "
              "these measurements, as in epoch 1, so later epochs are faster and the figure is an upper bound.",
              ""]
    for row in results["envs"]:
        for label, steps in PAPER_STEPS[row["env"]].items():
            hours = steps * row["ms_per_step"] / 3.6e6
            lines.append(f"* {row['env']} {row['precision']}: {label} = {steps:,} steps → {hours:.1f} h")
    if "pinned_memory" in results:
        lines += ["", "## Pinned host memory", "", f"{results['pinned_memory']}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
