"""``asg-benchmark ship``: a REINFORCE-LSTM policy trained in a benchmark run becomes the pretrained policy of its env.

    asg-benchmark ship --benchmark results/benchmark_agents/v0.2 --agent reinforce_lstm \\
        --train-seed 0 [--greedy] [--scored-in results/benchmark_agents/v0.2_confirm]

Copies ``<benchmark>/agents/<agent>-seed<k>/agent`` (checked to load) to
``agents/policies/<name>.pt`` and writes the policy's card beside it (``<name>.json``): the env
and the ``gym.make`` keywords it was trained with (``agents.pretrained_env_kwargs`` reads them,
and ``make demo`` deploys the policy with them), the agent's settings, its training summary and
where it came from (benchmark folder, row, seed, its IQM target score there with the CI, and in each
``--scored-in`` benchmark that evaluated the same trained agent on other seeds). ``--greedy`` ships it to
be deployed greedily (the card's ``"deployment"``; its scores are then those of the ``<row>/greedy`` rows).
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
from asg_benchmark.stats import summarize
from asg_benchmark.store import open_store, read_rows
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


def main(args: Ship) -> Path:
    """Copy the trained agent into the policies folder and write its card; returns the policy's path."""
    benchmark = Path(args.benchmark)
    trained = TrainedAgent.of(benchmark, args.agent, args.train_seed)
    source = trained.folder / "agent"
    if not source.is_file():
        raise BenchmarkError(f"no trained agent at {source}: finish `asg-benchmark run --out {benchmark}` for row "
                         f"{args.agent!r}, training seed {args.train_seed}, first")
    agent = ReinforceLSTMAgent.load(source)  # refuses anything but a reinforce_lstm checkpoint
    protocol = open_store(benchmark).protocol() or {}
    scored_row = args.agent + GREEDY_SUFFIX if args.greedy else args.agent
    card: dict[str, Any] = {
        "env": protocol["env"],
        "env_kwargs": protocol["env_kwargs"],  # write_card drops the evaluation keywords
        "deployment": "greedy" if args.greedy else "sampled",
        "agent_config": agent.config,
        "training": json.loads((trained.folder / TRAINING).read_text()),
        "source": {"benchmark": str(benchmark), "row": args.agent, "train_seed": args.train_seed,
                   **_score(benchmark, scored_row, args.train_seed)},
    }
    for other in map(Path, args.scored_in):  # the same trained agent, evaluated on other seeds
        copy = TrainedAgent.of(other, args.agent, args.train_seed).folder / "agent"
        if not copy.is_file() or copy.read_bytes() != source.read_bytes():
            raise BenchmarkError(f"{other} did not evaluate {source}: its {copy} is missing or another agent")
        card["source"].setdefault("also_scored_in", []).append(
            {"benchmark": str(other), **_score(other, scored_row, args.train_seed)})
    folder = Path(args.policies)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{args.name}.pt"
    write_atomically(target, lambda tmp: shutil.copyfile(source, tmp))
    write_card(target, card)
    print(f"shipped {source} as {target} (card {target.with_suffix('.json').name})")
    return target


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

