"""The agent scripts end to end on the toy ASG env: ``experiments.train_policy`` and ``experiments.benchmark_agents``.

They import ``experiments``, whose command lines may change with it; the flags here are the scripts' own.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from agents import ReinforceLSTMAgent
from asg_benchmark import BenchmarkError
from asg_gym.checkpoint import load_checkpoint
from tests import commands
from tests.test_benchmark_report import _row
from tests.toy_lr_env import Recorder


def test_train_policy_smoke(tmp_path: Path, digits_kwargs: dict) -> None:
    save = tmp_path / "policy" / "final.pt"
    path = commands.train(["--env-kwargs", json.dumps(digits_kwargs), "--episodes", "2", "--out",
                              str(tmp_path / "run"), "--save", str(save), "--no-progress",
                              "--agent-kwargs", '{"gamma": 0.9, "max_grad_norm": 1.0}'])
    assert path == save
    agent = ReinforceLSTMAgent.load(save)
    assert agent.num_episodes == 2 and agent.config["gamma"] == 0.9
    assert list((tmp_path / "run" / "tb").glob("events.out.tfevents.*"))
    assert (tmp_path / "run" / "provenance.json").exists()
    with pytest.raises(BenchmarkError, match="settings changed"):
        commands.train(["--env-kwargs", json.dumps(digits_kwargs), "--episodes", "3", "--out",
                           str(tmp_path / "run"), "--resume", "--seed", "9", "--no-progress"])


def test_kill_and_resume_reproduces_the_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          digits_kwargs: dict) -> None:
    # 6-step episodes, U = 5: updates after steps 5, 6, 11, 12; a checkpoint after each.
    common = ["--env-kwargs", json.dumps(digits_kwargs), "--episodes", "2", "--seed", "3", "--checkpoint-every", "1",
              "--no-tensorboard", "--no-progress"]
    full = commands.train([*common, "--out", str(tmp_path / "full")])
    from asg_benchmark import train

    make_env = train.make_env
    monkeypatch.setattr(train, "make_env", lambda env_id, kwargs: Recorder(make_env(env_id, kwargs), 6))
    with pytest.raises(KeyboardInterrupt):
        commands.train([*common, "--out", str(tmp_path / "cut")])
    monkeypatch.undo()
    last = load_checkpoint(tmp_path / "cut" / "checkpoint.pt", "reinforce_lstm")
    assert last["counters"]["num_timesteps"] == 5 and len(last["episode"]["actions"]) == 5  # mid-episode
    with pytest.raises(BenchmarkError, match="--resume"):
        commands.train([*common, "--out", str(tmp_path / "cut")])
    resumed = commands.train([*common, "--out", str(tmp_path / "cut"), "--resume"])

    a, b = ReinforceLSTMAgent.load(full), ReinforceLSTMAgent.load(resumed)
    assert (a.num_timesteps, a.num_updates, a.num_episodes) == (b.num_timesteps, b.num_updates, b.num_episodes) \
        == (12, 4, 2)
    for p, q in zip(a.policy.parameters(), b.policy.parameters(), strict=True):
        assert torch.equal(p, q)
    momentum = [s.values() for s in (a.optimizer.state_dict()["state"], b.optimizer.state_dict()["state"])]
    for sa, sb in zip(*momentum, strict=True):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    initial = ReinforceLSTMAgent(num_coordinates=7, seed=3)
    assert not all(torch.equal(p, q) for p, q in zip(a.policy.parameters(), initial.policy.parameters(), strict=True))
    rows = [list(csv.DictReader((tmp_path / run / "episodes.csv").open())) for run in ("full", "cut")]
    assert rows[0] == rows[1] and len(rows[0]) == 2  # entropy columns too: the resumed episode keeps its sums
    entropies = [float(r[f"entropy_{c}"]) for r in rows[0] for c in range(7)]
    assert all(0 < h <= math.log(11) + 1e-9 for h in entropies)
    assert float(rows[0][0]["entropy"]) == pytest.approx(sum(entropies[:7]) / 7)


def test_benchmark_agents_quick(tmp_path: Path) -> None:
    """The script is the installed benchmark (asg_benchmark) with the scale-out flags."""
    names = ["reinforce_lstm", "a2c", "hand_tuned", "random_init"]
    argv = ["--quick", "--out", str(tmp_path), "--agents", *names, "--reps", "50"]
    commands.benchmark(argv)
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert {r["agent"] for r in rows} >= set(names)
    assert {int(r["train_env_steps"]) for r in rows if r["agent"] in ("hand_tuned", "random_init")} == {0}
    assert all(int(r["train_env_steps"]) > 0 for r in rows if r["agent"] == "reinforce_lstm")
    assert all(0 <= float(r["target_score"]) <= 1 for r in rows)
    report = (tmp_path / "report.md").read_text()
    assert all(name in report for name in names)
    training = report.split("## Training")[1]  # how the learning rows trained, from their episodes.csv
    assert "| reinforce_lstm | 3 | 6 |" in training and "| a2c | 3 |" in training
    assert (tmp_path / "training.png").read_bytes()[:4] == b"\x89PNG"  # their curves
    commands.benchmark(argv)  # resumable: finished rows are skipped, not repeated
    assert len(list(csv.DictReader((tmp_path / "results.csv").open()))) == len(rows)

    from experiments.paper import fig8_policy_behaviour  # Fig. 8 of a benchmark row: its deployed (sampled) episodes

    fig8 = fig8_policy_behaviour.main(["--benchmark", str(tmp_path), "--agent", "reinforce_lstm", "--window", "2",
                                       "--out", str(tmp_path / "fig8")])
    table = (fig8 / "mean_scales.md").read_text()
    assert "new_head" in table and "action changes" in table and (fig8 / "behaviour.png").is_file()
    with pytest.raises(SystemExit, match="no episodes"):
        fig8_policy_behaviour.main(["--benchmark", str(tmp_path), "--agent", "sac", "--out", str(tmp_path / "x")])
    from experiments.paper.fig8_policy_behaviour import (
        load_benchmark_actions,  # one training seed: one policy's episodes
    )

    every, one = (load_benchmark_actions(tmp_path, "reinforce_lstm", seed)[1] for seed in (None, "1"))
    assert len(every) == 3 * len(one) > 0
    with pytest.raises(SystemExit, match="with training seed 9"):
        load_benchmark_actions(tmp_path, "reinforce_lstm", "9")


def test_ablation_reinforce_quick(tmp_path: Path) -> None:
    from experiments.studies import ablation_reinforce

    out = ablation_reinforce.main(["--quick", "--variants", "entropy_bonus", "--out", str(tmp_path), "--reps", "50"])
    table = (out / "ablation.md").read_text()
    assert "| paper | — |" in table and "| entropy_bonus | entropy_coef: 0.01 |" in table
    assert (out / "training.png").is_file() and (out / "agents" / "entropy_bonus-seed0" / "episodes.csv").is_file()
    assert "row paper" in (out / "report.md").read_text()
    with pytest.raises(SystemExit, match="unknown variants"):
        ablation_reinforce.main(["--quick", "--variants", "sac", "--out", str(tmp_path / "x")])


def test_ablation_reads_its_bars_from_a_folder_of_the_same_protocol(tmp_path: Path) -> None:
    """hand_tuned's rows come from another folder (not re-run) and become the table's second reference;
    a folder of another protocol, or a row that trained there, is refused."""
    from asg_benchmark.provenance import machine
    from experiments.studies import ablation_reinforce
    from tests.results_fixtures import add_results

    out, bars = tmp_path / "ablation", tmp_path / "bars"
    argv = ["--quick", "--variants", "paper", "--out", str(out), "--reps", "50", "--bars", "hand_tuned",
            "--bars-from", str(bars)]
    ablation_reinforce.main([*argv[:-4], "--bars-from", ""])  # the variants' rows, no bars yet
    protocol = json.loads((out / "protocol.json").read_text())

    def write_bar_rows(train_env_steps: int) -> None:
        shutil.rmtree(bars, ignore_errors=True)
        add_results(bars, ({**_row("hand_tuned", "-", seed, 0, 0.99, True), "train_env_steps": train_env_steps,
                            "machine": machine()} for seed in (100, 101, 102)),  # pairs: one machine
                    {**protocol, "budget": 4000, "draws": 3})

    write_bar_rows(0)
    table = (ablation_reinforce.main(argv) / "ablation.md").read_text()
    assert "| hand_tuned | bar (read, not re-run) | 0.990 [0.990, 0.990] |" in table
    assert "P(> hand_tuned) [95 % CI]" in table and "0/0/3 |" in table  # every seed worse than 0.99
    assert "hand_tuned" not in (out / "report.md").read_text()  # the folder's own report keeps its own rows
    write_bar_rows(12)
    with pytest.raises(SystemExit, match="only rows that do not train"):
        ablation_reinforce.main(argv)
    shutil.rmtree(bars)
    add_results(bars, [], {**protocol, "env_kwargs": {}})
    with pytest.raises(SystemExit, match="another protocol"):
        ablation_reinforce.main(argv)


def test_every_ablation_variant_builds_its_agent(digits_kwargs: dict) -> None:
    """A variant's label and keywords are checked only when its row starts, hours into a run: check them all here."""
    import gymnasium as gym

    from agents import make_agent
    from asg_benchmark.registry import resolve_agent
    from experiments.studies.ablation_reinforce import VARIANTS

    env = gym.make("ASG-Digits-v0", **digits_kwargs)
    for name, kwargs in VARIANTS.items():
        assert resolve_agent(f"{name}=reinforce_lstm").name == name
        assert isinstance(make_agent("reinforce_lstm", env, **kwargs), ReinforceLSTMAgent), name
    entropy_floor = make_agent("reinforce_lstm", env, preset="entropy_floor", seed=0).config
    assert entropy_floor == make_agent("reinforce_lstm", env, **VARIANTS["entropy_floor"], seed=0).config
    # `recommended` is the benchmark's horizon row, whose unroll is the episode: the same agent on this env
    horizon = {"preset": "stabilized", "learning_rate": 0.01, "unroll_length": env.unwrapped.total_steps,
               "gamma": 1.0, "baseline_per_step": True}
    recommended = make_agent("reinforce_lstm", env, preset="recommended", seed=0).config
    assert recommended == make_agent("reinforce_lstm", env, **horizon, seed=0).config
    env.close()


