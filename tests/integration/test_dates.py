"""Dates as the bureau counts them, whatever day the suite runs on (marked `clock_shift`: CI runs these again with
the clock 400 days back and forth). Windows and deadlines are days in the region's zone (Asia/Shanghai, UTC+8):
07:30 in Beijing is still the previous day in UTC, and that must never cost a hospital a day."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import time_machine

from review.extensions import db
from review.models import Cycle
from review.services import applications, cases, decisions, holidays
from review.services.context import SYSTEM, ValidationFailed
from tests.factories import ami_case, seat_panels
from tests.integration.test_application_path import _apply, _review

pytestmark = pytest.mark.clock_shift
BEIJING = ZoneInfo("Asia/Shanghai")


def _beijing(day, hour: int, minute: int = 0) -> datetime:  # type: ignore[no-untyped-def]
    return datetime.combine(day, time(hour, minute), BEIJING).astimezone(timezone.utc)


def _refused_outside_window(world, case_id: int) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as refusal:
        applications.apply_for_case(world.actors["hosp1"], case_id, "high_cost",
                                    "Prolonged ICU stay with cardiogenic shock after PCI.")
    assert "accepted from" in " ".join(refusal.value.errors["category"])


def test_application_window_is_counted_in_beijing_days(world) -> None:  # type: ignore[no-untyped-def]
    cycle = db.session.get(Cycle, world.cycle_id)
    closes = cycle.application_closes
    case = cases.create_case(world.actors["hosp1"], ami_case())
    with time_machine.travel(_beijing(closes + timedelta(days=1), 7, 30)):  # the UTC date is still `closes`
        _refused_outside_window(world, case.id)
    with time_machine.travel(_beijing(closes, 23, 30)):  # the UTC date is the same day, 15:30
        item = applications.apply_for_case(world.actors["hosp1"], case.id, "high_cost",
                                           "Prolonged ICU stay with cardiogenic shock after PCI.")
    assert item.state == "queued"


def test_application_before_the_window_opens_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    cycle = db.session.get(Cycle, world.cycle_id)
    case = cases.create_case(world.actors["hosp1"], ami_case())
    with time_machine.travel(_beijing(cycle.application_opens - timedelta(days=1), 23, 59)):
        _refused_outside_window(world, case.id)


def test_appeal_deadline_counts_from_the_beijing_day_of_issue(world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    decision = _review(world, item, [("approve", 0)] * 3)
    issue_day = db.session.get(Cycle, world.cycle_id).application_closes + timedelta(days=20)
    with time_machine.travel(_beijing(issue_day, 7, 0)):  # 23:00 UTC the day before
        decisions.open_reasons(world.actors["staff"], decision.id)
        decisions.issue(world.actors["staff"], decision.id)
    appeal_days = db.session.get(Cycle, world.cycle_id).policy.appeal_days
    assert decision.appeal_deadline == nth_working_day_after(issue_day, appeal_days)


def nth_working_day_after(day, n: int):  # type: ignore[no-untyped-def]
    """Counted apart from the service: chinese-calendar for the years it knows; for a later year the calendar the
    world marks (tests/factories.py seed_calendar: Monday to Friday but 1 January)."""
    while n:
        day += timedelta(days=1)
        try:
            n -= chinese_calendar.is_workday(day)
        except NotImplementedError:
            n -= day.weekday() < 5 and (day.month, day.day) != (1, 1)
    return day


def test_the_appeal_deadline_skips_national_day_week(world) -> None:  # type: ignore[no-untyped-def]
    """Issued on 30 September 2025: 1–8 October are off and Saturday 11 October is worked (调休), so the tenth
    working day is 21 October, not 10 October as ten calendar days would give."""
    holidays.seed(SYSTEM, world.region_id, [2025])
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    decision = _review(world, item, [("approve", 0)] * 3)
    with time_machine.travel(_beijing(date(2025, 9, 30), 10, 0)):
        decisions.open_reasons(world.actors["staff"], decision.id)
        decisions.issue(world.actors["staff"], decision.id)
    assert db.session.get(Cycle, world.cycle_id).policy.appeal_days == 10
    assert decision.appeal_deadline == date(2025, 10, 21)
