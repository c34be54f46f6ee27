"""Checkpoints: atomic replacement, kind/format checks, no code execution on load."""

from __future__ import annotations

import pickle

import pytest
import torch

from asg_gym.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip_and_kind_check(tmp_path):
    path = save_checkpoint(tmp_path / "a.pt", "unit", {"w": torch.arange(3), "n": 2})
    payload = load_checkpoint(path, "unit")
    assert torch.equal(payload["w"], torch.arange(3)) and payload["n"] == 2
    with pytest.raises(ValueError, match="expected 'other'"):
        load_checkpoint(path, "other")


def test_failed_save_keeps_the_previous_checkpoint(tmp_path):
    path = save_checkpoint(tmp_path / "a.pt", "unit", {"n": 1})
    with pytest.raises((pickle.PicklingError, AttributeError)):  # which one depends on the Python version
        save_checkpoint(path, "unit", {"n": lambda: 2})  # not serialisable: the save fails midway
    assert load_checkpoint(path, "unit") == {"n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]  # no temporary file left behind


def test_missing_and_corrupt_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "none.pt", "unit")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable asg-gym checkpoint"):
        load_checkpoint(tmp_path / "bad.pt", "unit")


def test_an_interrupted_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from asg_gym.checkpoint import write_atomically

    path = tmp_path / "card.json"
    write_atomically(path, lambda tmp: tmp.write_text("old"))

    def dies_half_way(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, dies_half_way)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["card.json"]
