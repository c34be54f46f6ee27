"""``asg-benchmark ship``: a REINFORCE-LSTM policy trained in a benchmark run becomes the pretrained policy of its env.

    asg-benchmark ship --benchmark results/benchmark_agents/v0.2 --agent reinforce_lstm \\
        --train-seed 0 [--greedy] [--scored-in results/benchmark_agents/v0.2_confirm]
    asg-benchmark ship --benchmark results/recipe/digits --agent recipe --select-by-training-return 0-4 --greedy

Copies ``<benchmark>/agents/<agent>-seed<k>/agent`` (checked to load) to
``agents/policies/<name>.pt`` and writes the policy's card beside it (``<name>.json``): the env
and the ``gym.make`` keywords it was trained with (``agents.pretrained_env_kwargs`` reads them,
and ``make demo`` deploys the policy with them), the agent's settings, its training summary and
where it came from (benchmark folder, row, seed, its IQM target score there with the CI, and in each
``--scored-in`` benchmark that evaluated the same trained agent on other seeds). ``--greedy`` ships it to
be deployed greedily (the card's ``"deployment"``; its scores are then those of the ``<row>/greedy`` rows).

Which training seed is shipped is the card's ``source.chosen_by``: the seed given, or with
``--select-by-training-return`` the one of several with the highest mean return over the last 20 % of
its training episodes. That rule sees only training, never a target score, so it can be fixed before
the evaluation and applied after it without choosing on the evaluation seeds.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents import POLICIES, ReinforceLSTMAgent
from agents.cards import write_card
from asg_benchmark.checkpoints import TRAINING, TrainedAgent
from asg_benchmark.errors import BenchmarkError
from asg_benchmark.registry import GREEDY_SUFFIX
from asg_benchmark.seeds import parse_seeds
from asg_benchmark.stats import summarize
from asg_benchmark.store import open_store, read_rows
from asg_benchmark.train import how_it_trained
from asg_gym.checkpoint import write_atomically


@dataclass
class Ship:
    """Ship a benchmark's trained REINFORCE-LSTM policy as an env's pretrained policy (with its card)."""

    benchmark: str
    """the benchmark folder (asg-benchmark run --out)"""
    agent: str = "reinforce_lstm"
    """the row label of a reinforce_lstm agent in it"""
    train_seed: int = 0
    """which trained agent of that row"""
    name: str = "reinforce_lstm_digits"
    """file name in the policies folder (agents.load_pretrained reads reinforce_lstm_digits for ASG-Digits-v0)"""
    policies: str = str(POLICIES)
    """the policies folder"""
    greedy: bool = False
    """deploy it greedily (predict(deterministic=True)): the card says so, and its scores are its greedy rows'"""
    scored_in: list[str] = field(default_factory=list)
    """other benchmark folders that evaluated the same trained agent (e.g. a confirmatory run on fresh seeds)"""
    select_by_training_return: list[str] | None = None
    """instead of --train-seed, choose among these training seeds (ranges such as 0-4) the one with the highest
    mean return over its last 20 % of training episodes; the card records the rule and every seed's value"""


def main(args: Ship) -> Path:
    """Copy the trained agent into the policies folder and write its card; returns the policy's path."""
    benchmark = Path(args.benchmark)
    train_seed, chosen_by = _choose_seed(benchmark, args)
    trained = TrainedAgent.of(benchmark, args.agent, train_seed)
    source = _trained_file(benchmark, args.agent, train_seed)
    agent = ReinforceLSTMAgent.load(source)  # refuses anything but a reinforce_lstm checkpoint
    protocol = open_store(benchmark).protocol() or {}
    scored_row = args.agent + GREEDY_SUFFIX if args.greedy else args.agent
    card: dict[str, Any] = {
        "env": protocol["env"],
        "env_kwargs": protocol["env_kwargs"],  # write_card drops the evaluation keywords
        "deployment": "greedy" if args.greedy else "sampled",
        "agent_config": agent.config,
        "training": json.loads((trained.folder / TRAINING).read_text()),
        "source": {"benchmark": str(benchmark), "row": args.agent, "train_seed": train_seed,
                   "chosen_by": chosen_by, **_score(benchmark, scored_row, train_seed)},
    }
    for other in map(Path, args.scored_in):  # the same trained agent, evaluated on other seeds
        copy = TrainedAgent.of(other, args.agent, train_seed).folder / "agent"
        if not copy.is_file() or copy.read_bytes() != source.read_bytes():
            raise BenchmarkError(f"{other} did not evaluate {source}: its {copy} is missing or another agent")
        card["source"].setdefault("also_scored_in", []).append(
            {"benchmark": str(other), **_score(other, scored_row, train_seed)})
    folder = Path(args.policies)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{args.name}.pt"
    write_atomically(target, lambda tmp: shutil.copyfile(source, tmp))
    write_card(target, card)
    print(f"shipped {source} as {target} (card {target.with_suffix('.json').name})")
    return target


def _trained_file(benchmark: Path, agent: str, train_seed: int) -> Path:
    source = TrainedAgent.of(benchmark, agent, train_seed).folder / "agent"
    if not source.is_file():
        raise BenchmarkError(f"no trained agent at {source}: finish `asg-benchmark run --out {benchmark}` for row "
                             f"{agent!r}, training seed {train_seed}, first")
    return source


def _choose_seed(benchmark: Path, args: Ship) -> tuple[int, dict[str, Any]]:
    """The training seed to ship and how it was chosen (the card's ``source.chosen_by``)."""
    if args.select_by_training_return is None:
        return args.train_seed, {"rule": "the training seed given (--train-seed)"}
    returns = {}
    for seed in parse_seeds(args.select_by_training_return):
        _trained_file(benchmark, args.agent, seed)  # every candidate finished, or no choice is made
        late = how_it_trained(TrainedAgent.of(benchmark, args.agent, seed).episodes())["return_late"]
        if late is None:
            raise BenchmarkError(f"training seed {seed} of row {args.agent!r} in {benchmark} kept no training "
                                 "returns (episodes.csv), so it cannot be chosen by them")
        returns[seed] = late
    if len(returns) < 2:
        raise BenchmarkError(f"--select-by-training-return chooses among several training seeds, got {sorted(returns)}")
    best = max(returns, key=lambda seed: (returns[seed], -seed))  # a tie goes to the lowest seed
    return best, {"rule": "highest mean training return over the last 20 % of training episodes",
                  "training_return_late": {str(seed): value for seed, value in returns.items()}}


def _score(benchmark: Path, label: str, train_seed: int) -> dict[str, Any]:
    """The IQM target score with its 95 % CI of row ``label``'s runs of ``train_seed`` in the benchmark
    (when they have been evaluated), and the evaluation seeds they span."""
    rows = [r for r in read_rows(benchmark) if r["agent"] != label or r["train_seed"] == str(train_seed)]
    ours = [r for r in rows if r["agent"] == label]
    if not ours:
        return {}
    stats = {s.label: s for s in summarize(rows, reps=2000).rows}[label]
    return {"iqm_target_score": stats.iqm, "iqm_ci": list(stats.iqm_ci), "evaluation_runs": stats.runs,
            "draws": stats.draws, "eval_seeds": sorted({int(r["eval_seed"]) for r in ours})}

