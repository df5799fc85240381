"""A region's working-day calendar: seeded from chinese-calendar for the years it knows, edited by admins.

The table holds only the days that depart from Monday to Friday. A year counts as covered once it has any day in
the table: seeded from the package, or marked by an admin (for a year the package does not know yet, the admin
enters the State Council's notice by hand). Counting working days into a year that is not covered is refused.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version

import chinese_calendar
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from review.extensions import db
from review.messages import problem_text
from review.models import Region
from review.models.holidays import HOLIDAY_KINDS, Holiday
from review.models.types import utcnow
from review.services import activity
from review.services.context import Actor, NotFound, ServiceError, ValidationFailed
from workflows.states import Role
from workflows.workdays import CalendarMissing, WorkingCalendar

PACKAGE = "chinese-calendar"
ADMIN = "admin"
NAME_LENGTH = 100


@dataclass(frozen=True)
class PackageDay:
    kind: str
    name: str
    """The package's holiday key, e.g. `national_day`; a make-up working day names the holiday it makes up for."""


def _package_days() -> dict[date, PackageDay]:
    keys = {holiday.value: holiday.name for holiday in chinese_calendar.Holiday}
    days = {day: PackageDay("holiday", keys.get(name, name)) for day, name in chinese_calendar.holidays.items()}
    days.update({day: PackageDay("workday", keys.get(name, name)) for day, name in chinese_calendar.workdays.items()})
    return days


PACKAGE_DAYS = _package_days()
PACKAGE_YEARS = range(min(PACKAGE_DAYS).year, max(PACKAGE_DAYS).year + 1)
PACKAGE_VERSION = version(PACKAGE)


def _region(region_id: int) -> Region:
    region = db.session.get(Region, region_id)
    if region is None:
        raise NotFound(_l("No such region."))
    return region


def seed(actor: Actor, region_id: int, years: Iterable[int] | None = None) -> int:
    """Copy the package's holidays and make-up working days into the region's table; returns the days added.

    Days already in the table are left as they are, so seeding again adds nothing and never undoes an admin mark.
    """
    actor.require(Role.ADMIN, Role.SYSTEM)
    region = _region(region_id)
    wanted = sorted(set(PACKAGE_YEARS if years is None else years))
    unknown = [year for year in wanted if year not in PACKAGE_YEARS]
    if unknown:
        raise ValidationFailed({"year": [str(_l(
            "chinese-calendar %(version)s knows the years %(first)s to %(last)s, not %(year)s: mark that year's "
            "holidays and make-up working days by hand.", version=PACKAGE_VERSION, first=str(PACKAGE_YEARS[0]),
            last=str(PACKAGE_YEARS[-1]), year=str(unknown[0])))]})
    present = set(db.session.scalars(db.select(Holiday.day).where(
        Holiday.region_id == region.id, Holiday.day >= date(wanted[0], 1, 1),
        Holiday.day <= date(wanted[-1], 12, 31)))) if wanted else set()
    rows = [{"region_id": region.id, "day": day, "kind": entry.kind, "name": entry.name, "source": PACKAGE,
             "created_at": utcnow()}
            for day, entry in sorted(PACKAGE_DAYS.items()) if day.year in wanted and day not in present]
    if not rows:
        return 0
    try:
        db.session.execute(db.insert(Holiday), rows)
    except IntegrityError:  # the same year being added at the same moment elsewhere (the page, the command)
        db.session.rollback()
        raise ValidationFailed({"year": [str(_l("This year was just changed by someone else; look again."))]})
    activity.record(actor, "holidays.seeded", "region", region.id, None, {
        "years": wanted, "added": len(rows), "source": f"{PACKAGE} {PACKAGE_VERSION}"}, region_id=region.id)
    db.session.commit()
    return len(rows)


def _described(row: Holiday | None) -> dict[str, str] | None:
    return None if row is None else {"kind": row.kind, "name": row.name, "source": row.source}


