"""The quarterly calendar, run once a day by Celery beat: windows open and close, reminders go out, and
items still without records after the upload deadline become `records_missing`.

Every step is idempotent (a CycleEvent or a notice's dedupe key records that it happened), so running the
calendar twice on a day, or catching up after a missed day, does each thing once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError

from review import clock
from review.extensions import db
from review.models import Appeal, Assignment, Cycle, CycleEvent, Region, ReviewItem, Scoresheet, User
from review.services import activity
from review.services.context import SYSTEM
from review.services.items import move
from review.services.notifications import notify
from review.services.reviews import OPEN_FOR_ROUND
from workflows.states import Action, CycleStatus, ItemKind, State, cycle_status_after

REMINDER_DAYS = 3


@dataclass
class CalendarReport:
    events: list[str] = field(default_factory=list)
    records_missing: int = 0
    reminders: int = 0


def _once(cycle: Cycle, event: str, report: CalendarReport) -> bool:
    """Record that `event` happened for the cycle; False if it had already been recorded."""
    if db.session.scalar(db.select(CycleEvent.id).where(CycleEvent.cycle_id == cycle.id,
                                                        CycleEvent.event == event)) is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(CycleEvent(cycle_id=cycle.id, event=event))
    except IntegrityError:
        return False
    activity.record(SYSTEM, f"cycle.{event}", "cycle", cycle.id, None, {"code": cycle.code}, region_id=cycle.region_id)
    report.events.append(f"{cycle.code}:{event}")
    return True


def today_in_region() -> date:
    """Deadlines are calendar days in the bureau's time zone, not in UTC."""
    region = db.session.scalars(db.select(Region).order_by(Region.id)).first()
    return clock.today_in(region.timezone if region else None)


def run(today: date) -> CalendarReport:
    report = CalendarReport()
    for cycle in db.session.scalars(db.select(Cycle).where(Cycle.status != "closed").order_by(Cycle.id)):
        _windows(cycle, today, report)
        _records(cycle, today, report)
        _review_reminders(cycle, today, report)
    _appeal_reminders(today, report)
    db.session.commit()
    return report


def _windows(cycle: Cycle, today: date, report: CalendarReport) -> None:
    if cycle.application_opens <= today and _once(cycle, "application_window_opened", report):
        cycle.status = cycle_status_after(CycleStatus(cycle.status), CycleStatus.OPEN).value
    if cycle.application_closes < today:
        _once(cycle, "application_window_closed", report)
    if cycle.settlement_date is not None and cycle.settlement_date < today and _once(cycle, "closed", report):
        cycle.status = cycle_status_after(CycleStatus(cycle.status), CycleStatus.CLOSED).value


def _awaiting(cycle: Cycle) -> list[ReviewItem]:
    return list(db.session.scalars(db.select(ReviewItem).where(
        ReviewItem.cycle_id == cycle.id, ReviewItem.kind == ItemKind.SAMPLED_RECORD.value,
        ReviewItem.state == State.AWAITING_RECORDS.value).order_by(ReviewItem.id)))


def _records(cycle: Cycle, today: date, report: CalendarReport) -> None:
    deadline = cycle.record_upload_deadline
    if deadline is None:
        return
    if deadline - timedelta(days=REMINDER_DAYS) <= today <= deadline:
        missing: dict[int, int] = {}
        for item in _awaiting(cycle):
            missing[item.hospital_id] = missing.get(item.hospital_id, 0) + 1
        for hospital_id, count in sorted(missing.items()):
            if notify(kind="records_reminder", dedupe_key=f"records-reminder:{cycle.id}:{hospital_id}",
                      hospital_id=hospital_id, cycle=cycle.code, count=count, deadline=deadline.isoformat()):
                report.reminders += 1
    if today > deadline:
        for item in _awaiting(cycle):
            move(item, Action.MARK_RECORDS_MISSING, SYSTEM, {"deadline": deadline.isoformat()})
            report.records_missing += 1
        _once(cycle, "record_upload_deadline_passed", report)


def _reminder_key(cycle: Cycle, expert_id: int, round_: int, deadline: date) -> str:
    """One reminder per expert, cycle and round, and for an appeal panel per deadline: a reminder about a first
    panel never stands in for one about an appeal panel, nor one appeal's for another's (round 1 keeps the key it
    always had, so nothing already sent is sent again)."""
    key = f"review-reminder:{cycle.id}:{expert_id}"
    return key if round_ == 1 else f"{key}:round{round_}:{deadline.isoformat()}"


def _review_reminders(cycle: Cycle, today: date, report: CalendarReport) -> None:
    """Remind every expert who owes a first panel's sheet in the REMINDER_DAYS before the cycle's review deadline,
    the one the assignment notice and the expert's page give."""
    if today <= cycle.review_deadline <= today + timedelta(days=REMINDER_DAYS):
        _remind(cycle, report, 1, cycle.review_deadline, db.true())


def _appeal_reminders(today: date, report: CalendarReport) -> None:
    """The same for appeal panels before each appeal's own deadline (fixed when its panel was seated), whatever
    the state of its cycle: an appeal may still be under review after the quarter's cycle has closed."""
    seated = (Appeal.state == "in_review") & Appeal.review_due_on.between(today, today + timedelta(days=REMINDER_DAYS))
    pending = db.session.execute(db.select(ReviewItem.cycle_id, Appeal.review_due_on).join(
        ReviewItem, ReviewItem.id == Appeal.item_id).where(seated).distinct()).all()
    for cycle_id, due in sorted(pending):
        _remind(db.session.get(Cycle, cycle_id), report, 2, due, ReviewItem.id.in_(
            db.select(Appeal.item_id).where(seated, Appeal.review_due_on == due)))


def _remind(cycle: Cycle, report: CalendarReport, round_: int, deadline: date, items: ColumnElement[bool]) -> None:
    """Notify each expert with sheets open in `round_` on the cycle's `items`, once per the reminder's key."""
    open_sheets = db.select(Assignment.expert_id, db.func.count(Assignment.id)).join(
        ReviewItem).outerjoin(Scoresheet, Scoresheet.assignment_id == Assignment.id).where(
        ReviewItem.cycle_id == cycle.id, Assignment.status == "active", Assignment.round == round_,
        ReviewItem.state.in_(OPEN_FOR_ROUND[round_]), items,
        db.or_(Scoresheet.id.is_(None), Scoresheet.status != "submitted")).group_by(
        Assignment.expert_id).order_by(Assignment.expert_id)
    for expert_id, count in db.session.execute(open_sheets).all():
        user_id = db.session.scalar(db.select(User.id).where(User.expert_id == expert_id))
        if user_id and notify(kind="review_reminder", dedupe_key=_reminder_key(cycle, expert_id, round_, deadline),
                              user_id=user_id, cycle=cycle.code, count=count, deadline=deadline.isoformat()):
            report.reminders += 1
