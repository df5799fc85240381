"""Accounting periods of the ledger (DESIGN §10.3): `open → closing → closed`, one per region and quarter.

The lifecycle is the core's (workflows/states.py PERIOD_TRANSITIONS). A period is named after the cycle whose money it books (a quarter's code, e.g. 2026Q3) and opened when its first
entry is posted or its cycle is created. The database refuses an entry in a period that is not open (trigger on
`journal_entries`, both databases); a late adjustment to a closed period is booked in the region's current open
period with `corrects_period_id` naming the one it corrects. Closing stores each account's movement and closing
balance and a hash over the period's entries chained to the previous closed period's.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from review.extensions import db
from review.models.immutable import create_with, make_append_only
from review.models.ledger import JournalEntry
from review.models.types import Fen, UTCDateTime, utcnow
from workflows.states import PeriodState

PERIOD_STATES = tuple(state.value for state in PeriodState)


class AccountingPeriod(db.Model):
    __tablename__ = "accounting_periods"
    __table_args__ = (
        UniqueConstraint("region_id", "code"),
        CheckConstraint(f"state IN {PERIOD_STATES!r}", name="state"),
        CheckConstraint("(state = 'closed') = (closed_at IS NOT NULL AND entries_hash IS NOT NULL)", name="closed"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    code: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default="open")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entry_count: Mapped[int | None]
    entries_hash: Mapped[str | None] = mapped_column(String(64))
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    """The hash of the region's closed period before this one (64 zeros for the first)."""


class PeriodBalance(db.Model):
    """Each account's movement in a closed period and its balance at the close; written once, at the close."""

    __tablename__ = "period_balances"
    __table_args__ = (UniqueConstraint("period_id", "account_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("accounting_periods.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    movement_fen: Mapped[Fen]
    closing_fen: Mapped[Fen]


make_append_only(PeriodBalance.__table__)


def period_guard_ddl(dialect: str) -> list[str]:
    """The database's refusal of an entry booked in a period that is not open (migration 0023 has a copy)."""
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION refuse_entry_outside_open_period() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "DECLARE period_state text; "
            "BEGIN "
            "SELECT state INTO period_state FROM accounting_periods WHERE id = NEW.period_id; "
            "IF period_state IS DISTINCT FROM 'open' THEN "
            "RAISE EXCEPTION 'journal entries are booked in an open accounting period; period % is %', "
            "NEW.period_id, coalesce(period_state, 'missing') USING ERRCODE = 'check_violation'; "
            "END IF; "
            "RETURN NEW; "
            "END $$",
            "CREATE TRIGGER journal_entries_open_period BEFORE INSERT ON journal_entries "
            "FOR EACH ROW EXECUTE FUNCTION refuse_entry_outside_open_period()",
        ]
    return [
        "CREATE TRIGGER journal_entries_open_period BEFORE INSERT ON journal_entries "
        "WHEN (SELECT state FROM accounting_periods WHERE id = NEW.period_id) IS NOT 'open' "
        "BEGIN SELECT RAISE(ABORT, 'journal entries are booked in an open accounting period'); END",
    ]


for _dialect in ("postgresql", "sqlite"):  # journal_entries is created after this table (its foreign key)
    create_with(JournalEntry.__table__, _dialect, period_guard_ddl(_dialect))
