"""Working days by a published calendar: weekends off, public holidays off, make-up working days (调休) on.

The State Council publishes each year's holidays and make-up working days late in the year before, so a calendar
covers some years and not others. A count that reaches a year the calendar does not cover is refused with that
year named (`CalendarMissing`), never answered by falling back to Monday to Friday: 1 October would then pass for
a working day.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from workflows.problems import ProblemError

ONE_DAY = timedelta(days=1)


class CalendarMissing(ProblemError):
    """A count reached a year the calendar does not cover; the problem names the year for the shell to word."""

    def __init__(self, year: int) -> None:
        super().__init__("calendar.year_missing", year=year)
        self.year = year


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days are worked in the years it covers.

    `holidays` are days off (a holiday may fall on a weekend: the whole Golden Week is listed); `workdays` are days
    worked that Monday to Friday would not give (the weekend days of 调休). Every other day of a covered year is a
    working day exactly when it is Monday to Friday.
    """

    years: frozenset[int]
    holidays: frozenset[date]
    workdays: frozenset[date]

    @classmethod
    def of(cls, years: Iterable[int], holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> WorkingCalendar:
        return cls(frozenset(years), frozenset(holidays), frozenset(workdays))

    def __post_init__(self) -> None:
        both = self.holidays & self.workdays
        if both:
            raise ValueError(f"a day cannot be both a holiday and a working day: {min(both).isoformat()}")
        outside = sorted({day.year for day in self.holidays | self.workdays} - self.years)
        if outside:
            raise ValueError(f"holidays or working days given for years the calendar does not cover: {outside}")

    def covers(self, year: int) -> bool:
        return year in self.years

    def is_working_day(self, day: date) -> bool:
        if day.year not in self.years:
            raise CalendarMissing(day.year)
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def nth_working_day_on_or_after(self, start: date, n: int) -> date:
        """The n-th working day counting `start` itself as the first candidate (n=1: `start` if it is worked)."""
        if n < 1:
            raise ValueError("n counts working days from 1")
        day, found = start, 0
        while True:
            if self.is_working_day(day):
                found += 1
                if found == n:
                    return day
            day += ONE_DAY

    def add_working_days(self, start: date, n: int) -> date:
        """The day n working days after `start` (`start` itself is not counted); adding none leaves `start` as is."""
        if n < 0:
            raise ValueError("n must be 0 or more")
        return start if n == 0 else self.nth_working_day_on_or_after(start + ONE_DAY, n)
