"""Embedded data: seeded synthetic digits and the real MNIST-5k / UCI targets, and ASG-Digits-v0's data options."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
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


def test_mnist_m_puts_real_digits_on_real_photographs(digits_kwargs):
    """MNIST-M's construction, |crop − digit| per channel, with fixed seeded crops of scikit-image's photographs."""
    from asg_gym.data.real_digits import blend_into_photographs

    mnist, y = real_digits("mnist", 32)
    blended, y_m = real_digits("mnist_m", 32)
    assert blended.shape == mnist.shape and blended.dtype == torch.uint8 and torch.equal(y, y_m)
    assert blended[:, :, 0, :].float().mean() > 40  # photographs behind, not a black background
    assert len({tuple(img[:, 0, 0].tolist()) for img in blended[:50]}) > 10  # varied backgrounds (colour at a corner)
    photo = np.full((40, 40, 3), 200, dtype=np.uint8)
    one = blend_into_photographs(mnist[:1], (photo,), seed=1)
    assert torch.equal(one[0].int(), (200 - mnist[0].int()).abs())  # stroke pixels inverted against the photo
    other = np.arange(50 * 60 * 3, dtype=np.uint8).reshape(50, 60, 3)
    assert torch.equal(blend_into_photographs(mnist[:20], (photo, other), 3),
                       blend_into_photographs(mnist[:20], (photo, other), 3))  # seeded: the same crops
    with pytest.raises(ValueError, match="cannot give 32-px crops"):
        blend_into_photographs(mnist[:1], (photo[:20],), 0)
    env = gym.make("ASG-Digits-v0", **{**digits_kwargs, "target": "mnist_m"})
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.full(7, 5))
    assert np.isfinite(info["loss"])


def test_digits_on_photos_holds_a_validation_split_out_of_its_target(digits_kwargs):
    """Its own id and defaults (96 px, the photo target); test and validation images disjoint and fixed;
    ASG-Digits-v0 keeps its subset and has no validation split."""
    from asg_gym.envs.digits import DigitsEnv
    from asg_gym.envs.digits_on_photos import DigitsOnPhotosEnv, DigitsOnPhotosV0Env

    assert DigitsOnPhotosEnv.defaults["image_size"] == 96 and DigitsOnPhotosEnv.defaults["target"] == "mnist_m"
    assert DigitsOnPhotosEnv.defaults["lam"] == 0.0 and DigitsOnPhotosEnv.defaults["base_lr"] == 3e-2  # validation
    test = DigitsOnPhotosEnv.target_subset(5000, "test", 4000, "mnist_m")
    validation = DigitsOnPhotosEnv.target_subset(5000, "validation", 1000, "mnist_m")
    assert len(set(test.tolist()) | set(validation.tolist())) == 5000  # a partition of the 5,000 images
    assert torch.equal(DigitsOnPhotosEnv.target_subset(5000, "test", 100, "mnist_m"), test[:100])
    digits = DigitsEnv.target_subset(5000, "test", 1000, "mnist")
    assert torch.equal(digits, torch.randperm(5000, generator=torch.Generator().manual_seed(0))[:1000])  # as in 0.3
    assert torch.equal(digits, test[:1000])  # the screen's a2 images are test images of the new task
    with pytest.raises(ValueError, match="holds no validation split"):
        gym.make("ASG-Digits-v0", **digits_kwargs, target_split="validation")
    photos = gym.make("ASG-DigitsOnPhotos-v0", **digits_kwargs, lam=0.1)  # a2's episodes are this task's
    blended = gym.make("ASG-Digits-v0", **digits_kwargs, target="mnist_m")
    photos.reset(seed=3)
    blended.reset(seed=3)
    for _ in range(digits_kwargs["total_steps"]):
        step, same = photos.step(np.full(7, 6)), blended.step(np.full(7, 6))
        assert np.array_equal(step[0], same[0]) and step[1] == same[1]
    assert step[4]["target_accuracy"] == same[4]["target_accuracy"]
    env = gym.make("ASG-DigitsOnPhotos-v1", **digits_kwargs, target_split="validation")
    assert env.unwrapped.spec.id == "ASG-DigitsOnPhotos-v1" and env.unwrapped.env_id == "ASG-DigitsOnPhotos-v1"
    old = gym.make("ASG-DigitsOnPhotos-v0", **digits_kwargs)  # -v1 differs from it in the base LR alone
    assert env.unwrapped.config.base_lr == 3e-2 and old.unwrapped.config.base_lr == 1e-2
    assert {k: v for k, v in DigitsOnPhotosV0Env.defaults.items() if k != "base_lr"} == \
        {k: v for k, v in DigitsOnPhotosEnv.defaults.items() if k != "base_lr"}
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.full(7, 5))
    assert np.isfinite(info["loss"])
