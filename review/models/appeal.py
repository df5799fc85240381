"""A hospital's appeal (复核申请) against one issued decision version, and where it stands."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.decision import Decision
from review.models.review_item import ReviewItem
from review.models.types import UTCDateTime, utcnow
from workflows.states import AppealState

APPEAL_STATES = tuple(state.value for state in AppealState)
"""The core's (workflows/states.py APPEAL_TRANSITIONS), read by the CHECK."""
GROUNDS_MIN = 20
"""Fewer characters cannot state why the decision is wrong; the database holds the same floor."""


class Appeal(db.Model):
    """One per decision version (UNIQUE decision_id); the service allows one per item, and the letter of the
    appeal's outcome says that no further appeal (复核) is open, only reconsideration or litigation."""

    __tablename__ = "appeals"
    __table_args__ = (
        CheckConstraint(f"state IN {APPEAL_STATES!r}", name="state"),
        CheckConstraint(f"length(grounds) >= {GROUNDS_MIN}", name="grounds"),
        CheckConstraint("(state = 'issued') = (outcome_decision_id IS NOT NULL)", name="outcome"),
        CheckConstraint("state IN ('filed', 'withdrawn', 'refused_late') OR review_due_on IS NOT NULL",
                        name="review_due"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    grounds: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(14), default="filed")
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome_decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    review_due_on: Mapped[date | None]
    """The appeal panel's last day for its sheets, fixed when it is seated (policy `appeal_review_days` working
    days on); a replacement seated later keeps it. None before the panel is seated."""

    decision: Mapped[Decision] = relationship(foreign_keys=[decision_id])
    outcome: Mapped[Decision | None] = relationship(foreign_keys=[outcome_decision_id])
    item: Mapped[ReviewItem] = relationship()
