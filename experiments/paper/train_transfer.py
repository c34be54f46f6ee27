"""Plain synthetic-to-real fine-tuning, without RL: fixed learning-rate scales per coordinate.

The paper's heuristic baselines (Fig. 1, Fig. 5, Table 2) are constant policies: every
coordinate at η_base ("all_large"), a small backbone LR with a large head LR ("hand_tuned"),
or a frozen backbone ("head_only"), each with or without proxy guidance (λ). This script drives
the same env the RL agents use with one constant action, so there is a single training loop:

    python -m experiments.paper.train_transfer --env ASG-Digits-v0 --policy hand_tuned --lam 0.1 \\
        --epochs 5 --steps-per-epoch 100
    python -m experiments.paper.train_transfer --env ASG-VisDA-v0 --policy hand_tuned --lam 0.1 \\
        --epochs 30 --steps-per-epoch 4762 --env-kwargs '{"data_root": "/data/visda17", "bf16": true}'
    python -m experiments.paper.train_transfer --env ASG-GTA5-v0 --policy hand_tuned --lam 75 \\
        --epochs 20 --steps-per-epoch 1000 \\
        --env-kwargs '{"data_root": "/data/gta5", "cityscapes_root": "/data/cityscapes"}'

Each epoch (``--steps-per-epoch`` actions) ends with an evaluation on the real target images
(accuracy for classification, mIoU and per-class IoU for segmentation).

``--reference-schedule`` (or ``--warmup-iters`` / ``--poly-power``) adds the released code's
learning-rate schedule (:mod:`asg_gym.schedules`): before every action the optimizee's
``lr_multiplier`` is set to ``multiplier(i)``, i being the SGD iteration that action starts with, so every
coordinate's rate is ``scale_c · η_base · multiplier(i)``. The constant scales, the action grid
and the env are untouched (with ``sgd_steps_per_action`` > 1 the multiplier is held for the
action's window). Off by default, so earlier results stay reproducible. With a schedule the
metrics also record ``lr_multiplier`` and ``lr_head`` (the head's learning rate) per epoch.

Writes ``<out>/metrics.csv`` (one row per epoch), ``<out>/tb`` (TensorBoard), ``<out>/checkpoint.pt``
(atomic, every epoch: weights, SGD momentum, gradients, data order, counters) and
``<out>/provenance.json``. ``--resume`` continues from the checkpoint exactly where it stopped
(bitwise on CPU without augmentation); ``--epochs`` may be raised to train longer (not with a
poly decay, whose length is the run's).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import tyro

import asg_gym  # noqa: F401  (registers the ids)
from agents import ConstantPolicy
from asg_benchmark import ResumableCSV, tensorboard_writer
from asg_gym import REFERENCE_POLY_POWER, REFERENCE_WARMUP_ITERS, LRSchedule, load_checkpoint, save_checkpoint
from experiments.common import REPO, parse_env_kwargs, write_provenance

CHECKPOINT_KIND = "train_transfer"
LOSSES = ("loss", "loss_xe", "loss_kl")
METRICS = ("target_miou", "target_mean_class_accuracy", "target_accuracy", "old_task_agreement")
# TensorBoard names of the main metrics; any other metric is logged as eval/<its info key>.
TB_NAMES = {"target_miou": "eval/target_miou", "target_mean_class_accuracy": "eval/target_mean_class_acc",
            "target_accuracy": "eval/target_acc", "old_task_agreement": "eval/old_task_agreement"}


@dataclass
class Args:
    """Fine-tune an ASG env's optimizee with constant per-coordinate learning-rate scales."""

    env: str = "ASG-Digits-v0"
    """environment id (ASG-Digits-v0, ASG-VisDA-v0, ASG-DigitSeg-v0, ASG-GTA5-v0)"""
    policy: str = "hand_tuned"
    """constant preset: all_large, hand_tuned or head_only (ignored with --scales)"""
    scales: list[float] | None = None
    """explicit scales in {0, 0.1, …, 1}, one per coordinate (7 for ResNet), head last"""
    lam: float | None = None
    """λ, weight of the proxy-guidance loss L_KL (0: none; None: the env's default)"""
    base_lr: float | None = None
    """η_base (None: the env's default)"""
    epochs: int = 3
    """number of epochs; the target is evaluated after each"""
    steps_per_epoch: int = 100
    """actions per epoch (VisDA-17, batch 32: 4762 is one pass)"""
    seed: int = 0
    """episode seed (new head, data order)"""
    env_kwargs: str = "{}"
    """extra gym.make keywords, a JSON object, e.g. '{"data_root": "/data/visda17", "weights": null}'"""
    out: str | None = None
    """output folder (None: results/train_transfer/<env>_<policy>_lam<λ>_seed<seed>)"""
    resume: bool = False
    """continue from <out>/checkpoint.pt"""
    tensorboard: bool = True
    """write TensorBoard logs to <out>/tb"""
    log_every: int = 10
    """log training losses and learning rates every this many actions"""
    progress: bool = True
    """show a tqdm progress bar"""
    warmup_iters: int = 0
    """quadratic learning-rate warm-up over this many SGD iterations, as the released code (0: none)"""
    poly_power: float | None = None
    """poly decay (1 - min(i/T, 0.8))^power of the learning rate, as the released code (None: none)"""
    reference_schedule: bool = False
    """the released code's schedule in one flag: --warmup-iters 100 --poly-power 0.9"""


