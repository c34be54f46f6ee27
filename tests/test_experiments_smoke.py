"""Every experiment script runs end to end in its --quick mode."""

from __future__ import annotations

import json

import pytest


def test_sweep_defaults_quick(capsys):
    from experiments.studies import sweep_defaults

    sweep_defaults.main(["--quick"])
    assert "results in" in capsys.readouterr().out


@pytest.mark.parametrize("env_id", ["ASG-Digits-v0", "ASG-DigitsOnPhotos-v1"])
def test_bench_env_quick(env_id):
    from experiments.bench import bench_env

    result = bench_env.main(["--quick", "--env", env_id])
    assert result["config"]["env"] == env_id
    assert result["env_cached_over_best_bare"] > 0 and result["speedup_over_previous_default"] > 0
    assert result["reset_over_step"] > 0 and result["policy_over_step"] > 0
    assert set(result["ms"]) >= {"data", "student_fwd_bwd", "teacher", "optimizer", "observation",
                                 "bare_sgd_step_nchw", "bare_sgd_step_channels_last", "env_step_previous_default"}
    assert result["config"]["channels_last"] is True  # the CPU default


def test_bench_allocator_quick():
    from experiments.bench import bench_allocator

    result = bench_allocator.main(["--quick"])
    assert set(result["runs"]) == {"kept", "glibc_default"} and result["default_over_kept"] > 0
    assert result["identical_returns"]  # the allocator changes the time, not the trajectory


def test_bench_evaluation_quick():
    from experiments.bench import bench_evaluation

    result = bench_evaluation.main(["--quick"])["ASG-Digits-v0"]
    assert result["default_batch_size"] == 128 * 48 * 48 // 32**2 and result["images"] == 200
    assert set(result["seconds"]) == {"250", "16", str(result["default_batch_size"])}
    assert all(result["same_predictions_as_250"].values())


@pytest.mark.parametrize("env_id", ["ASG-Digits-v0", "ASG-DigitSeg-v0"])
def test_reward_snr_quick(env_id):
    import csv

    from experiments.studies import reward_snr

    out = reward_snr.main(["--quick", "--env", env_id])
    rows = list(csv.DictReader((out / "rewards.csv").open()))
    assert {(r["window"], r["decision"]) for r in rows} == {("1", str(d)) for d in range(1, 21)} | {
        ("5", str(d)) for d in range(1, 5)}  # 20 SGD steps: 20 decisions of 1, 4 of 5
    assert {r["seed"] for r in rows} == {"0", "1"}
    assert "SNR with a position baseline" in (out / "table.md").read_text()


def test_reward_snr_within_position_std_removes_the_drift(tmp_path):
    """Two seeds whose rewards drift the same way over the episode: all of the std, none within a position."""
    from experiments.studies.reward_snr import write_table

    rows = [{"window": "1", "seed": str(seed), "decision": str(d), "reward": str(1.0 / d + 0.1 * seed)}
            for seed in (0, 1) for d in (1, 2, 3, 4)]
    row = write_table(tmp_path, [1], 4, rows).splitlines()[-1].split("|")
    mean, std, within = float(row[4]), float(row[5]), float(row[7])
    assert std > 0.3 and abs(within - 0.0707) < 1e-4  # the seed offset 0.1 only: sqrt(0.1² / 2)
    assert abs(float(row[8]) - mean / within) < 0.01


def test_reward_alignment_reads_a_benchmark_folder(tmp_path):
    """Return and target rise together in this folder's sampled rows; the greedy re-run and its outlier are left out."""

    from asg_benchmark.store import FIELDS
    from experiments.studies import reward_alignment
    from tests.results_fixtures import add_results

    rows = []
    for agent, offset in [("weak", 0.0), ("strong", 1.0), ("strong/greedy", -5.0)]:
        for seed in range(100, 104):
            score = offset + seed / 1000  # higher seeds and the stronger row: more return and more accuracy
            rows.append({**dict.fromkeys(FIELDS, "0"), **dict.fromkeys(("deterministic", "hand_designed", "diverged"),
                                                                       "False"),
                         "agent": agent, "train_seed": "0", "eval_seed": str(seed),
                         "episode_return": str(score), "target_score": str(score / 10 if offset >= 0 else 0.9),
                         "old_task_agreement": "0.5"})
    add_results(tmp_path, rows)
    out = reward_alignment.main(["--benchmark", str(tmp_path), "--out", str(tmp_path / "out"), "--reps", "50"])
    table = (out / "alignment.md").read_text()
    assert "greedy" not in table.split("|---|")[1]  # no /greedy row in the table
    assert table.index("| strong | 4 | 1.101") < table.index("| weak | 4 | 0.101")  # sorted by mean return
    assert "8 episodes of 2 rows: Spearman ρ(return, target) = +1.00, 95 % CI [+1.00, +1.00]" in table
    assert (out / "scatter.png").is_file()