def mark_day(actor: Actor, region_id: int, day: date | None, kind: str, name: str) -> Holiday:
    """Record a day as a holiday or as a working day, replacing whatever the table said of it."""
    actor.require(Role.ADMIN)
    region = _region(region_id)
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if day is None:
        errors["day"] = [str(_l("Enter a date."))]
    if kind not in HOLIDAY_KINDS:
        errors["kind"] = [str(_l("Choose holiday or working day."))]
    if not name:
        errors["name"] = [str(_l("Name the day, e.g. the holiday it belongs to."))]
    elif len(name) > NAME_LENGTH:
        errors["name"] = [str(_l("At most %(n)s characters.", n=NAME_LENGTH))]
    if errors:
        raise ValidationFailed(errors)
    row = _row(region.id, day)  # type: ignore[arg-type]
    before = _described(row)
    if before == {"kind": kind, "name": name, "source": ADMIN}:
        return row  # type: ignore[return-value]
    if row is None:
        row = Holiday(region_id=region.id, day=day)
        db.session.add(row)
    row.kind, row.name, row.source, row.created_by_id, row.created_at = kind, name, ADMIN, actor.user_id, utcnow()
    try:
        db.session.flush()
    except IntegrityError:  # another admin marked the same day a moment ago
        db.session.rollback()
        raise ValidationFailed({"day": [str(_l("This day was just changed by someone else; look again."))]})
    activity.record(actor, "holidays.marked", "region", region.id, None, {
        "date": day.isoformat(), "kind": kind, "name": name, "before": before},  # type: ignore[union-attr]
        region_id=region.id)
    db.session.commit()
    return row


def remove_mark(actor: Actor, region_id: int, day: date | None) -> Holiday | None:
    """Take back an admin's mark; the day returns to what chinese-calendar says of it (returned), if anything."""
    actor.require(Role.ADMIN)
    region = _region(region_id)
    row = _row(region.id, day) if day is not None else None
    if row is None or row.source != ADMIN:
        raise ValidationFailed({"day": [str(_l("Only a day an admin marked can be unmarked."))]})
    removed = _described(row)
    db.session.delete(row)
    restored = None
    entry = PACKAGE_DAYS.get(row.day)
    if entry is not None:
        db.session.flush()
        restored = Holiday(region_id=region.id, day=row.day, kind=entry.kind, name=entry.name, source=PACKAGE)
        db.session.add(restored)
    activity.record(actor, "holidays.unmarked", "region", region.id, None, {
        "date": row.day.isoformat(), "removed": removed, "restored": _described(restored)}, region_id=region.id)
    db.session.commit()
    return restored


def _row(region_id: int, day: date) -> Holiday | None:
    return db.session.scalars(db.select(Holiday).where(Holiday.region_id == region_id, Holiday.day == day)).first()


def year_days(region_id: int, year: int) -> list[Holiday]:
    return list(db.session.scalars(db.select(Holiday).where(
        Holiday.region_id == region_id, Holiday.day >= date(year, 1, 1), Holiday.day <= date(year, 12, 31))
        .order_by(Holiday.day)))


def covered_years(region_id: int) -> list[int]:
    return sorted(working_calendar(region_id).years)


def working_days_after(region_id: int, start: date, days: int) -> date:
    """The day `days` working days after `start` in the region's calendar, for a deadline a document or a page
    gives (an appeal's, an appeal panel's); a year the calendar does not cover is refused, worded, since a guessed
    deadline binds the bureau."""
    try:
        return working_calendar(region_id).add_working_days(start, days)
    except CalendarMissing as missing:
        raise ServiceError(problem_text(missing.problem)) from missing


def working_calendar(region_id: int) -> WorkingCalendar:
    """The region's calendar as the pure core counts with it; a year is covered once it has any day here."""
    rows = db.session.execute(db.select(Holiday.day, Holiday.kind).where(Holiday.region_id == region_id)).all()
    return WorkingCalendar.of({day.year for day, _kind in rows},
                              [day for day, kind in rows if kind == "holiday"],
                              [day for day, kind in rows if kind == "workday"])
