"""Quarterly settlement statements (DESIGN §10.3, issue 14 §2): what a closed period moved on one hospital's account.

A statement is drawn from a closed period only, so its figures can never change under it: the period's entries are
fixed by the close (and by the database). Each statement keeps its figures and its lines (one per journal entry of
the period on the hospital's account, append-only); the CHECKs below hold the arithmetic, the service the rest.

Sign: every amount is *due to the hospital* (positive when the fund owes the hospital), which is minus the hospital
account's lines (review/models/ledger.py's convention), because that is how a hospital's finance office reads it.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.immutable import make_append_only
from review.models.organisation import Hospital
from review.models.periods import AccountingPeriod
from review.models.types import Fen, UTCDateTime, utcnow
from workflows.settlement import LINE_KINDS
from workflows.states import SettlementState

SETTLEMENT_STATES = tuple(state.value for state in SettlementState)
RUN_STATES = ("queued", "running", "done", "failed")


class SettlementRun(db.Model):
    """One request to draw a period's drafts: the job's progress, for the page that polls it."""

    __tablename__ = "settlement_runs"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATES!r}", name="status"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        CheckConstraint("done BETWEEN 0 AND total", name="counts"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("accounting_periods.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    """Why the run failed, as a stored problem code (review/services/jobs.stored)."""
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    period: Mapped[AccountingPeriod] = relationship()

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


class Settlement(db.Model):
    __tablename__ = "settlements"
    __table_args__ = (
        UniqueConstraint("period_id", "hospital_id"),
        CheckConstraint(f"state IN {SETTLEMENT_STATES!r}", name="state"),
        CheckConstraint("closing_fen = opening_fen + supplements_fen + recoveries_fen + adjustments_fen",
                        name="closing"),
        CheckConstraint("supplements_fen >= 0 AND recoveries_fen <= 0", name="signs"),
        # issued whole (文号, verification code, when and by whom) or not at all
        CheckConstraint("(state = 'draft') = (issued_at IS NULL) AND (issued_at IS NULL) = (statement_number IS NULL)"
                        " AND (issued_at IS NULL) = (statement_ref_zh IS NULL) AND (issued_at IS NULL) = "
                        "(verification_code IS NULL)", name="issued_whole"),
        CheckConstraint("(state IN ('acknowledged', 'disputed')) = (answered_at IS NOT NULL)", name="answered"),
        CheckConstraint("(state = 'disputed') = (dispute_reason IS NOT NULL)", name="dispute_reason"),
        UniqueConstraint("statement_region_id", "statement_year", "statement_number"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("accounting_periods.id"), index=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    state: Mapped[str] = mapped_column(String(12), default="draft")
    opening_fen: Mapped[Fen]
    """Due to the hospital at the start: minus its account's closing balance in the previous closed period."""
    supplements_fen: Mapped[Fen]
    recoveries_fen: Mapped[Fen]
    adjustments_fen: Mapped[Fen]
    """Reversals of earlier versions and corrections (late ones included), together."""
    closing_fen: Mapped[Fen]
    line_count: Mapped[int]
    run_id: Mapped[int | None] = mapped_column(ForeignKey("settlement_runs.id"))
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    statement_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    statement_year: Mapped[int | None]
    statement_number: Mapped[int | None]
    statement_ref_zh: Mapped[str | None] = mapped_column(String(80))
    statement_ref_en: Mapped[str | None] = mapped_column(String(80))
    """The 文号 as printed, fixed at issue (series `statement` of the region's counter)."""
    verification_code: Mapped[str | None] = mapped_column(String(32), unique=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    """The official copy (PDF, in LETTER_LOCALE), rendered once by a job after the issue and kept, so a later
    letterhead edit never changes what the issued statement says."""
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    disputed_item_ids: Mapped[list] = mapped_column(JSON, default=list)
    """The items the hospital names in its dispute (its own, on the statement): the office's way to the appeal or
    correction that puts each right."""

    period: Mapped[AccountingPeriod] = relationship()
    hospital: Mapped[Hospital] = relationship()
    lines: Mapped[list["SettlementLine"]] = relationship(order_by="SettlementLine.id", viewonly=True)


class SettlementLine(db.Model):
    """One journal entry of the period on the hospital's account, as the statement lists it; written once."""

    __tablename__ = "settlement_lines"
    __table_args__ = (
        UniqueConstraint("settlement_id", "entry_id"),
        CheckConstraint(f"kind IN {LINE_KINDS!r}", name="kind"),
        CheckConstraint("amount_fen <> 0", name="nonzero"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("review_items.id"))
    kind: Mapped[str] = mapped_column(String(12))
    amount_fen: Mapped[Fen]
    corrects_period_id: Mapped[int | None] = mapped_column(ForeignKey("accounting_periods.id"))


make_append_only(SettlementLine.__table__)
