"""The working-day calendar: seeded from chinese-calendar, edited by admins, and counted by the cycle defaults."""
from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest

from review.extensions import db
from review.models import ActivityLog
from review.models.holidays import Holiday
from review.services import cycles, holidays
from review.services.context import SYSTEM, PermissionDenied, ValidationFailed
from tests.factories import clear_calendar


def last_log(action: str) -> ActivityLog:
    return db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == action)
                              .order_by(ActivityLog.id.desc())).first()


def package_working_days_after(day: date, count: int) -> list[date]:
    """The answer read straight from the package, to check the table and the core against it."""
    found: list[date] = []
    while len(found) < count:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day):
            found.append(day)
    return found


def entry(region_id: int, day: date) -> tuple[str, str, str]:
    row = db.session.scalars(db.select(Holiday).where(Holiday.region_id == region_id, Holiday.day == day)).one()
    return row.kind, row.name, row.source


def test_seeding_copies_the_package_and_a_second_seed_adds_nothing(world) -> None:  # type: ignore[no-untyped-def]
    clear_calendar(world)  # the world comes with its deadlines' calendar (tests/factories.py)
    added = holidays.seed(SYSTEM, world.region_id)
    assert added == len(chinese_calendar.holidays) + len(chinese_calendar.workdays)
    assert holidays.covered_years(world.region_id) == list(range(2004, 2027))
    for day in (date(2025, 10, 1) + timedelta(days=i) for i in range(8)):
        assert entry(world.region_id, day)[0::2] == ("holiday", "chinese-calendar")
    assert entry(world.region_id, date(2025, 10, 1))[1] == "national_day"
    assert entry(world.region_id, date(2025, 9, 28)) == ("workday", "national_day", "chinese-calendar")  # a Sunday
    assert entry(world.region_id, date(2025, 10, 11))[0] == "workday"  # a Saturday
    assert entry(world.region_id, date(2025, 1, 26))[0] == entry(world.region_id, date(2025, 2, 8))[0] == "workday"
    log = last_log("holidays.seeded")
    assert log.actor_id is None and log.data["added"] == added and log.data["years"][-1] == 2026
    assert log.data["source"] == "chinese-calendar 1.11.0"
    assert holidays.seed(SYSTEM, world.region_id) == 0
    assert last_log("holidays.seeded").id == log.id


@pytest.mark.clock_shift
def test_the_2025q3_window_opens_after_national_day_week(world) -> None:  # type: ignore[no-untyped-def]
    holidays.seed(SYSTEM, world.region_id)
    dates = cycles.default_dates("2025Q3", world.region_id)
    expected = package_working_days_after(date(2025, 9, 30), cycles.WINDOW_WORKING_DAYS)
    assert dates.application_opens == expected[0] == date(2025, 10, 9)  # 1–8 October are off
    assert dates.application_closes == expected[-1] == date(2025, 10, 28)  # Saturday 11 October is worked
    assert dates.record_upload_deadline == date(2025, 10, 28) + timedelta(days=cycles.RECORD_UPLOAD_DAYS)
    window = [day for day in (dates.application_opens + timedelta(days=i) for i in range(20))
              if day <= dates.application_closes]
    assert date(2025, 10, 11) in window and sum(chinese_calendar.is_workday(day) for day in window) == 15


def test_an_admin_mark_moves_the_window_and_removing_it_restores_the_package(world) -> None:  # type: ignore[no-untyped-def]
    holidays.seed(SYSTEM, world.region_id)
    admin = world.actors["admin"]
    holidays.mark_day(admin, world.region_id, date(2025, 10, 9), "holiday", "Local flood day off")
    dates = cycles.default_dates("2025Q3", world.region_id)
    assert (dates.application_opens, dates.application_closes) == (date(2025, 10, 10), date(2025, 10, 29))
    log = last_log("holidays.marked")
    assert log.actor_id == world.users["admin"] and log.data["before"] is None
    assert log.data == {"date": "2025-10-09", "kind": "holiday", "name": "Local flood day off", "before": None}

    holidays.mark_day(admin, world.region_id, date(2025, 10, 8), "workday", "Office open")
    assert cycles.default_dates("2025Q3", world.region_id).application_opens == date(2025, 10, 8)
    assert last_log("holidays.marked").data["before"] == {"kind": "holiday", "name": "national_day",
                                                          "source": "chinese-calendar"}
    restored = holidays.remove_mark(admin, world.region_id, date(2025, 10, 8))
    assert restored is not None and entry(world.region_id, date(2025, 10, 8)) == ("holiday", "national_day",
                                                                                 "chinese-calendar")
    assert last_log("holidays.unmarked").data["restored"] == {"kind": "holiday", "name": "national_day",
                                                              "source": "chinese-calendar"}
    assert holidays.remove_mark(admin, world.region_id, date(2025, 10, 9)) is None  # the package has no entry
    assert cycles.default_dates("2025Q3", world.region_id).application_opens == date(2025, 10, 9)
    with pytest.raises(ValidationFailed) as refused:  # only admin marks can be taken back
        holidays.remove_mark(admin, world.region_id, date(2025, 10, 1))
    assert "day" in refused.value.errors
    assert entry(world.region_id, date(2025, 10, 1))[2] == "chinese-calendar"


