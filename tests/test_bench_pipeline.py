"""The data-pipeline benchmark and the prepared GPU run, rehearsed at tiny sizes on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asg_gym.data.driving import cityscapes_dataset, gta5_dataset
from asg_gym.data.visda import visda_split
from experiments.bench.make_fixture_folders import make_cityscapes_folder, make_gta5_folder, make_visda_folder

pytestmark = pytest.mark.usefixtures("one_thread")  # many tiny steps: one thread is far faster


def test_generated_folders_load_as_the_real_layouts(tmp_path: Path) -> None:
    sizes = make_visda_folder(tmp_path / "visda17", 24, 12, size=(48, 32))
    assert sizes["train_mean_bytes"] > 0 and sizes["validation_mean_bytes"] > 0
    train = visda_split(tmp_path / "visda17", "train", 32)
    assert len(train) == 24 and set(train.labels.tolist()) == set(range(12))
    assert len(visda_split(tmp_path / "visda17", "validation", 32)) == 12
    make_gta5_folder(tmp_path / "gta5", 2, size=(80, 48))
    image, label, _ = gta5_dataset(tmp_path / "gta5", crop_size=(32, 32))[(0, 3)]
    assert image.shape == (3, 32, 32) and label.shape == (32, 32) and int(label.max()) <= 255
    make_cityscapes_folder(tmp_path / "cityscapes", 2, size=(64, 32))
    assert len(cityscapes_dataset(tmp_path / "cityscapes")) == 2


def test_bench_pipeline_writes_results_and_readme(tmp_path: Path) -> None:
    from experiments.bench import bench_pipeline

    results = bench_pipeline.main([
        "--root", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--visda-images", "32",
        "--visda-size", "48", "32", "--image-size", "32", "--gta5-images", "6", "--gta5-size", "64", "48",
        "--crop-size", "32", "--max-workers", "1", "--visda-batches", "1", "--gta5-batches", "1", "--rounds", "1",
        "--stage-samples", "2", "--processes", "1", "--no-estimate-demand"])
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["visda"]["images"] == results["visda"]["images"] == 32
    for part in ("visda", "gta5"):
        assert [r["num_workers"] for r in saved[part]["workers"]] == [0, 1]
        assert all(r["images_per_s"] > 0 for r in saved[part]["workers"])
        assert saved[part]["pinned_memory"]["applicable"] is False  # no CUDA here
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "images/s" in readme and "default number of workers" in readme
    assert (tmp_path / "out" / "provenance.json").exists()


def test_gpu_demand_scales_published_throughput_by_flops() -> None:
    from experiments.bench.bench_pipeline import PUBLISHED_RESNET50, gpu_demand, workers_needed

    demand = gpu_demand({"resnet50@224": 8.0, "resnet101@224": 16.0})
    assert demand["resnet101@224"] == {gpu: round(rate / 2, 1) for gpu, rate in PUBLISHED_RESNET50.items()}
    rows = [{"num_workers": 0, "images_per_s": 50.0}, {"num_workers": 1, "images_per_s": 100.0}]
    assert workers_needed(rows, {"fast": 250.0, "slow": 100.0}) == {"fast": 3, "slow": 1}


def test_gpu_run_dry_run_rehearses_the_whole_pipeline(tmp_path: Path) -> None:
    from experiments import gpu_run

    results = gpu_run.main(["--dry-run", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["dry_run"] and not saved["skipped"] and saved["device"].startswith("cpu")
    models = {(r["model"], r["channels_last"], r["precision"], r["step"]) for r in saved["gpu_check"]}
    assert ("toy", True, "bf16", "env+cache") in models and ("fcn_toy", False, "fp32", "bare") in models
    assert [r["env"] for r in results["envs"]] == ["ASG-VisDA-v0", "ASG-GTA5-v0"]
    for row in saved["envs"]:
        assert row["steps"] == 3 and row["ms_per_step"] > 0 and row["ratio_to_bare"] is not None
        assert 0 <= row["loader_stall_fraction"] <= 1 and not row["diverged"]
        assert row["target_score"] == pytest.approx(row["target_score"])  # a number, not NaN
    readme = (tmp_path / "README.md").read_text()
    assert "DRY RUN" in readme and "paper-length run" in readme


@pytest.mark.parametrize("module", ["bench.bench_pipeline", "gpu_run", "bench.make_fixture_folders"])
def test_help_lists_the_flags_and_exits_cleanly(module: str, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib

    with pytest.raises(SystemExit) as stop:
        importlib.import_module(f"experiments.{module}").main(["--help"])
    assert stop.value.code == 0 and "--" in capsys.readouterr().out
