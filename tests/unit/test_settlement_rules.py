"""The statement's arithmetic (workflows/settlement.py): the kind of a line and the figures from its lines."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.settlement import ADJUSTMENT_KINDS, due_to_hospital, line_kind, statement_figures

amounts = st.integers(min_value=-10**12, max_value=10**12).filter(lambda fen: fen != 0)
entries = st.lists(st.tuples(st.booleans(), st.booleans(), amounts), max_size=40)


@given(st.integers(min_value=-10**12, max_value=10**12), entries)
def test_the_closing_figure_is_the_opening_plus_every_line_and_each_total_keeps_its_sign(
        opening: int, raw: list[tuple[bool, bool, int]]) -> None:
    lines = [(line_kind(reverses_an_entry=reverses, correction=correction, due_fen=due), due)
             for reverses, correction, due in raw]
    figures = statement_figures(opening, lines)
    assert figures.closing_fen == opening + sum(due for _, _, due in raw)
    assert figures.supplements_fen >= 0 >= figures.recoveries_fen
    assert figures.adjustments_fen == sum(due for kind, due in lines if kind in ADJUSTMENT_KINDS)
    assert figures.supplements_fen == sum(due for r, c, due in raw if not r and not c and due > 0)


def test_a_reversal_is_a_reversal_whatever_it_undoes_and_a_correction_posting_is_a_correction() -> None:
    assert line_kind(reverses_an_entry=True, correction=True, due_fen=500) == "reversal"
    assert line_kind(reverses_an_entry=True, correction=False, due_fen=-500) == "reversal"
    assert line_kind(reverses_an_entry=False, correction=True, due_fen=-500) == "correction"
    assert line_kind(reverses_an_entry=False, correction=False, due_fen=500) == "supplement"
    assert line_kind(reverses_an_entry=False, correction=False, due_fen=-1) == "recovery"
    with pytest.raises(ValueError):
        line_kind(reverses_an_entry=False, correction=False, due_fen=0)
    with pytest.raises(ValueError):
        statement_figures(0, [("memo", 5)])


def test_the_statement_reads_the_hospital_account_from_the_hospitals_side() -> None:
    assert due_to_hospital(-12_500) == 12_500  # the fund owes the hospital: a supplement's hospital line
    assert due_to_hospital(2_500) == -2_500
