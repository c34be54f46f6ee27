"""Shared fixtures: every registered id in a configuration that steps in milliseconds on a CPU.

Tests get their configurations from these fixtures, never by importing this module:

* ``cheap_env``: parametrised over every registered id, each in its cheap configuration
  (a :class:`tests.cheap_envs.CheapEnv`); the env-contract tests (``docs/design.md`` §2 "Env
  contract") run once per id. ``ASG-VisDA-v0`` (ResNet-18, about ten times slower a step) is
  marked ``slow``.
* ``digits_kwargs`` / ``digitseg_kwargs``: the keywords of one id, for tests about that id.
* ``gta5_roots`` / ``visda_root``: data-set folders of a few real image files, written once per session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import asg_gym  # noqa: F401  (registers the ids)
from tests import cheap_envs
from tests.seg_fixtures import make_cityscapes, make_gta5
from tests.visda_fixtures import make_visda


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(2)
    yield


@pytest.fixture
def one_thread():
    """One torch thread (overrides the two above): ResNet convs and many tiny steps run far faster so."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(params=[
    "ASG-Digits-v0",
    "ASG-DigitsOnPhotos-v1",
    "ASG-DigitsOnPhotos-v0",
    "ASG-DigitSeg-v0",
    "ASG-GTA5-v0",
    pytest.param("ASG-VisDA-v0", marks=pytest.mark.slow),
])
def cheap_env(request: pytest.FixtureRequest) -> cheap_envs.CheapEnv:
    """Every registered id in its cheap configuration: ``.make(**overrides)``, ``.kwargs``, ``.scores`` …"""
    if request.param == "ASG-VisDA-v0":
        torch.set_num_threads(1)  # ResNet convs on a busy 2-core machine: one thread is much faster (test_visda.py)
    return cheap_envs.cheap_env_for(request.param, request.getfixturevalue)


@pytest.fixture
def digits_kwargs() -> dict[str, Any]:
    """``ASG-Digits-v0`` with the toy backbone: 6 steps, evaluated every 3 on 100 real digits."""
    return cheap_envs.digits_kwargs()


@pytest.fixture
def digitseg_kwargs() -> dict[str, Any]:
    """``ASG-DigitSeg-v0`` with the toy FCN: 4 steps, evaluated every 2 on 8 real scenes."""
    return cheap_envs.digitseg_kwargs()


@pytest.fixture(scope="session")
def gta5_roots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(GTA5 folder of 6 images, Cityscapes folder of 3 val images), see ``tests/seg_fixtures.py``."""
    root = tmp_path_factory.mktemp("segmentation")
    return make_gta5(root / "gta5", num_images=6), make_cityscapes(root / "cityscapes")


@pytest.fixture(scope="session")
def visda_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VisDA-17-shaped folder, see ``tests/visda_fixtures.py``."""
    return make_visda(tmp_path_factory.mktemp("visda"))
