"""Working-day counting by a published calendar: the rules any calendar obeys, and 2025's as the State Council
set it."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from workflows.problems import Problem
from workflows.workdays import CalendarMissing, WorkingCalendar

DAY = timedelta(days=1)


def span(first: date, last: date) -> list[date]:
    return [first + DAY * i for i in range((last - first).days + 1)]


# 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号): the days off and the weekend days worked.
HOLIDAYS_2025 = [date(2025, 1, 1), *span(date(2025, 1, 28), date(2025, 2, 4)),
                 *span(date(2025, 4, 4), date(2025, 4, 6)), *span(date(2025, 5, 1), date(2025, 5, 5)),
                 *span(date(2025, 5, 31), date(2025, 6, 2)), *span(date(2025, 10, 1), date(2025, 10, 8))]
WORKDAYS_2025 = [date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28), date(2025, 10, 11)]
CALENDAR_2025 = WorkingCalendar.of([2025], HOLIDAYS_2025, WORKDAYS_2025)


@st.composite
def calendars(draw: st.DrawFn) -> WorkingCalendar:
    """One to three consecutive years with holidays anywhere and make-up working days on weekends."""
    first = draw(st.integers(2020, 2030))
    last = draw(st.integers(first, first + 2))
    days = st.dates(date(first, 1, 1), date(last, 12, 31))
    holidays = draw(st.frozensets(days, max_size=60))
    workdays = draw(st.frozensets(days.filter(lambda d: d.weekday() >= 5), max_size=15)) - holidays
    return WorkingCalendar.of(range(first, last + 1), holidays, workdays)


@st.composite
def counts(draw: st.DrawFn, most: int = 40) -> tuple[WorkingCalendar, date, int]:
    """A calendar, a start day in it far enough from its end for the count to stay inside, and a count."""
    calendar = draw(calendars())
    first, last = min(calendar.years), max(calendar.years)
    start = draw(st.dates(date(first, 1, 1), date(last, 12, 31) - timedelta(days=3 * most)))
    return calendar, start, draw(st.integers(0, most))


def worked_between(calendar: WorkingCalendar, after: date, until: date) -> int:
    """Working days in (after, until], counted one by one."""
    return sum(calendar.is_working_day(day) for day in span(after + DAY, until)) if until > after else 0


def add_or_skip(calendar: WorkingCalendar, start: date, n: int) -> date:
    try:
        return calendar.add_working_days(start, n)
    except CalendarMissing:
        assume(False)  # dense holidays pushed the count out of the drawn years; the refusal has its own test
        raise


@given(calendars(), st.dates(date(1990, 1, 1), date(2100, 12, 31)))
def test_adding_no_working_days_leaves_the_day_as_it_is(calendar: WorkingCalendar, start: date) -> None:
    assert calendar.add_working_days(start, 0) == start


@given(counts())
def test_the_result_is_a_working_day_with_exactly_n_working_days_counted(
        case: tuple[WorkingCalendar, date, int]) -> None:
    calendar, start, n = case
    assume(n >= 1)
    result = add_or_skip(calendar, start, n)
    assert result > start and calendar.is_working_day(result)
    assert worked_between(calendar, start, result) == n


@given(counts())
def test_one_more_working_day_lands_later(case: tuple[WorkingCalendar, date, int]) -> None:
    calendar, start, n = case
    assert add_or_skip(calendar, start, n) < add_or_skip(calendar, start, n + 1)


@given(counts(), st.integers(0, 20))
def test_a_later_start_never_ends_earlier(case: tuple[WorkingCalendar, date, int], later_by: int) -> None:
    calendar, start, n = case
    assert add_or_skip(calendar, start, n) <= add_or_skip(calendar, start + DAY * later_by, n)


@given(counts(most=20), st.integers(0, 20))
def test_adding_in_two_steps_is_adding_once(case: tuple[WorkingCalendar, date, int], more: int) -> None:
    calendar, start, n = case
    assert add_or_skip(calendar, add_or_skip(calendar, start, n), more) == add_or_skip(calendar, start, n + more)


@given(counts())
def test_on_or_after_counts_the_start_itself(case: tuple[WorkingCalendar, date, int]) -> None:
    calendar, start, n = case
    first = calendar.nth_working_day_on_or_after(start, 1)
    assert (first == start) == calendar.is_working_day(start)
    assume(n >= 1)
    try:
        expected = calendar.add_working_days(start - DAY, n)
    except CalendarMissing:
        assume(False)
    assert calendar.nth_working_day_on_or_after(start, n) == expected


@given(st.dates(date(2000, 1, 1), date(2090, 12, 1)), st.integers(1, 20))
def test_without_holidays_working_days_are_monday_to_friday(start: date, n: int) -> None:
    calendar = WorkingCalendar.of(range(2000, 2092))
    assert calendar.is_working_day(start) == (start.weekday() < 5)
    result = calendar.add_working_days(start, n)
    weekdays = [day for day in span(start + DAY, start + DAY * 40) if day.weekday() < 5]
    assert result == weekdays[n - 1]


@given(calendars(), st.data())
def test_a_count_that_leaves_the_covered_years_is_refused_naming_the_year(calendar: WorkingCalendar,
                                                                       data: st.DataObject) -> None:
    last = max(calendar.years)
    start = data.draw(st.dates(date(last, 1, 1), date(last, 12, 31)))
    n = data.draw(st.integers(1, 300))
    left_in_cover = worked_between(calendar, start, date(last, 12, 31))
    if n <= left_in_cover:
        assert calendar.add_working_days(start, n).year <= last
    else:
        with pytest.raises(CalendarMissing) as refused:
            calendar.add_working_days(start, n)
        assert refused.value.problem == Problem("calendar.year_missing", year=last + 1)


def test_a_gap_between_covered_years_is_refused_too() -> None:
    calendar = WorkingCalendar.of([2024, 2026])
    with pytest.raises(CalendarMissing) as refused:
        calendar.add_working_days(date(2024, 12, 30), 5)
    assert refused.value.year == 2025
    with pytest.raises(CalendarMissing) as refused:
        calendar.is_working_day(date(2031, 3, 3))
    assert refused.value.year == 2031


def test_the_start_itself_need_not_be_covered() -> None:
    """The working days after 31 December are counted in the new year's calendar alone."""
    assert WorkingCalendar.of([2025]).add_working_days(date(2024, 12, 31), 1) == date(2025, 1, 1)


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="both"):
        WorkingCalendar.of([2025], [date(2025, 10, 1)], [date(2025, 10, 1)])
    with pytest.raises(ValueError, match="does not cover"):
        WorkingCalendar.of([2025], [date(2026, 1, 1)])
    with pytest.raises(ValueError):
        CALENDAR_2025.add_working_days(date(2025, 3, 3), -1)
    with pytest.raises(ValueError):
        CALENDAR_2025.nth_working_day_on_or_after(date(2025, 3, 3), 0)


