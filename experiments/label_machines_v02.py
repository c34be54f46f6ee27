"""Fill the ``machine`` column of ``results/benchmark_agents/v0.2`` (written before rows named their machine).

    python -m experiments.label_machines_v02 [--folder results/benchmark_agents/v0.2]

That folder's runs recorded their machine in ``provenance.json`` without the CPU model until
revision 84308d5, so provenance cannot tell its two machines apart. The sessions' notes can: the
row ``recurrent_ppo`` (and its ``/greedy`` row) was run in one uninterrupted invocation (91c52a9)
on an AMD EPYC machine; every other row on the earlier development machine. Evaluation times
agree (printed: per-row median ``eval_seconds``, ~35 s on the EPYC, 44-80 s on the other). This
script writes those two labels, once; rows that already name a machine are left as they are.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import tyro

from asg_benchmark.store import read_rows, write_rows

EPYC = "x86_64 AMD EPYC, 2 cores, Linux, Python 3.11.7, torch 2.14.1+cu130 (2 threads)"
EARLIER = "x86_64  2 cores, Linux, Python 3.11.7, torch 2.14.1+cu130 (2 threads)"  # verbatim, as its runs recorded it
# (no CPU model), so that other folders of that machine (e.g. the ablation's) pair with these rows
EPYC_ROWS = ("recurrent_ppo", "recurrent_ppo/greedy")


@dataclass
class Args:
    folder: str = "results/benchmark_agents/v0.2"
    """the benchmark folder whose rows get their machine"""


def main(args: Args) -> None:
    folder = Path(args.folder)
    rows = read_rows(folder)
    for row in rows:
        if not row["machine"]:
            row["machine"] = EPYC if row["agent"] in EPYC_ROWS else EARLIER
    for label in dict.fromkeys(r["agent"] for r in rows):
        times = [float(r["eval_seconds"]) for r in rows if r["agent"] == label]
        machine = {r["machine"] for r in rows if r["agent"] == label}
        print(f"{label:24s} median eval {statistics.median(times):5.1f} s  {' + '.join(sorted(machine))}")
    write_rows(folder / "results.csv", rows)


if __name__ == "__main__":
    main(tyro.cli(Args))
