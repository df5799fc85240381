"""The quarterly review cycle with its calendar and frozen policy."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.organisation import Region
from review.models.types import UTCDateTime, utcnow
from workflows.policy import PolicySnapshot


class Cycle(db.Model):
    __tablename__ = "cycles"
    __table_args__ = (
        UniqueConstraint("region_id", "code"),
        CheckConstraint("status IN ('planned', 'open', 'closed')", name="status"),
        CheckConstraint("quarter_start <= quarter_end", name="quarter_dates"),
        CheckConstraint("application_opens <= application_closes", name="window_dates"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    code: Mapped[str] = mapped_column(String(10))
    quarter_start: Mapped[date]
    quarter_end: Mapped[date]
    application_opens: Mapped[date]
    application_closes: Mapped[date]
    record_upload_deadline: Mapped[date | None]
    review_deadline: Mapped[date]
    settlement_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(10), default="open")
    policy_snapshot: Mapped[dict] = mapped_column(JSON)
    """The policy as frozen when the cycle opened; read it through `policy`."""

    region: Mapped[Region] = relationship()

    @property
    def policy(self) -> PolicySnapshot:
        """The frozen policy, typed (`workflows.policy`): the only way services read it."""
        return PolicySnapshot.from_json(self.policy_snapshot)


class CycleVolume(db.Model):
    """A hospital's DRG discharges in a cycle, from the payer's settlement data: the base of the quota.

    Hospitals upload only candidate cases, so the quota cannot be counted from this system's own cases.
    """

    __tablename__ = "cycle_volumes"
    __table_args__ = (
        UniqueConstraint("cycle_id", "hospital_id"),
        CheckConstraint("drg_discharges >= 0", name="discharges"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"))
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    drg_discharges: Mapped[int]


class CycleEvent(db.Model):
    """A calendar step that happened once (window opened, closed, deadline passed); the unique key makes
    the daily calendar run idempotent."""

    __tablename__ = "cycle_events"
    __table_args__ = (UniqueConstraint("cycle_id", "event"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"))
    event: Mapped[str] = mapped_column(String(60))
    happened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
