"""The expert pool's rules beside the experts themselves: declared conflicts and specialty stand-ins."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.organisation import Hospital
from review.models.people import Expert
from review.models.types import UTCDateTime, utcnow


class ExpertConflict(db.Model):
    """An expert–hospital pair that may not meet during the dates given (the own hospital needs no row).

    A conflict is ended by setting `ends_on`, never deleted, so the register can say who was kept apart when.
    """

    __tablename__ = "expert_conflicts"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates"),
        CheckConstraint("length(reason) > 0", name="reason"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id"), index=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    expert: Mapped[Expert] = relationship()
    hospital: Mapped[Hospital] = relationship()

    def overlaps(self, first: date, last: date) -> bool:
        return self.starts_on <= last and (self.ends_on is None or self.ends_on >= first)


class SpecialtyRelation(db.Model):
    """Experts of `stand_in` may review items of `specialty` when too few exact specialists are free."""

    __tablename__ = "specialty_relations"
    __table_args__ = (
        UniqueConstraint("specialty", "stand_in"),
        CheckConstraint("specialty <> stand_in", name="distinct"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    specialty: Mapped[str] = mapped_column(String(40))
    stand_in: Mapped[str] = mapped_column(String(40))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
