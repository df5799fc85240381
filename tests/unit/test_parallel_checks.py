"""Checking rows in several processes gives exactly the verdicts, in the same order, as one process."""
from __future__ import annotations

from review.intake.parallel import checked_rows
from workflows.grouping import MsDrgGrouper

GOOD = {"case_no": "ZY1", "age": "67", "sex": "M", "admission_date": "2026-08-01", "discharge_date": "2026-08-20",
        "principal_dx": "I21.4", "secondary_dx": "I50.21,N17.9", "procedures": "02703DZ", "total_cost": "400000"}


def _rows() -> list[tuple[int, dict[str, str]]]:
    rows = []
    for n in range(2, 60):
        values = {**GOOD, "case_no": f"ZY{n}"}
        if n % 7 == 0:
            values["principal_dx"] = "Q9999"
        if n % 11 == 0:
            values["age"] = "-1"
        rows.append((n, values))
    return rows


def test_parallel_checks_match_sequential() -> None:
    grouper = MsDrgGrouper()
    sequential = list(checked_rows(_rows(), grouper, workers=1))
    parallel = list(checked_rows(_rows(), grouper, workers=2, chunk_size=7))
    assert parallel == sequential
    assert [c.row for c in parallel] == list(range(2, 60))
    assert {c.row for c in parallel if c.errors} == {n for n in range(2, 60) if n % 7 == 0 or n % 11 == 0}
    assert {c.drg for c in parallel if not c.errors} == {"321"}
