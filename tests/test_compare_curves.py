"""experiments.studies.compare_curves: two figure folders paired by setting and evaluation seed."""

import csv
import json

import pytest

from experiments.curves import CURVE_FIELDS
from experiments.studies.compare_curves import main


def _folder(path, finals, env_kwargs):
    """A figure folder whose hand_tuned λ=0.1 curve ends at ``finals[seed]`` (an earlier evaluation at 0.1)."""
    path.mkdir()
    with (path / "curves.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, CURVE_FIELDS)
        writer.writeheader()
        for seed, final in finals.items():
            for step, score in ((50, 0.1), (100, final)):
                writer.writerow({"setting": "hand_tuned", "lam": 0.1, "seed": seed, "sgd_step": step,
                                 "target_accuracy": score, "old_task_agreement": 0.5, "diverged": False,
                                 "seconds": 1.0})
    run = {"machine": "M", "args": {"env_kwargs": json.dumps(env_kwargs), "seeds": list(finals), "out": str(path)}}
    (path / "provenance.json").write_text(json.dumps({"runs": [run]}))
    return path


def test_pairs_final_scores_by_seed_and_names_the_changed_keyword(tmp_path):
    a = _folder(tmp_path / "a", {100: 0.50, 101: 0.60, 102: 0.70}, {})
    b = _folder(tmp_path / "b", {100: 0.55, 101: 0.65, 102: 0.70, 103: 0.9}, {"momentum_style": "reference"})
    text = main([str(a), str(b)])
    assert (b / "compare.md").read_text() == text
    assert "`env_kwargs.momentum_style` None → 'reference'" in text
    row = next(line for line in text.splitlines() if line.startswith("| hand_tuned λ=0.1 |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[2] == "3"  # seed 103 ran only in B: not paired
    assert cells[5].startswith("+0.033") and cells[6] == "2/1/0"  # mean of +0.05, +0.05, 0


def test_a_folder_without_curves_is_refused(tmp_path):
    a = _folder(tmp_path / "a", {100: 0.5}, {})
    with pytest.raises(SystemExit, match=r"no curves\.csv"):
        main([str(a), str(tmp_path)])