def test_national_day_week_2025() -> None:
    assert not any(CALENDAR_2025.is_working_day(day) for day in span(date(2025, 10, 1), date(2025, 10, 8)))
    assert CALENDAR_2025.is_working_day(date(2025, 9, 28)) and date(2025, 9, 28).weekday() == 6  # a Sunday, worked
    assert CALENDAR_2025.is_working_day(date(2025, 10, 11)) and date(2025, 10, 11).weekday() == 5  # a Saturday
    assert CALENDAR_2025.add_working_days(date(2025, 9, 27), 1) == date(2025, 9, 28)
    assert CALENDAR_2025.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    # 9, 10, 11 (Saturday worked), 13–17, 20–24, 27, 28 October
    assert CALENDAR_2025.add_working_days(date(2025, 9, 30), 15) == date(2025, 10, 28)
    assert CALENDAR_2025.nth_working_day_on_or_after(date(2025, 10, 1), 1) == date(2025, 10, 9)


def test_spring_festival_2025() -> None:
    assert not any(CALENDAR_2025.is_working_day(day) for day in span(date(2025, 1, 28), date(2025, 2, 4)))
    assert CALENDAR_2025.is_working_day(date(2025, 1, 26)) and date(2025, 1, 26).weekday() == 6  # a Sunday, worked
    assert CALENDAR_2025.is_working_day(date(2025, 2, 8)) and date(2025, 2, 8).weekday() == 5  # a Saturday, worked
    assert CALENDAR_2025.nth_working_day_on_or_after(date(2025, 1, 25), 1) == date(2025, 1, 26)
    assert CALENDAR_2025.add_working_days(date(2025, 1, 27), 1) == date(2025, 2, 5)
    assert CALENDAR_2025.add_working_days(date(2025, 2, 5), 3) == date(2025, 2, 8)