def test_ship_policy_from_a_benchmark(tmp_path: Path) -> None:
    """A benchmark's trained reinforce_lstm becomes the env's pretrained policy, with the env settings it needs."""
    from agents import load_pretrained, pretrained_env_kwargs
    from asg_benchmark.cli import main as benchmark

    assert benchmark(["run", "--quick", "--agents", "reinforce_lstm", "--train-seeds", "0", "--eval-seeds", "100-109",
                      "--draws", "1", "--no-greedy", "--out", str(tmp_path / "bench"), "--reps", "50"]) == 0
    shipped = commands.ship(["--benchmark", str(tmp_path / "bench"), "--policies", str(tmp_path / "policies")])
    card = json.loads(shipped.with_suffix(".json").read_text())
    assert card["env"] == "ASG-Digits-v0" and card["source"]["evaluation_runs"] == 10
    assert pretrained_env_kwargs(folder=tmp_path / "policies") == card["env_kwargs"]
    assert "eval_size" not in card["env_kwargs"] and card["env_kwargs"]["backbone"] == "toy"
    loaded = load_pretrained(folder=tmp_path / "policies")
    trained = ReinforceLSTMAgent.load(tmp_path / "bench" / "agents" / "reinforce_lstm-seed0" / "agent")
    assert all(torch.equal(p, q) for p, q in zip(loaded.policy.parameters(), trained.policy.parameters(), strict=True))
    assert pretrained_env_kwargs(folder=tmp_path) == {}  # no card: the env's defaults
    with pytest.raises(BenchmarkError, match="no trained agent"):
        commands.ship(["--benchmark", str(tmp_path / "bench"), "--agent", "ppo", "--policies", str(tmp_path / "x")])