def test_bench_vector_quick():
    from experiments.bench import bench_vector

    result = bench_vector.main(["--quick"])
    assert set(result["env_steps_per_second"]) == {"single", "sync_2", "async_2"}
    assert all(rate > 0 for rate in result["env_steps_per_second"].values())


def test_demo_quick(capsys):

    from tests import commands

    commands.demo(["--quick", "--policies", "all_large", "hand_tuned", "random"])
    out = capsys.readouterr().out
    assert "all_large" in out and "hand_tuned" in out and "target acc" in out


@pytest.mark.parametrize("module", ["paper.fig1_heuristics", "paper.table1_lambda", "paper.table2_retention"])
def test_curve_scripts_quick(module):
    import importlib

    out = importlib.import_module(f"experiments.{module}").main(["--quick"])
    assert (out / "curves.csv").stat().st_size > 0 and (out / "curves.png").exists()
    table = (out / "table.md").read_text()
    assert "|" in table and "Δ final" in table  # paired differences against each script's reference


def test_table2_runs_only_the_rows_asked_for_and_its_reference():
    import csv

    from experiments.paper import table2_retention

    out = table2_retention.main(["--quick", "--rows", "9"])
    with open(out / "curves.csv") as f:
        assert {row["setting"] for row in csv.DictReader(f)} == {"3_hand_tuned", "9_asg"}
    with pytest.raises(SystemExit, match="rows 1–9, not \\[10\\]"):
        table2_retention.main(["--quick", "--rows", "9", "10"])


def test_fig6_then_fig8_quick(tmp_path):
    from experiments.paper import fig6_policies, fig8_policy_behaviour

    out = fig6_policies.main(["--quick"])
    assert {"rl_l2o", "hand_tuned", "random"} <= set((out / "curves.csv").read_text().replace(",", " ").split())
    fig8 = fig8_policy_behaviour.main(["--actions", str(out / "actions.csv"), "--window", "2", "--out", str(tmp_path)])
    assert (fig8 / "behaviour.png").exists() and "new_head" in (fig8 / "mean_scales.md").read_text()


def test_sampled_and_greedy_rows_of_one_folder_keep_their_actions_apart(tmp_path):
    """A folder may hold a policy's sampled and greedy rows; Fig. 8 must read one of them per file."""
    from experiments.runner import LEARNED, Setting, action_recorder

    for name, action in ((LEARNED, 1), (f"{LEARNED}/greedy", 2)):
        record = action_recorder(tmp_path, name)
        for setting in (LEARNED, f"{LEARNED}/greedy", "hand_tuned"):  # each hook keeps its own setting only
            record(Setting(setting, 1.0, agent=None), 100, ["a", "b"], {"actions": [[action, action]] * 2})
    assert (tmp_path / "actions.csv").read_text().splitlines() == ["seed,step,a,b", "100,1,1,1", "100,2,1,1"]
    assert (tmp_path / "actions_greedy.csv").read_text().splitlines() == ["seed,step,a,b", "100,1,2,2", "100,2,2,2"]


def test_constant_policy_prefix_of_a_longer_episode_is_the_shorter_episode():
    """What lets Table 2 reuse Fig. 1's runs: t/T changes, a constant policy's trajectory does not."""
    import gymnasium as gym

    from agents import ConstantPolicy
    from experiments.common import run_episode
    from experiments.curves import QUICK_ENV

    curves = []
    for total_steps in (4, 8):
        env = gym.make("ASG-Digits-v0", total_steps=total_steps, eval_every=2, **QUICK_ENV)
        curves.append(run_episode(env, ConstantPolicy("hand_tuned"), seed=3)["curve"])
    assert curves[0] == curves[1][:2]


