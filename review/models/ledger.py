"""Double-entry ledger: accounts with cached balances, immutable entries and lines (DESIGN §7.6).

What the database itself refuses, beside UPDATE, DELETE and TRUNCATE (review/models/immutable.py):

* PostgreSQL, at COMMIT (a DEFERRABLE INITIALLY DEFERRED constraint trigger, so the lines may follow their
  entry within the transaction): an entry with fewer than 2 lines or lines that do not sum to zero.
* PostgreSQL, at once: a line added to an entry another, earlier transaction created, so a committed entry's
  lines are final. "Created by this transaction" is read from the entry row's `xmin`: a row this session can
  see whose inserting transaction is still in progress can only be its own (savepoints included).
* SQLite enforces neither: it has no deferred triggers and no notion of which transaction wrote a row, and a
  row trigger that refused a line once its entry's lines sum to zero would also refuse the third line of a
  four-line entry. There the zero-sum rule rests on `workflows.ledger.check_balanced` (every EntryPlan) and on
  the ledger service writing an entry and all its lines in one transaction; the embedded SQLite setup is one
  machine's demo, the ledger of record runs on PostgreSQL.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.immutable import create_with, make_append_only
from review.models.types import Fen, UTCDateTime, utcnow


class Account(db.Model):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("kind IN ('fund', 'hospital')", name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"), unique=True)
    balance_fen: Mapped[Fen] = mapped_column(default=0)


class JournalEntry(db.Model):
    __tablename__ = "journal_entries"
    __table_args__ = (UniqueConstraint("idempotency_key"), UniqueConstraint("reverses_entry_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120))
    request_hash: Mapped[str] = mapped_column(String(64))
    memo: Mapped[str] = mapped_column(String(255))
    period: Mapped[str] = mapped_column(String(10))
    """The code of the accounting period the entry is booked in (`period_id`)."""
    period_id: Mapped[int | None] = mapped_column(ForeignKey("accounting_periods.id"), index=True)
    corrects_period_id: Mapped[int | None] = mapped_column(ForeignKey("accounting_periods.id"))
    """A late adjustment: the closed period whose figures this entry corrects."""
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"), index=True)
    reverses_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list["JournalLine"]] = relationship(back_populates="entry", order_by="JournalLine.id")


class JournalLine(db.Model):
    __tablename__ = "journal_lines"
    __table_args__ = (CheckConstraint("amount_fen <> 0", name="nonzero"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount_fen: Mapped[Fen]

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
    account: Mapped[Account] = relationship()


make_append_only(JournalEntry.__table__)
make_append_only(JournalLine.__table__)


def ledger_guard_ddl() -> list[str]:
    """PostgreSQL triggers keeping entries balanced and committed entries closed (migration 0009 has a copy)."""
    return [
        "CREATE OR REPLACE FUNCTION refuse_unbalanced_entry() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE line_count bigint; total numeric; "
        "BEGIN "
        "SELECT count(*), coalesce(sum(amount_fen), 0) INTO line_count, total "
        "FROM journal_lines WHERE entry_id = NEW.id; "
        "IF line_count < 2 OR total <> 0 THEN "
        "RAISE EXCEPTION 'journal entry % has % lines summing to % fen: an entry needs at least 2 lines summing "
        "to 0', NEW.id, line_count, total USING ERRCODE = 'check_violation'; "
        "END IF; "
        "RETURN NULL; "
        "END $$",
        "CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_unbalanced_entry()",
        # xmin is a 32-bit xid; pg_xact_status wants the 64-bit one, so the epoch is taken from the current
        # transaction's id, the nearest candidate winning (this transaction's own xids are close to it)
        "CREATE OR REPLACE FUNCTION refuse_line_on_closed_entry() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE created bigint; current_id bigint := pg_current_xact_id()::text::bigint; offset_ bigint; "
        "BEGIN "
        "SELECT xmin::text::bigint INTO created FROM journal_entries WHERE id = NEW.entry_id; "
        "IF NOT FOUND THEN RETURN NEW; END IF; "  # the foreign key reports a missing entry
        "offset_ := created - (current_id % 4294967296); "
        "IF offset_ > 2147483647 THEN offset_ := offset_ - 4294967296; "
        "ELSIF offset_ < -2147483648 THEN offset_ := offset_ + 4294967296; END IF; "
        "IF current_id + offset_ < 3 "
        "OR pg_xact_status((current_id + offset_)::text::xid8) IS DISTINCT FROM 'in progress' THEN "
        "RAISE EXCEPTION 'journal entry % was posted by an earlier transaction: its lines are final', "
        "NEW.entry_id USING ERRCODE = 'check_violation'; "
        "END IF; "
        "RETURN NEW; "
        "END $$",
        "CREATE TRIGGER journal_lines_entry_open BEFORE INSERT ON journal_lines "
        "FOR EACH ROW EXECUTE FUNCTION refuse_line_on_closed_entry()",
    ]


create_with(JournalLine.__table__, "postgresql", ledger_guard_ddl())  # after both tables exist
