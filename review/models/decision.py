"""The panel's outcome for one item, one row per version (appeals add versions)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.review_item import Document, ReviewItem
from review.models.types import Fen, UTCDateTime, utcnow
from workflows.states import DecisionStatus


DECISION_STATES = tuple(status.value for status in DecisionStatus)
"""The core's (workflows/states.py DECISION_TRANSITIONS). `awaiting_approval`: a correction waiting for a second member of the office; `superseded`: an issued version a
later issued version replaced (it keeps its letter, 文号 and verification code); `discarded`: a correction that was
rejected by another member of the office or withdrawn by its proposer (final; it posted nothing, and its row stays
for the audit without counting as a version of the item, so its number is given to the next version)."""
BASES = ("panel", "appeal", "correction")
"""What made the version: the first panel, the appeal panel, or the office correcting a clerical error."""
ISSUED_OR_SUPERSEDED = ("issued", "superseded")


class Decision(db.Model):
    __tablename__ = "decisions"
    __table_args__ = (
        # a discarded correction keeps the number it was proposed under, which the next version takes again
        Index("uq_decisions_item_version", "item_id", "version", unique=True,
              sqlite_where=text("status <> 'discarded'"), postgresql_where=text("status <> 'discarded'")),
        CheckConstraint(f"status IN {DECISION_STATES!r}", name="status"),
        CheckConstraint(f"basis IN {BASES!r}", name="basis"),
        # a correction is proposed by one member of the office with a reason and approved by another
        CheckConstraint("(basis = 'correction') = (correction_reason IS NOT NULL AND proposed_by_id IS NOT NULL)",
                        name="correction_reason"),
        CheckConstraint("status <> 'awaiting_approval' OR basis = 'correction'", name="awaiting_approval"),
        # only a correction is discarded, and always with who, when and why
        CheckConstraint("(status = 'discarded') = (discarded_at IS NOT NULL) AND (discarded_at IS NULL) = "
                        "(discarded_by_id IS NULL) AND (discarded_at IS NULL) = (discarded_reason IS NULL) AND "
                        "(status <> 'discarded' OR basis = 'correction')", name="discarded"),
        CheckConstraint("outcome IN ('approved', 'partially_approved', 'rejected', 'confirmed', 'regrouped', "
                        "'admission_unjustified')", name="outcome"),
        CheckConstraint("(drg_after IS NULL) = (drg_payment_after_fen IS NULL)", name="regrouped_payment"),
        CheckConstraint("(status IN ('issued', 'superseded')) = (issued_at IS NOT NULL)", name="issued_at"),
        # a 文号 is given whole at issue (region, year, number and its wording) or not at all
        CheckConstraint("(letter_number IS NULL) = (letter_year IS NULL) AND (letter_number IS NULL) = "
                        "(letter_region_id IS NULL) AND (letter_number IS NULL) = (letter_ref_zh IS NULL) AND "
                        "(letter_number IS NULL) = (letter_ref_en IS NULL)", name="letter_ref_whole"),
        CheckConstraint("letter_number IS NULL OR (status IN ('issued', 'superseded') AND letter_number > 0)",
                        name="letter_number"),
        UniqueConstraint("letter_region_id", "letter_year", "letter_number"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    basis: Mapped[str] = mapped_column(String(12), default="panel", server_default="panel")
    correction_reason: Mapped[str | None] = mapped_column(Text)
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """The office member who proposed a correction; the approver (issued_by_id) must be someone else."""
    discarded_reason: Mapped[str | None] = mapped_column(Text)
    discarded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """Who ended a pending correction: its proposer withdrew it, anyone else in the office rejected it."""
    discarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(24))
    approvals: Mapped[int]
    panel_size: Mapped[int]
    deduction_fen: Mapped[Fen]
    drg: Mapped[str] = mapped_column(String(10))
    drg_payment_fen: Mapped[Fen]
    total_cost_fen: Mapped[Fen]
    amount_fen: Mapped[Fen]
    """Positive: a supplement to the hospital; negative: a recovery."""
    drg_after: Mapped[str | None] = mapped_column(String(10))
    drg_weight_after: Mapped[str | None] = mapped_column(String(12))
    drg_payment_after_fen: Mapped[Fen | None]
    """Record review: the DRG and payment after the panel's coding corrections (equal to before when confirmed)."""
    admission_justified: Mapped[bool | None]
    coding: Mapped[dict | None] = mapped_column(JSON)
    """Record review: the adopted principal diagnosis and procedure and how each was decided."""
    vote_snapshot: Mapped[dict] = mapped_column(JSON)
    verification_code: Mapped[str] = mapped_column(String(32), unique=True)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appeal_deadline: Mapped[date | None]
    letter_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    letter_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    letter_year: Mapped[int | None]
    letter_number: Mapped[int | None]
    """The 文号's sequence number: per region and calendar year of issue, from 1 without gaps (LetterCounter)."""
    letter_ref_zh: Mapped[str | None] = mapped_column(String(80))
    letter_ref_en: Mapped[str | None] = mapped_column(String(80))
    """The 文号 as printed (e.g. 测医保审〔2026〕12号), fixed at issue so a later letterhead edit cannot change
    what an issued letter and its copies say."""

    item: Mapped[ReviewItem] = relationship(foreign_keys=[item_id])
    letter: Mapped[Document | None] = relationship()


def next_version(item_id: int) -> int:
    """The number the item's next version takes (a panel's, an appeal's or a correction's): a discarded correction is
    no version, so its number is given again and the versions a hospital reads run 1, 2, 3 without a gap."""
    return 1 + (db.session.scalar(db.select(db.func.max(Decision.version)).where(
        Decision.item_id == item_id, Decision.status != "discarded")) or 0)
