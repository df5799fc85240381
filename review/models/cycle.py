"""The quarterly review cycle with its calendar and frozen policy."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.organisation import Hospital, Region
from review.models.people import User
from review.models.types import UTCDateTime, utcnow
from workflows.policy import PolicySnapshot
from workflows.states import CycleStatus

BUNDLED_SCHEME = "MS-DRG v43"
"""The DRG catalogue version shipped in review/data (DRG_WEIGHTS_FILE); cycles made before versions existed use it."""
VOLUME_SOURCES = ("imported", "override")


class Cycle(db.Model):
    __tablename__ = "cycles"
    __table_args__ = (
        UniqueConstraint("region_id", "code"),
        CheckConstraint(f"status IN {tuple(status.value for status in CycleStatus)!r}", name="status"),
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
    catalogue_scheme: Mapped[str] = mapped_column(String(40), default=BUNDLED_SCHEME, server_default=BUNDLED_SCHEME)
    """The DRG catalogue version (drg_catalogue.scheme) the cycle opened with: every weight and title of its work
    is read from it, whatever is loaded later (review/services/catalogue.py)."""

    region: Mapped[Region] = relationship()

    @property
    def policy(self) -> PolicySnapshot:
        """The frozen policy, typed (`workflows.policy`): the only way services read it."""
        return PolicySnapshot.from_json(self.policy_snapshot)


class CycleVolume(db.Model):
    """A hospital's DRG discharges in a cycle: the base of the quota.

    Counted from the cases the hospital imported with a discharge date in the cycle's quarter (`source` imported,
    `counted_at`); the office may override one hospital's figure, giving a reason (`source` override), when the
    imports are incomplete. The last count is kept beside an override. Rows from before counting existed read as
    overrides without a reason (typed by hand).
    """

    __tablename__ = "cycle_volumes"
    __table_args__ = (
        UniqueConstraint("cycle_id", "hospital_id"),
        CheckConstraint("drg_discharges >= 0", name="discharges"),
        CheckConstraint(f"source IN {VOLUME_SOURCES!r}", name="source"),
        CheckConstraint("source = 'override' OR counted_at IS NOT NULL", name="imported_counted"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"))
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    drg_discharges: Mapped[int]
    """The figure the quota reads (workflows.policy.quota_allowed)."""
    source: Mapped[str] = mapped_column(String(10), default="override", server_default="override")
    imported_discharges: Mapped[int | None]
    """The last count of imported cases, kept when the figure is overridden."""
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    override_reason: Mapped[str | None] = mapped_column(Text)
    overridden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    overridden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    hospital: Mapped[Hospital] = relationship()
    overridden_by: Mapped[User | None] = relationship()


class CycleEvent(db.Model):
    """A calendar step that happened once (window opened, closed, deadline passed); the unique key makes
    the daily calendar run idempotent."""

    __tablename__ = "cycle_events"
    __table_args__ = (UniqueConstraint("cycle_id", "event"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"))
    event: Mapped[str] = mapped_column(String(60))
    happened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