def test_marks_are_checked(world) -> None:  # type: ignore[no-untyped-def]
    clear_calendar(world)  # the world comes with its deadlines' calendar (tests/factories.py)
    with pytest.raises(ValidationFailed) as refused:
        holidays.mark_day(world.actors["admin"], world.region_id, None, "weekend", " ")
    assert set(refused.value.errors) == {"day", "kind", "name"}
    with pytest.raises(ValidationFailed) as refused:
        holidays.mark_day(world.actors["admin"], world.region_id, date(2025, 1, 2), "holiday", "x" * 101)
    assert set(refused.value.errors) == {"name"}
    assert db.session.scalar(db.select(db.func.count()).select_from(Holiday)) == 0


@pytest.mark.clock_shift
def test_a_year_the_calendar_lacks_is_refused_naming_the_year(world) -> None:  # type: ignore[no-untyped-def]
    clear_calendar(world)  # the world comes with its deadlines' calendar (tests/factories.py)
    with pytest.raises(ValidationFailed) as refused:  # nothing seeded: not even 2025 is known
        cycles.default_dates("2025Q3", world.region_id)
    assert "2025" in refused.value.errors["code"][0]
    holidays.seed(SYSTEM, world.region_id)
    with pytest.raises(ValidationFailed) as refused:  # chinese-calendar 1.11.0 stops at 2026
        cycles.default_dates("2026Q4", world.region_id)
    assert "2027" in refused.value.errors["code"][0]
    with pytest.raises(ValidationFailed) as refused:  # and the cycle form's empty dates are not guessed either
        cycles.create_cycle(world.actors["staff"], world.region_id, "2026Q4", None, None, None, None, None)
    assert any("2027" in message for message in refused.value.errors["code"])
    with pytest.raises(ValidationFailed) as refused:
        holidays.seed(world.actors["admin"], world.region_id, [2027])
    assert "2027" in refused.value.errors["year"][0] and "2026" in refused.value.errors["year"][0]
    # The admin enters 2027 by hand: its first mark puts the year in the calendar.
    holidays.mark_day(world.actors["admin"], world.region_id, date(2027, 1, 1), "holiday", "元旦")
    assert 2027 in holidays.covered_years(world.region_id)
    assert cycles.default_dates("2026Q4", world.region_id).application_opens == date(2027, 1, 4)
    created = cycles.create_cycle(world.actors["staff"], world.region_id, "2026Q4", None, None, None, None, None)
    assert created.application_opens == date(2027, 1, 4)


@pytest.mark.parametrize("role", ["staff", "auditor", "hosp1", "expert1"])
def test_only_an_admin_edits_the_calendar(world, role) -> None:  # type: ignore[no-untyped-def]
    actor = world.actors[role]
    with pytest.raises(PermissionDenied):
        holidays.seed(actor, world.region_id, [2025])
    with pytest.raises(PermissionDenied):
        holidays.mark_day(actor, world.region_id, date(2025, 10, 9), "holiday", "x")
    holidays.mark_day(world.actors["admin"], world.region_id, date(2025, 10, 10), "holiday", "y")
    with pytest.raises(PermissionDenied):
        holidays.remove_mark(actor, world.region_id, date(2025, 10, 10))
    assert [row.day for row in holidays.year_days(world.region_id, 2025)] == [date(2025, 10, 10)]


def test_the_seed_command(app, world) -> None:  # type: ignore[no-untyped-def]
    clear_calendar(world)  # the world comes with its deadlines' calendar (tests/factories.py)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["holidays", "seed", "--region", "T01"])
    assert first.exit_code == 0 and "T01:" in first.output and "2004–2026" in first.output
    assert holidays.covered_years(world.region_id)[-1] == 2026
    again = runner.invoke(args=["holidays", "seed"])
    assert again.exit_code == 0 and "T01: 0 days added" in again.output
    unknown = runner.invoke(args=["holidays", "seed", "--region", "NOPE"])
    assert unknown.exit_code == 1 and "NOPE" in unknown.output
