"""Every results row names its machine: episodes pair only within one machine, older files migrate, compare names
both machines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from asg_benchmark import migrate, read_rows, summarize, write_report
from asg_benchmark.cli import main
from asg_benchmark.store import FIELDS
from tests.results_fixtures import add_results
from tests.test_benchmark_report import _row

OLD_FIELDS = [k for k in FIELDS if k != "machine"]  # results.csv before the column existed
EPYC, XEON = "x86_64 AMD EPYC, 2 cores", "x86_64 Intel Xeon, 2 cores"


def _write_csv(folder: Path, rows: list[dict[str, object]], fields: list[str]) -> None:
    """A results.csv as asg-gym 0.2 wrote it."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _provenance(folder: Path, *machines: str) -> None:
    (folder / "provenance.json").write_text(json.dumps({"runs": [{"machine": m} for m in machines]}))


def _two_machines(folder: Path) -> None:
    """hand_tuned on EPYC for seeds 100-109; ppo on XEON everywhere; sac on EPYC for 100-104, XEON after."""
    rows = []
    for e in range(100, 110):
        rows.append({**_row("hand_tuned", "-", e, 0, 0.40, True), "machine": EPYC})
        rows.append({**_row("ppo", "0", e, 0, 0.50, False), "machine": XEON})
        rows.append({**_row("sac", "0", e, 0, 0.45, False), "machine": EPYC if e < 105 else XEON})
    add_results(folder, rows)


def test_cells_of_another_machine_are_not_paired(tmp_path: Path) -> None:
    _two_machines(tmp_path)
    by_label = {s.label: s for s in summarize(read_rows(tmp_path), reps=100).rows}
    ppo, sac = by_label["ppo"], by_label["sac"]
    assert ppo.paired is None and ppo.other_machine == 10 and ppo.machines == (XEON,)
    assert ppo.improvement == 1.0  # P(improvement) compares score distributions: no pairing, still reported
    assert sac.paired is not None and sac.other_machine == 5
    assert sorted(e for _, e in sac.paired.differences) == [str(e) for e in range(100, 105)]
    assert sac.paired.mean == pytest.approx(0.05)

    text = write_report(tmp_path, reps=50).read_text()
    assert "| ppo | 10 × 1 | 0.500 [0.500, 0.500] | 1.000 [1.000, 1.000] | not paired: another machine | — |" in text
    assert "5/0/0 (5 cells of another machine left out)" in text
    assert f"  * {EPYC}: hand_tuned, sac" in text and f"  * {XEON}: ppo, sac" in text


def test_one_machine_pairs_everything_and_unknown_pairs_with_any(tmp_path: Path) -> None:
    rows = [{**_row(a, "-" if a == "hand_tuned" else "0", e, 0, 0.4, a == "hand_tuned"), "machine": m}
            for e in range(100, 110) for a, m in (("hand_tuned", EPYC), ("ppo", ""))]
    add_results(tmp_path, rows)
    ppo = {s.label: s for s in summarize(read_rows(tmp_path), reps=100).rows}["ppo"]
    assert ppo.paired is not None and len(ppo.paired.differences) == 10 and ppo.other_machine == 0
    assert "* machines (" in write_report(tmp_path, reps=50).read_text()  # EPYC and "not recorded" are listed


@pytest.mark.parametrize(("recorded", "expected"), [((EPYC, EPYC), EPYC), ((EPYC, XEON), ""), ((), "")])
def test_a_file_without_the_column_migrates(tmp_path: Path, recorded: tuple[str, ...], expected: str) -> None:
    """An older results.csv migrates with the machine its provenance records (when every run agrees), and is
    exported again with the column, its rows kept."""
    rows = [_row("hand_tuned", "-", e, 0, 0.4 + e / 1000, True) for e in range(100, 103)]
    _write_csv(tmp_path, rows, OLD_FIELDS)
    _provenance(tmp_path, *recorded)
    migrate(tmp_path)
    after = read_rows(tmp_path)
    assert [r["machine"] for r in after] == [expected] * 3
    assert [r["target_score"] for r in after] == [str(0.4 + e / 1000) for e in range(100, 103)]
    with (tmp_path / "results.csv").open(newline="") as f:
        assert next(csv.reader(f)) == FIELDS
    assert not list(tmp_path.glob(".*.tmp"))


def test_compare_names_both_machines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _two_machines(tmp_path / "a")
    rows = [{**_row("hand_tuned", "-", e, 0, 0.42, True), "machine": XEON} for e in range(100, 110)]
    add_results(tmp_path / "b", rows)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--reps", "50"]) == 0
    text = capsys.readouterr().out
    assert f"* machines: M1 = {EPYC}; M2 = {XEON}\n" in text
    assert "| hand_tuned | M1 → M2 | 10 | 0.400 | 0.420 | +0.020" in text  # across machines: the measurement
