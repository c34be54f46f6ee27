"""Every experiment script runs end to end in its --quick mode."""

from __future__ import annotations

import pytest


def test_sweep_defaults_quick(capsys):
    from experiments import sweep_defaults

    sweep_defaults.main(["--quick"])
    assert "results in" in capsys.readouterr().out


def test_bench_env_quick():
    from experiments import bench_env

    result = bench_env.main(["--quick"])
    assert result["env_cached_over_bare"] > 0 and result["reset_over_step"] > 0 and result["policy_over_step"] > 0
    assert set(result["ms"]) >= {"data", "student_fwd_bwd", "teacher", "optimizer", "observation"}


def test_demo_quick(capsys):
    from experiments import demo

    demo.main(["--quick", "--policies", "all_large", "hand_tuned", "random"])
    out = capsys.readouterr().out
    assert "all_large" in out and "hand_tuned" in out and "target acc" in out


@pytest.mark.parametrize("module", ["fig1_heuristics", "table1_lambda", "table2_retention"])
def test_curve_scripts_quick(module):
    import importlib

    out = importlib.import_module(f"experiments.{module}").main(["--quick"])
    assert (out / "curves.csv").stat().st_size > 0 and (out / "curves.png").exists()
    assert "|" in (out / "table.md").read_text()


def test_fig6_then_fig8_quick(tmp_path):
    from experiments import fig6_policies, fig8_policy_behaviour

    out = fig6_policies.main(["--quick"])
    assert {"rl_l2o", "hand_tuned", "random"} <= set((out / "curves.csv").read_text().replace(",", " ").split())
    fig8 = fig8_policy_behaviour.main(["--actions", str(out / "actions.csv"), "--window", "2", "--out", str(tmp_path)])
    assert (fig8 / "behaviour.png").exists() and "new_head" in (fig8 / "mean_scales.md").read_text()
