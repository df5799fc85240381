"""What a hospital's quarterly statement says, from the period's entries on its account (DESIGN §10.3).

Pure arithmetic, so the rule is written once and checked by property tests: the kind of each line, and the
statement's figures from its opening balance and lines. Every amount here is *due to the hospital* (positive when
the fund owes the hospital), which is minus the hospital account's lines in the ledger's debit-positive convention
(workflows/ledger.py): a hospital's finance office reads "we are owed 1,200 yuan", not "our account is −1,200".
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from workflows.money import Fen

LINE_KINDS = ("supplement", "recovery", "reversal", "correction")
ADJUSTMENT_KINDS = frozenset({"reversal", "correction"})
"""Kinds a statement totals as "reversals and corrections": they undo or put right what an earlier version said."""


def due_to_hospital(account_line_fen: Fen) -> Fen:
    """A hospital account's line as the statement shows it."""
    return -account_line_fen


def line_kind(*, reverses_an_entry: bool, correction: bool, due_fen: Fen) -> str:
    """A reversal undoes an earlier version's entry; an office correction's own posting is a correction; any other
    decision posting is a supplement or a recovery by its sign."""
    if due_fen == 0:
        raise ValueError("A statement line moves money; a zero amount is no line.")
    if reverses_an_entry:
        return "reversal"
    if correction:
        return "correction"
    return "supplement" if due_fen > 0 else "recovery"


@dataclass(frozen=True)
class StatementFigures:
    opening_fen: Fen
    supplements_fen: Fen
    recoveries_fen: Fen
    adjustments_fen: Fen

    @property
    def movement_fen(self) -> Fen:
        return self.supplements_fen + self.recoveries_fen + self.adjustments_fen

    @property
    def closing_fen(self) -> Fen:
        return self.opening_fen + self.movement_fen


def statement_figures(opening_fen: Fen, lines: Iterable[tuple[str, Fen]]) -> StatementFigures:
    """The statement's totals from its opening balance and its (kind, due amount) lines."""
    supplements = recoveries = adjustments = 0
    for kind, amount in lines:
        if kind in ADJUSTMENT_KINDS:
            adjustments += amount
        elif kind == "supplement":
            supplements += amount
        elif kind == "recovery":
            recoveries += amount
        else:
            raise ValueError(f"Unknown statement line kind {kind!r}.")
    return StatementFigures(opening_fen, supplements, recoveries, adjustments)
