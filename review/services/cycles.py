"""Review cycles: the calendar the office sets up each quarter, and the DRG discharges behind each quota.

The quota base of a hospital is counted from the cases it imported with a discharge in the quarter, when the cycle is
created and whenever the office asks for a recount (never behind its back during the window, so a figure does not
move while hospitals apply); the office may override one hospital's figure with a reason, and a recount keeps
overrides unless told to replace them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from review import clock
from review.extensions import db
from review.messages import problem_text
from review.models import Case, Cycle, CycleVolume, Hospital, Region, ReviewItem
from review.services import activity, catalogue, holidays, periods
from review.services.context import Actor, NotFound, ValidationFailed
from workflows.states import CycleStatus, ItemKind, Role
from workflows.workdays import CalendarMissing

CODE = re.compile(r"^\d{4}Q[1-4]$")
WINDOW_WORKING_DAYS = 15
"""The application window's default length: the working days after the quarter, by the region's calendar."""
RECORD_UPLOAD_DAYS = 14
REVIEW_DAYS = 45
SETTLEMENT_DAYS = 30
"""Default gaps, in calendar days, after the window closes (record upload, review) and after the review deadline."""
MAX_DISCHARGES = 10_000_000
"""A hospital's DRG discharges in one quarter: far above any hospital, far below the INTEGER column's limit."""
MIN_REASON_CHARS = 10
"""An override's reason: enough for a sentence an auditor can follow."""

DATE_FIELDS = ("application_opens", "application_closes", "record_upload_deadline", "review_deadline",
               "settlement_date")


@dataclass(frozen=True)
class CycleDates:
    quarter_start: date
    quarter_end: date
    application_opens: date
    application_closes: date
    record_upload_deadline: date
    review_deadline: date
    settlement_date: date


@dataclass(frozen=True)
class CalendarRow:
    cycle: Cycle
    open_window: str | None  # application | record_upload | review | settlement | None
    applications: int
    sampled_records: int


def region_today(region: Region) -> date:
    return clock.today_in(region.timezone)


def quarter_bounds(code: str) -> tuple[date, date]:
    """2026Q4 -> (2026-10-01, 2026-12-31); raises ValidationFailed on anything else."""
    code = (code or "").strip().upper()
    if not CODE.fullmatch(code) or not 1900 < int(code[:4]) < 2200:
        raise ValidationFailed({"code": [str(_l("Write the cycle code as the year and quarter, e.g. 2026Q4."))]})
    year, quarter = int(code[:4]), int(code[5])
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - timedelta(days=1)
    return start, end


def default_dates(code: str, region_id: int) -> CycleDates:
    """The calendar a quarter gets unless the office sets its own dates.

    The window is counted in the region's working days (holidays off, make-up working days on); when the calendar
    does not cover the year the window falls in, the refusal names that year on the code instead of guessing.
    """
    start, end = quarter_bounds(code)
    calendar = holidays.working_calendar(region_id)
    try:
        opens = calendar.add_working_days(end, 1)
        closes = calendar.add_working_days(end, WINDOW_WORKING_DAYS)
    except CalendarMissing as missing:
        raise ValidationFailed({"code": [problem_text(missing.problem)]}) from missing
    review = closes + timedelta(days=REVIEW_DAYS)
    return CycleDates(start, end, opens, closes, closes + timedelta(days=RECORD_UPLOAD_DAYS), review,
                      review + timedelta(days=SETTLEMENT_DAYS))


def suggest_code(region_id: int, today: date) -> str:
    """The quarter after the latest cycle, or the quarter that ends next if there is none."""
    latest = db.session.scalars(db.select(Cycle).where(Cycle.region_id == region_id)
                                .order_by(Cycle.quarter_start.desc()).limit(1)).first()
    if latest is None:
        return f"{today.year}Q{(today.month - 1) // 3 + 1}"
    following = latest.quarter_end + timedelta(days=1)
    return f"{following.year}Q{(following.month - 1) // 3 + 1}"


