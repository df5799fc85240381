"""Double-entry ledger: accounts with cached balances, immutable entries and lines (DESIGN §7.6)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.immutable import make_append_only
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
