"""The ASG agent benchmark as a product: any agent, one protocol, ``rliable`` statistics.

    from asg_benchmark import BenchmarkSpec, register_agent, run_benchmark

    register_agent("mine", my_factory)              # or name it "mypkg.agent:make_agent"
    spec = BenchmarkSpec(env="ASG-Digits-v0", agents=("hand_tuned", "ppo", "mine"),
                         train_seeds=(0, 1), eval_seeds=tuple(range(100, 110)), budget=4000)
    run_benchmark(spec, "results/my_benchmark")     # resumable: results.db, report.md and its plots

The protocol, the plug-in interface and the results store are described in ``docs/benchmark.md``; the
command line is ``asg-benchmark run | report | compare | migrate | train | ship | demo``.
"""

from asg_benchmark.checkpoints import TrainingSummary, training_summaries
from asg_benchmark.compare import RowComparison, compare_rows, comparison_markdown, differing_settings
from asg_benchmark.demo import Demo
from asg_benchmark.episode import EpisodeResult, run_episode
from asg_benchmark.errors import AgentError, BenchmarkError, ProtocolError, SeedError
from asg_benchmark.flags import json_object
from asg_benchmark.migration import migrate
from asg_benchmark.pareto import pareto_front
from asg_benchmark.protocol import BenchmarkSpec, quick
from asg_benchmark.provenance import append_provenance, git_revision, machine
from asg_benchmark.registry import (
    GREEDY_SUFFIX,
    AgentSpec,
    declare_agent,
    register_agent,
    resolve_agent,
    split_label,
    unregister_agent,
)
from asg_benchmark.report import plot_training, statistics_cells, write_report
from asg_benchmark.resumable_csv import ResumableCSV
from asg_benchmark.runner import Job, JobRunner, Record, RunSummary, plan_jobs, run_benchmark
from asg_benchmark.scale_out import RayFlags, ray_session, run_tasks
from asg_benchmark.seeds import MIN_EVAL_SEEDS, check_seeds, parse_seeds, reseed_agent
from asg_benchmark.ship import Ship
from asg_benchmark.stats import RowStats, Summary, summarize
from asg_benchmark.store import ResultsStore, StoreError, open_store, read_episodes, read_rows
from asg_benchmark.suite import write_suite_report
from asg_benchmark.train import Train, how_it_trained, tensorboard_writer
from asg_benchmark.train import main as train_controller

__all__ = [
    "GREEDY_SUFFIX",
    "MIN_EVAL_SEEDS",
    "AgentError",
    "AgentSpec",
    "BenchmarkError",
    "BenchmarkSpec",
    "Demo",
    "EpisodeResult",
    "Job",
    "JobRunner",
    "ProtocolError",
    "RayFlags",
    "Record",
    "ResultsStore",
    "ResumableCSV",
    "RowComparison",
    "RowStats",
    "RunSummary",
    "SeedError",
    "Ship",
    "StoreError",
    "Summary",
    "Train",
    "TrainingSummary",
    "append_provenance",
    "check_seeds",
    "compare_rows",
    "comparison_markdown",
    "declare_agent",
    "differing_settings",
    "git_revision",
    "how_it_trained",
    "json_object",
    "machine",
    "migrate",
    "open_store",
    "pareto_front",
    "parse_seeds",
    "plan_jobs",
    "plot_training",
    "quick",
    "ray_session",
    "read_episodes",
    "read_rows",
    "register_agent",
    "reseed_agent",
    "resolve_agent",
    "run_benchmark",
    "run_episode",
    "run_tasks",
    "split_label",
    "statistics_cells",
    "summarize",
    "tensorboard_writer",
    "train_controller",
    "training_summaries",
    "unregister_agent",
    "write_report",
    "write_suite_report",
]