def _validate_dates(values: dict[str, date | None]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in DATE_FIELDS:
        if values.get(name) is None:
            errors.setdefault(name, []).append(str(_l("Enter a date.")))
    if errors:
        return errors
    order = [
        ("application_closes", "application_opens", _l("The window cannot close before it opens.")),
        ("record_upload_deadline", "application_closes",
         _l("The record-upload deadline cannot be before the application window closes.")),
        ("review_deadline", "record_upload_deadline",
         _l("The review deadline cannot be before the record-upload deadline.")),
        ("settlement_date", "review_deadline", _l("Settlement cannot be before the review deadline.")),
    ]
    for later, earlier, message in order:
        if values[later] < values[earlier]:  # type: ignore[operator]
            errors.setdefault(later, []).append(str(message))
    return errors


def create_cycle(actor: Actor, region_id: int, code: str, application_opens: date | None,
                 application_closes: date | None, record_upload_deadline: date | None,
                 review_deadline: date | None, settlement_date: date | None) -> Cycle:
    """Create a quarter's cycle with its calendar, freezing the region's current policy into it.

    A date left as None takes its default for the code (`default_dates`), so changing only the code is enough.
    """
    actor.require(Role.STAFF, Role.ADMIN)
    region = db.session.get(Region, region_id)
    if region is None:
        raise NotFound(_l("No such region."))
    code = (code or "").strip().upper()
    errors: dict[str, list[str]] = {}
    dates = {"application_opens": application_opens, "application_closes": application_closes,
             "record_upload_deadline": record_upload_deadline, "review_deadline": review_deadline,
             "settlement_date": settlement_date}
    try:
        quarter_start, quarter_end = quarter_bounds(code)
    except ValidationFailed as failure:
        errors.update(failure.errors)
    else:
        exists = db.session.scalar(db.select(db.func.count()).where(Cycle.region_id == region.id, Cycle.code == code))
        if exists:
            errors["code"] = [str(_l("Cycle %(code)s already exists.", code=code))]
        if None in dates.values():
            try:
                defaults = default_dates(code, region.id)
            except ValidationFailed as failure:
                errors.setdefault("code", []).extend(failure.errors["code"])
            else:
                dates = {name: value or getattr(defaults, name) for name, value in dates.items()}
    errors.update(_validate_dates(dates))
    if errors:
        raise ValidationFailed(errors)
    scheme = catalogue.current_scheme()
    if not catalogue.is_loaded(scheme):
        raise ValidationFailed({"code": [str(_l(
            "No DRG catalogue is loaded: load one with `flask --app wsgi catalogue load FILE --scheme NAME`."))]})
    policy = region.current_policy()
    status = (CycleStatus.PLANNED if dates["application_opens"] > region_today(region)  # type: ignore[operator]
              else CycleStatus.OPEN).value
    cycle = Cycle(region_id=region.id, code=code, quarter_start=quarter_start, quarter_end=quarter_end,
                  status=status, policy_snapshot=policy.snapshot(), catalogue_scheme=scheme, **dates)
    db.session.add(cycle)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed({"code": [str(_l("Cycle %(code)s already exists.", code=code))]})
    activity.record(actor, "cycle.created", "cycle", cycle.id, None, {
        "code": code, "status": status, "policy_version": policy.version, "catalogue_scheme": scheme,
        **{name: value.isoformat() for name, value in dates.items()}}, region_id=region.id)  # type: ignore[union-attr]
    _count(actor, cycle, replace_overrides=False)
    periods.ensure(region.id, code)  # its money's period, open before anything is posted (or corrected late) in it
    db.session.commit()
    return cycle


def open_window(cycle: Cycle, today: date) -> str | None:
    """Which step of the cycle's calendar is under way today, if any."""
    if cycle.status == "closed":
        return None
    if cycle.application_opens <= today <= cycle.application_closes:
        return "application"
    if today < cycle.application_opens:
        return None
    steps = (("record_upload", cycle.record_upload_deadline), ("review", cycle.review_deadline),
             ("settlement", cycle.settlement_date))
    for name, deadline in steps:
        if deadline is not None and today <= deadline:
            return name
    return None


def calendar(region_id: int, today: date) -> list[CalendarRow]:
    cycles = list(db.session.scalars(db.select(Cycle).where(Cycle.region_id == region_id)
                                     .order_by(Cycle.quarter_start.desc())))
    counts: dict[tuple[int, str], int] = {
        (cycle_id, kind): n for cycle_id, kind, n in db.session.execute(
            db.select(ReviewItem.cycle_id, ReviewItem.kind, db.func.count())
            .where(ReviewItem.cycle_id.in_([c.id for c in cycles]))
            .group_by(ReviewItem.cycle_id, ReviewItem.kind))}
    return [CalendarRow(cycle, open_window(cycle, today), counts.get((cycle.id, ItemKind.APPLICATION.value), 0),
                        counts.get((cycle.id, ItemKind.SAMPLED_RECORD.value), 0)) for cycle in cycles]


def get_cycle(cycle_id: int) -> Cycle:
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(_l("No such cycle."))
    return cycle


def volumes(cycle: Cycle) -> list[tuple[Hospital, CycleVolume | None]]:
    """Every hospital of the cycle's region with its quota base (None if neither counted nor set)."""
    recorded = {volume.hospital_id: volume for volume in db.session.scalars(
        db.select(CycleVolume).where(CycleVolume.cycle_id == cycle.id))}
    hospitals = db.session.scalars(db.select(Hospital).where(Hospital.region_id == cycle.region_id)
                                   .order_by(Hospital.code))
    return [(hospital, recorded.get(hospital.id)) for hospital in hospitals]


def imported_counts(cycle: Cycle) -> dict[int, int]:
    """Per hospital of the region, its recorded cases discharged in the cycle's quarter."""
    return dict(db.session.execute(
        db.select(Case.hospital_id, db.func.count()).join(Hospital, Hospital.id == Case.hospital_id)
        .where(Hospital.region_id == cycle.region_id, Case.discharge_date >= cycle.quarter_start,
               Case.discharge_date <= cycle.quarter_end)
        .group_by(Case.hospital_id)).all())  # type: ignore[arg-type]


def _count(actor: Actor, cycle: Cycle, replace_overrides: bool) -> list[dict[str, object]]:
    """Store each hospital's count in the caller's transaction and log the figures that moved.

    A hospital with no case and no figure stays without one (its quota reads as unknown, not as zero); an
    override keeps its figure, the count being kept beside it, unless `replace_overrides`.
    """
    counts = imported_counts(cycle)
    existing = {v.hospital_id: v for v in db.session.scalars(
        db.select(CycleVolume).where(CycleVolume.cycle_id == cycle.id))}
    codes = dict(db.session.execute(db.select(Hospital.id, Hospital.code)
                                    .where(Hospital.region_id == cycle.region_id)).all())
    now = clock.utcnow()
    changes: list[dict[str, object]] = []
    for hospital_id in sorted(set(counts) | set(existing)):
        count = counts.get(hospital_id, 0)
        row = existing.get(hospital_id)
        if row is None:
            row = CycleVolume(cycle_id=cycle.id, hospital_id=hospital_id, drg_discharges=count, source="imported")
            db.session.add(row)
            before: int | None = None
        else:
            before = row.drg_discharges
        row.imported_discharges, row.counted_at = count, now
        if row.source == "imported" or replace_overrides:
            row.drg_discharges, row.source = count, "imported"
            row.override_reason = row.overridden_by_id = row.overridden_at = None
        if row.drg_discharges != before:
            changes.append({"hospital": codes[hospital_id], "from": before, "to": row.drg_discharges})
    activity.record(actor, "cycle.volumes_counted", "cycle", cycle.id, None, {
        "code": cycle.code, "counts": {codes[h]: n for h, n in sorted(counts.items())}, "changes": changes,
        "replace_overrides": replace_overrides}, region_id=cycle.region_id)
    return changes


def recount_volumes(actor: Actor, cycle_id: int, replace_overrides: bool = False) -> list[dict[str, object]]:
    """Count every hospital's quota base again from its imported cases; returns the figures that moved."""
    actor.require(Role.STAFF, Role.ADMIN)
    changes = _count(actor, get_cycle(cycle_id), replace_overrides)
    db.session.commit()
    return changes


def override_volume(actor: Actor, cycle_id: int, hospital_id: int, figure: int | None, reason: str) -> CycleVolume:
    """Set one hospital's quota base by hand, for a reason the register keeps with the old and new figures."""
    actor.require(Role.STAFF, Role.ADMIN)
    cycle = get_cycle(cycle_id)
    hospital = db.session.get(Hospital, hospital_id)
    if hospital is None or hospital.region_id != cycle.region_id:
        raise NotFound(_l("Hospital %(id)s is not in this cycle's region.", id=hospital_id))
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if figure is None or isinstance(figure, bool) or not isinstance(figure, int) or not 0 <= figure <= MAX_DISCHARGES:
        errors["figure"] = [str(_l("Enter a whole number of discharges from 0 to %(max)s.", max=MAX_DISCHARGES))]
    if len(reason) < MIN_REASON_CHARS:
        errors["reason"] = [str(_l("Give the reason for the override (at least %(n)s characters).",
                                   n=MIN_REASON_CHARS))]
    if errors:
        raise ValidationFailed(errors)
    row = db.session.scalars(db.select(CycleVolume).where(CycleVolume.cycle_id == cycle.id,
                                                           CycleVolume.hospital_id == hospital.id)).first()
    if row is None:
        row = CycleVolume(cycle_id=cycle.id, hospital_id=hospital.id, drg_discharges=0)
        db.session.add(row)
        before, source_before = None, None
    else:
        before, source_before = row.drg_discharges, row.source
    row.drg_discharges, row.source, row.override_reason = figure, "override", reason
    row.overridden_by_id, row.overridden_at = actor.user_id, clock.utcnow()
    db.session.flush()
    activity.record(actor, "cycle.volume_overridden", "cycle", cycle.id, hospital.id, {
        "code": cycle.code, "hospital": hospital.code, "from": before, "to": figure, "source_before": source_before,
        "imported": row.imported_discharges, "reason": reason})
    db.session.commit()
    return row


def cycle_for_draw(actor: Actor, cycle_id: int, published_value: str) -> tuple[Cycle, str]:
    """The common gate of every seeded draw: office roles only, a published value given, the cycle known."""
    actor.require(Role.STAFF, Role.ADMIN)
    published_value = published_value.strip()
    if not published_value:
        raise ValidationFailed({"published_value": [str(_l("Enter the published random value used as the seed."))]})
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(_l("No such cycle."))
    return cycle, published_value