def test_ship_a_policy_to_be_deployed_greedily_with_its_confirmation(tmp_path: Path) -> None:
    """``--greedy`` writes the deployment into the card and scores the greedy rows of the shipped training seed;
    ``--scored-in`` adds the score of a benchmark that evaluated the same agent on other seeds, and no other."""
    import shutil

    from agents import pretrained_deterministic
    from asg_benchmark.cli import main as benchmark

    def run(out: str, train_seeds: list[str], eval_seeds: str) -> None:
        assert benchmark(["run", "--quick", "--agents", "reinforce_lstm", "--train-seeds", *train_seeds,
                          "--eval-seeds", eval_seeds, "--allow-few-seeds", "--draws", "1", "--out",
                          str(tmp_path / out), "--reps", "50"]) == 0

    run("bench", ["0", "1"], "100-102")
    (tmp_path / "confirm" / "agents").mkdir(parents=True)
    shutil.copytree(tmp_path / "bench" / "agents" / "reinforce_lstm-seed1", tmp_path / "confirm" / "agents" /
                    "reinforce_lstm-seed1")
    run("confirm", ["1"], "130-131")  # evaluates seed 1's copied agent on fresh seeds
    flags = ["--benchmark", str(tmp_path / "bench"), "--train-seed", "1", "--greedy", "--policies", str(tmp_path / "p")]
    shipped = commands.ship([*flags, "--scored-in", str(tmp_path / "confirm")])
    card = json.loads(shipped.with_suffix(".json").read_text())
    assert card["deployment"] == "greedy" and pretrained_deterministic(folder=tmp_path / "p")
    assert card["source"]["evaluation_runs"] == 3 and card["source"]["draws"] == 1
    assert card["source"]["eval_seeds"] == [100, 101, 102]  # seed 1's greedy runs only, not seed 0's
    [confirmation] = card["source"]["also_scored_in"]
    assert confirmation["eval_seeds"] == [130, 131] and confirmation["evaluation_runs"] == 2
    with pytest.raises(BenchmarkError, match="did not evaluate"):  # "confirm" never evaluated seed 0's agent
        commands.ship([*flags[:3], "0", *flags[4:], "--scored-in", str(tmp_path / "confirm")])
    assert card["source"]["chosen_by"] == {"rule": "the training seed given (--train-seed)"}

    # Chosen on training returns alone: the seed whose last 20 % of training episodes returned most.
    from asg_benchmark.checkpoints import TrainedAgent
    from asg_benchmark.train import how_it_trained

    late = {seed: how_it_trained(TrainedAgent.of(tmp_path / "bench", "reinforce_lstm", seed).episodes())["return_late"]
            for seed in (0, 1)}
    chosen = commands.ship([*flags[:2], "--select-by-training-return", "0-1", *flags[4:]])
    card = json.loads(chosen.with_suffix(".json").read_text())
    assert card["source"]["train_seed"] == max(late, key=lambda seed: (late[seed], -seed))
    assert card["source"]["chosen_by"]["training_return_late"] == {str(k): v for k, v in late.items()}
    with pytest.raises(BenchmarkError, match="among several"):
        commands.ship([*flags[:2], "--select-by-training-return", "1", *flags[4:]])
    with pytest.raises(BenchmarkError, match="no trained agent"):
        commands.ship([*flags[:2], "--select-by-training-return", "0-2", *flags[4:]])