def test_copy_prefix_takes_matching_evaluations(tmp_path):
    import csv
    import json

    from experiments.common import ResumableCSV
    from experiments.curves import CURVE_FIELDS, copy_prefix

    donor = tmp_path / "fig1"
    donor.mkdir()
    args = {"env_kwargs": "{}", "total_steps": 600, "eval_every": 50}
    import asg_gym

    run = {"args": args, "asg_gym_version": asg_gym.__version__}
    (donor / "provenance.json").write_text(json.dumps({"runs": [run]}))
    with (donor / "curves.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, CURVE_FIELDS)
        writer.writeheader()
        for seed in (0, 1):
            for step in range(50, 601, 50):
                writer.writerow({"setting": "hand_tuned", "lam": 0.1, "seed": seed, "sgd_step": step,
                                 "target_accuracy": step / 1000, "old_task_agreement": 0.5, "diverged": False,
                                 "seconds": 1})
    table = ResumableCSV(tmp_path / "t2" / "curves.csv", CURVE_FIELDS, ["setting", "lam", "seed"])
    donors = {("4_hand_tuned+PG", 0.1): ("hand_tuned", 0.1), ("2_all_large+PG", 0.1): ("all_large", 0.1)}
    copied = copy_prefix(donor, table, donors, [0, 1], 300, 100, {})
    assert copied == ["4_hand_tuned+PG"]  # all_large is not in the donor: it must be run
    assert [int(r["sgd_step"]) for r in table.rows if r["seed"] == "0"] == [100, 200, 300]
    assert float(table.rows[2]["target_accuracy"]) == 0.3

    # A donor made by another asg-gym version (other env defaults) is never copied.
    old = tmp_path / "old"
    old.mkdir()
    (old / "provenance.json").write_text(json.dumps({"runs": [{"args": args}]}))  # 0.1.0: no version recorded
    (old / "curves.csv").write_text((donor / "curves.csv").read_text())
    fresh = ResumableCSV(tmp_path / "t3" / "curves.csv", CURVE_FIELDS, ["setting", "lam", "seed"])
    assert copy_prefix(old, fresh, donors, [0, 1], 300, 100, {}) == []
    assert copy_prefix(donor, table, donors, [0, 1], 300, 100, {"image_size": 32}) == []  # other env: refused
    assert copy_prefix(donor, table, donors, [0, 1], 900, 100, {}) == []  # donor too short: refused


@pytest.mark.parametrize("module", ["studies.sweep_digitseg", "paper.fig7_segmentation"])
def test_segmentation_scripts_quick(module):
    import importlib

    out = importlib.import_module(f"experiments.{module}").main(["--quick"])
    header = (out / "curves.csv").read_text().splitlines()[0]
    assert "target_miou" in header and (out / "curves.png").exists()
    assert "mIoU" in (out / "table.md").read_text()
    if module == "fig7_segmentation":  # the learned policy's actions, one row per step
        table = (out / "table.md").read_text()  # the paper's claim: learned against the other guided policies
        assert "### Against hand-tuned, λ=1" in table and "### Against random, λ=1" in table
        actions = (out / "actions.csv").read_text().splitlines()
        assert actions[0].startswith("seed,step,") and len(actions[0].split(",")) == 2 + 7 and len(actions) == 1 + 4


def test_digitseg_gap_quick():
    from experiments.studies import digitseg_gap

    out = digitseg_gap.main(["--quick"])
    rows = (out / "runs.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[0].startswith("total_steps,base_lr,seed,source_miou")
    assert 0 < float(rows[1].split(",")[5]) < 1  # the all-background floor
    assert "source mIoU" in (out / "table.md").read_text()


def test_background_floor_is_the_miou_of_predicting_background():
    import torch

    from asg_gym.segmentation.metrics import ConfusionMatrix
    from experiments.studies.digitseg_gap import background_floor

    labels = torch.full((2, 8, 8), 10)
    labels[0, :2, :3] = 4
    matrix = ConfusionMatrix(11, ignore_index=255)
    matrix.update(torch.full_like(labels, 10), labels)
    assert background_floor(labels) == pytest.approx(float(matrix.miou()))


CLI_SCRIPTS = ["paper.train_transfer", "bench.bench_env", "bench.bench_allocator", "bench.bench_evaluation",
               "bench.bench_vector",
               "bench.gpu_check", "bench.bench_pipeline", "gpu_run", "bench.make_fixture_folders",
               "bench.bench_rollouts", "studies.reward_snr", "studies.sweep_defaults", "studies.digitseg_gap",
               "paper.fig8_policy_behaviour",
               "paper.fig1_heuristics", "paper.table1_lambda", "paper.table2_retention", "paper.fig6_policies",
               "paper.fig7_segmentation", "studies.sweep_digitseg", "studies.ablation_reinforce",
               "studies.reward_alignment", "studies.compare_curves", "studies.peak_decay"]


def test_peak_decay_counts_the_seeds_that_end_below_an_earlier_evaluation(tmp_path):
    from experiments.studies import peak_decay

    rows = ["setting,lam,seed,sgd_step,target_accuracy,old_task_agreement,diverged,seconds"]
    for seed, curve in ((0, (0.3, 0.5, 0.4)), (1, (0.3, 0.4, 0.5)), (2, (0.3, 0.51, 0.5))):
        rows += [f"hand_tuned,0.0,{seed},{100 * (i + 1)},{a},0.1,False,{10 + seed}" for i, a in enumerate(curve)]
    path = tmp_path / "curves.csv"
    path.write_text("\n".join(rows) + "\n")
    assert peak_decay.main([str(path)]) == ["hand_tuned, λ = 0.0: 2/3 seeds end below an earlier evaluation (by more "
                                            "than 0); seconds per episode: least 10, median 11"]
    assert peak_decay.main([str(path), "--margin", "0.02"])[0].startswith("hand_tuned, λ = 0.0: 1/3 seeds")


@pytest.mark.parametrize("module", CLI_SCRIPTS)
def test_help_lists_the_flags_and_exits_cleanly(module, capsys):
    import importlib

    with pytest.raises(SystemExit) as stop:
        importlib.import_module(f"experiments.{module}").main(["--help"])
    assert stop.value.code == 0
    assert "--" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["run", "report", "compare", "migrate", "train", "ship", "demo"])
def test_every_installed_subcommand_has_help(command, capsys):
    from asg_benchmark.cli import main

    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert "--" in capsys.readouterr().out


def test_curve_script_help_shows_the_shared_flags(capsys):
    from experiments.paper import fig1_heuristics

    with pytest.raises(SystemExit) as stop:
        fig1_heuristics.main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    shared = ("--seeds", "--total-steps", "--eval-every", "--env-kwargs", "--out", "--quick")
    assert all(flag in text for flag in shared)


@pytest.mark.parametrize("module", ["paper.fig1_heuristics", "paper.fig7_segmentation", "paper.train_transfer",
                                    "studies.digitseg_gap"])
@pytest.mark.parametrize("text", ["image_size=32", '{"image_size": 32', "[32]"])
def test_env_kwargs_must_be_a_json_object(module, text, tmp_path):
    import importlib

    main = importlib.import_module(f"experiments.{module}").main
    with pytest.raises(SystemExit, match=r"--env-kwargs takes a JSON object, e\.g\. --env-kwargs '\{\"image_size\""):
        main(["--env-kwargs", text, "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()  # stopped before writing anything


def test_curve_flags_set_env_keywords_once(tmp_path):
    from experiments.paper import fig1_heuristics

    with pytest.raises(SystemExit, match=r"--env-kwargs sets \['lam'\]"):
        fig1_heuristics.main(["--env-kwargs", '{"lam": 0.5}', "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def test_quick_applies_the_script_overrides():
    from experiments.paper import table1_lambda
    from experiments.runner import parse_curve_args

    args = parse_curve_args(table1_lambda.Args, ["--quick"])
    assert (args.seeds, args.lams, args.total_steps, args.eval_every) == ([0], [0.0, 0.1], 4, 2)
    assert args.gym_kwargs()["backbone"] == "toy" and args.out != table1_lambda.Args().out


@pytest.mark.parametrize("command", ["train", "run"])
@pytest.mark.parametrize("text", ["image_size=32", '{"image_size": 32', "[32]"])
def test_installed_commands_refuse_env_kwargs_that_are_no_json_object(command, text, tmp_path, capsys):
    from asg_benchmark.cli import main

    extra = ["--budget", "4"] if command == "run" else []
    assert main([command, "--env-kwargs", text, "--out", str(tmp_path / "run"), *extra]) == 2
    err = capsys.readouterr().err
    assert "--env-kwargs takes a JSON object" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # stopped before writing anything


def test_training_runs_summarises_labelled_episode_files(tmp_path):
    from experiments.studies import training_runs

    for label, entropy in (("committed", 0.5), ("uniform", 2.4)):
        lines = ["episode,return,entropy", *(f"{k},{k},{entropy}" for k in range(10))]
        (tmp_path / f"{label}.csv").write_text("\n".join(lines) + "\n")
    result = training_runs.main([f"{label}={tmp_path / label}.csv" for label in ("committed", "uniform")]
                                + ["--out", str(tmp_path / "out")])
    assert result["committed"] == {"episodes": 10, "return_early": 0.5, "return_late": 8.5, "entropy_early": 0.5,
                                   "entropy_late": 0.5}
    assert result["uniform"]["entropy_late"] == 2.4 and (tmp_path / "out" / "training.png").is_file()


def test_a_pilot_decision_applies_its_rule_and_writes_the_chosen_recipe(tmp_path):
    from experiments.studies import pilot_decision

    def pilot(entropy: float, returns: float) -> list[str]:
        path = tmp_path / f"{entropy}_{returns}.csv"
        path.write_text("\n".join(["episode,return,entropy", *(f"{k},{returns},{entropy}" for k in range(10))]) + "\n")
        return [str(path), "--candidate", '{"update_epochs": 4}', "--fallback", '{"preset": "recommended"}',
                "--max-entropy", "2.0", "--min-return", "1.99", "--min-episodes", "10"]

    out = tmp_path / "decision"
    committed = pilot_decision.main([*pilot(1.5, 2.0), "--out", str(out)])
    assert committed["adopted"] and json.loads((out / "recipe.json").read_text()) == {"update_epochs": 4}
    assert committed["runs"][0]["measured"]["entropy_late"] == 1.5 and (out / "decision.json").is_file()
    assert pilot_decision.main(pilot(2.0, 2.5))["recipe"] == {"preset": "recommended"}  # entropy not below 2.0
    assert not pilot_decision.main(pilot(1.0, 1.98))["adopted"]  # return below 1.99
    with pytest.raises(SystemExit, match="fewer than"):
        pilot_decision.main([*pilot(1.0, 2.0)[:-1], "11"])
    # two runs (two tasks), one return bound each: adopted only where the rule holds on both
    two_tasks = [pilot(1.0, 2.0)[0], *pilot(1.0, 2.1)[:5], "--max-entropy", "2.0", "--min-return", "2.05", "1.99"]
    decided = pilot_decision.main(two_tasks)
    assert [run["holds"] for run in decided["runs"]] == [False, True] and not decided["adopted"]
    assert pilot_decision.main([*two_tasks[:-2], "1.99", "1.99"])["adopted"]
    with pytest.raises(SystemExit, match=r"one per episodes\.csv"):
        pilot_decision.main([*two_tasks[:-2], "1.0", "1.0", "1.0"])


def test_small_scale_prior_summarises_constant_trials_training_returns_and_the_prior(tmp_path):
    from experiments.studies import small_scale_prior

    trials = [{"action": [2] * 7, "value": 2.3}, {"action": [1] * 6 + [5], "value": 2.1},
              {"action": [10] * 7, "value": 0.02}]
    (tmp_path / "agent").write_text(json.dumps({"trials": trials}))
    (tmp_path / "episodes.csv").write_text("episode,return\n0,0.05\n1,2.0\n2,0.01\n")
    result = small_scale_prior.main(["--trials", f"task={tmp_path / 'agent'}",
                                     "--episodes", f"run={tmp_path / 'episodes.csv'}", "--slope", "0"])
    task = result["trials"]["task"]
    assert task["best_action"] == [2] * 7 and task["best_median_scale"] == 0.2 and task["median_return"] == 2.1
    assert task["all_scales_at_most_0.5"] == {"trials": 2, "mean_return": pytest.approx(2.2)}
    assert task["below_collapse"] == [{"action": [10] * 7, "return": 0.02}]
    assert result["episodes"]["run"] == {"episodes": 3, "below_collapse": 2}
    assert result["prior"]["mean_scale"] == pytest.approx(0.5)  # β = 0: uniform
    assert small_scale_prior.prior(0.5)["share_at_most_0.4"] == pytest.approx(0.9217, abs=1e-4)
