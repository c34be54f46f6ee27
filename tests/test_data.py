"""Embedded data: seeded synthetic digits and the real MNIST-5k / UCI targets, and ASG-Digits-v0's data options."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from asg_gym.data.real_digits import real_digits
from asg_gym.data.synthetic_digits import font_paths, synthetic_digits
from asg_gym.data.tensor_source import TensorSource


def test_synthetic_digits_are_seeded_balanced_and_varied():
    images, labels = synthetic_digits(40, 32, seed=5)
    assert images.shape == (40, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [4] * 10
    synthetic_digits.cache_clear()
    again, _ = synthetic_digits(40, 32, seed=5)
    assert torch.equal(images, again)
    other, _ = synthetic_digits(40, 32, seed=6)
    assert not torch.equal(images, other)
    assert images.float().std(dim=(1, 2, 3)).min() > 5  # every image has content
    assert len(font_paths()) >= 10


def test_real_digits_shapes_and_labels():
    mnist, y = real_digits("mnist", 32)
    assert mnist.shape == (5000, 3, 32, 32) and torch.bincount(y).min() > 300
    uci, y = real_digits("uci", 32)
    assert uci.shape == (1797, 3, 32, 32) and set(y.tolist()) == set(range(10))
    # White strokes on black, like MNIST: border pixels are dark on average.
    assert mnist[:, :, 0, :].float().mean() < 20


def test_tensor_source_orders_are_seeded_and_cover_the_set():
    images, labels = synthetic_digits(40, 32, seed=0)
    source = TensorSource(images, labels, 8, (0.5,) * 3, (0.5,) * 3, torch.device("cpu"))
    source.reset(3)
    keys = torch.cat([source.next_batch()[2] for _ in range(5)])
    assert sorted(keys.tolist()) == list(range(40))  # one epoch visits every sample once
    source.reset(3)
    assert torch.equal(source.next_batch()[2], keys[:8])
    x, y, _ = source.next_batch()
    assert x.dtype == torch.float32 and -1.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert torch.equal(y, labels[keys[8:16]])


def test_uci_target_and_augmentation_run(digits_kwargs):
    env = gym.make("ASG-Digits-v0", **{**digits_kwargs, "target": "uci", "augment": True})
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.full(7, 5))
    assert np.isfinite(info["loss"])
    assert env.unwrapped.source.cacheable is False