def run_config(args: Args, env_kwargs: dict[str, Any], scales: list[float], schedule: LRSchedule
               ) -> dict[str, Any]:
    """What must not change between a run and its resumption (``epochs`` may)."""
    # Checkpoints from before λ and η_base became optional record "the env's default" as -1 and 0.
    lam, base_lr = -1.0 if args.lam is None else args.lam, 0.0 if args.base_lr is None else args.base_lr
    config = {"env": args.env, "scales": scales, "lam": lam, "base_lr": base_lr,
              "steps_per_epoch": args.steps_per_epoch, "seed": args.seed,
              "env_kwargs": repr(sorted(env_kwargs.items()))}
    if schedule.active:  # only then: checkpoints written without a schedule still resume
        config.update(warmup_iters=schedule.warmup_iters, poly_power=schedule.poly_power,
                      schedule_iters=schedule.total_iters)
    return config


def lr_schedule(args: Args, total_iters: int) -> LRSchedule:
    """The schedule the flags ask for; ``--reference-schedule`` stands for the released code's values."""
    if args.reference_schedule:
        if args.warmup_iters or args.poly_power is not None:
            raise SystemExit("--reference-schedule sets --warmup-iters 100 --poly-power 0.9; give either it or "
                             "those two flags")
        return LRSchedule(total_iters, REFERENCE_WARMUP_ITERS, REFERENCE_POLY_POWER)
    try:
        return LRSchedule(total_iters, args.warmup_iters, args.poly_power)
    except ValueError as exc:
        raise SystemExit(f"--warmup-iters / --poly-power: {exc}") from exc


