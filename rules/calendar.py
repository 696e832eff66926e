"""Working days on the Chinese statutory calendar (R13): pure, over `WorkingCalendar` data."""

from __future__ import annotations

from datetime import date, timedelta

from models.calendar import WorkingCalendar

ONE_DAY = timedelta(days=1)


class CalendarYearUnknown(ValueError):
    """A date in a year the calendar does not know: never guess Monday–Friday for a deadline."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"working-day calendar for {year} is not loaded: add its holidays and make-up "
            "workdays to config/calendar_overrides.json (chinesecalendar knows 2004–2026)"
        )

    def __reduce__(self) -> tuple[type[CalendarYearUnknown], tuple[int]]:
        return type(self), (self.year,)


def is_working_day(calendar: WorkingCalendar, day: date) -> bool:
    """R13: Monday–Friday except holidays, plus make-up workdays 调休."""
    year = calendar.years.get(day.year)
    if year is None:
        raise CalendarYearUnknown(day.year)
    is_weekday = day.weekday() < 5
    return (is_weekday and day not in year.holidays) or day in year.workdays


def nth_working_day_after(calendar: WorkingCalendar, day: date, n: int) -> date:
    """The n-th working day strictly after `day` (n >= 1)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    while n:
        day += ONE_DAY
        n -= is_working_day(calendar, day)
    return day


def latest_day_to_count_from(calendar: WorkingCalendar, last_allowed_end_day: date, n: int) -> date:
    """The latest day D with nth_working_day_after(D, n) <= last_allowed_end_day.

    That is the day before the n-th working day counted backwards from
    `last_allowed_end_day` (inclusive).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    day = last_allowed_end_day + ONE_DAY
    while n:
        day -= ONE_DAY
        n -= is_working_day(calendar, day)
    return day - ONE_DAY
