"""Shared fixtures: a tiny ASG-Digits-v0 configuration that steps in milliseconds."""

from __future__ import annotations

import warnings

import pytest
import torch

import asg_gym  # noqa: F401  (registers the ids)

# Toy backbone, 32-px images, a small rendered source set: fast and offline.
TINY = {
    "backbone": "toy",
    "image_size": 32,
    "num_source_images": 256,
    "eval_size": 100,
    "total_steps": 6,
    "eval_every": 3,
    "batch_size": 16,
    "device": "cpu",
}


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(2)
    yield


@pytest.fixture
def tiny_kwargs() -> dict:
    return dict(TINY)


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