def log_step(writer: Any, info: dict[str, Any], coordinates: tuple[str, ...]) -> None:
    step = info["sgd_step"]
    writer.add_scalar("loss/total", info["loss"], step)
    writer.add_scalar("loss/xe", info["loss_xe"], step)
    writer.add_scalar("loss/kl", info["loss_kl"], step)
    for name, lr in zip(coordinates, info["lr"], strict=False):
        writer.add_scalar(f"lr/{name}", lr, step)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train; returns the last epoch's metrics row."""
    from tqdm import tqdm

    args = tyro.cli(Args, args=argv)
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    if args.base_lr is not None:
        env_kwargs["base_lr"] = args.base_lr
    if args.lam is not None:
        env_kwargs["lam"] = args.lam
    steps = args.steps_per_epoch
    if args.epochs < 1 or steps < 1:
        raise SystemExit(f"need --epochs >= 1 and --steps-per-epoch >= 1, got {args.epochs}, {steps}")
    env = gym.make(args.env, total_steps=args.epochs * steps, eval_every=steps, **env_kwargs)
    core = env.unwrapped
    coordinates = tuple(core.coordinate_names)
    scales = [float(s) for s in args.scales] if args.scales else None
    if scales is not None and len(scales) != len(coordinates):
        raise SystemExit(f"--scales needs one value per coordinate {coordinates}; got {len(scales)}")
    policy = ConstantPolicy(scales if scales is not None else args.policy, num_coordinates=len(coordinates))
    window = core.config.sgd_steps_per_action
    schedule = lr_schedule(args, args.epochs * steps * window)
    config = run_config(args, env_kwargs, [a / 10 for a in policy.action.tolist()], schedule)
    run_name = f"{args.env}_{policy.name}_lam{core.optimizee.lam:g}_seed{args.seed}"
    if schedule.active:
        run_name += f"_warmup{schedule.warmup_iters}_poly{schedule.poly_power}"
    out = Path(args.out or REPO / "results" / "train_transfer" / run_name)

    checkpoint = out / "checkpoint.pt"
    obs, _ = env.reset(seed=args.seed)
    start_epoch = 0
    if checkpoint.exists() and not args.resume:
        raise SystemExit(f"{checkpoint} exists: pass --resume to continue it, or choose another --out")
    if args.resume and checkpoint.exists():
        payload = load_checkpoint(checkpoint, CHECKPOINT_KIND)
        changed = sorted(k for k in config if payload["config"].get(k) != config[k])
        if changed:
            raise SystemExit(f"cannot resume {checkpoint}: settings changed since it was written: {changed}")
        if payload["diverged"]:
            raise SystemExit(f"the run in {out} diverged in epoch {payload['epoch']}; there is nothing to resume")
        core.load_state_dict(payload["env"])  # `obs` stays the reset one: a constant policy ignores it
        start_epoch = int(payload["epoch"])
    write_provenance(out, seed=args.seed, args=vars(args), resumed_from_epoch=start_epoch)

    writer = tensorboard_writer(out / "tb", start_epoch * steps) if args.tensorboard else None
    table: ResumableCSV | None = None
    row: dict[str, Any] = {}
    bar = tqdm(total=args.epochs * steps, initial=start_epoch * steps, disable=not args.progress, unit="step")
    terminated, multiplier = False, 1.0
    for epoch in range(start_epoch, args.epochs):
        if terminated:
            break
        started, sums, count, info = time.perf_counter(), dict.fromkeys(LOSSES, 0.0), 0, {}
        for _ in range(steps):
            action, _ = policy.predict(obs, deterministic=True)
            if schedule.active:  # η_base of the SGD iteration this action starts with (module docstring)
                multiplier = schedule.multiplier((epoch * steps + count) * window)
                core.optimizee.lr_multiplier = multiplier
            obs, _, terminated, truncated, info = env.step(action)
            count += 1
            for key in LOSSES:
                sums[key] += info[key]
            if writer is not None and ((epoch * steps + count) % args.log_every == 0 or terminated):
                log_step(writer, info, coordinates)
            bar.update(1)
            bar.set_postfix(loss=f"{info['loss']:.4f}", epoch=epoch + 1)
            if terminated or truncated:
                break
        metrics = {k: v for k, v in info.items() if k.startswith(("target_", "old_task_")) and isinstance(v, float)}
        row = {"epoch": epoch + 1, "sgd_step": info["sgd_step"], "diverged": bool(info.get("diverged", False)),
               **{f"train_{k}": v / count for k, v in sums.items()}, **metrics,
               "seconds": round(time.perf_counter() - started, 3)}
        if schedule.active:  # the last action's multiplier and the head's learning rate it gave
            row.update(lr_multiplier=multiplier, lr_head=info["lr"][-1])
        if table is None:
            main_metrics = [k for k in METRICS if k in metrics]
            extra = sorted(k for k in metrics if k not in METRICS)
            fields = ["epoch", "sgd_step", "diverged", *(f"train_{k}" for k in LOSSES), *main_metrics, *extra,
                      *(["lr_multiplier", "lr_head"] if schedule.active else []), "seconds"]
            table = ResumableCSV(out / "metrics.csv", fields, ["epoch"])
        if not table.done(epoch=epoch + 1):  # CSV first: a crash before the checkpoint only repeats the row
            table.append(row)
        if writer is not None:
            for key, value in metrics.items():
                writer.add_scalar(TB_NAMES.get(key, f"eval/{key}"), value, info["sgd_step"])
            writer.flush()
        state = {"epoch": epoch + 1, "config": config, "diverged": bool(terminated), "env": core.state_dict()}
        save_checkpoint(checkpoint, CHECKPOINT_KIND, state)
        bar.write(f"epoch {epoch + 1}/{args.epochs}: " + ", ".join(
            f"{k}={row[k]:.4f}" for k in ("train_loss", *METRICS) if isinstance(row.get(k), float)))
        if terminated:
            bar.write("the loss became non-finite: training stopped (lower --base-lr or the scales)")
    bar.close()
    if writer is not None:
        writer.close()
    env.close()
    return row


if __name__ == "__main__":
    main()
