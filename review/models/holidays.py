"""A region's working-day calendar: the days that depart from Monday to Friday, seeded from chinese-calendar and
edited by admins."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from review.extensions import db
from review.models.types import UTCDateTime, utcnow

HOLIDAY_KINDS = ("holiday", "workday")
HOLIDAY_SOURCES = ("chinese-calendar", "admin")


class Holiday(db.Model):
    """One day off (a holiday) or one weekend day worked (a make-up working day, 调休) in a region.

    A year counts as covered once it has any row; days of a covered year without a row follow Monday to Friday.
    `name` is the package's holiday key (e.g. `national_day`, shown translated) for seeded rows and the admin's own
    words for admin marks.
    """

    __tablename__ = "holidays"
    __table_args__ = (
        UniqueConstraint("region_id", "date"),
        CheckConstraint(f"kind IN {HOLIDAY_KINDS!r}", name="kind"),
        CheckConstraint(f"source IN {HOLIDAY_SOURCES!r}", name="source"),
        CheckConstraint("source = 'chinese-calendar' OR created_by_id IS NOT NULL", name="admin_mark_author"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    day: Mapped[date] = mapped_column("date")  # the attribute is not `date`, which would shadow the type here
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
