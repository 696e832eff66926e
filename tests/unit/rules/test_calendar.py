from datetime import date, timedelta

import pytest

from models.calendar import WorkingCalendar, YearCalendar
from rules.calendar import (
    CalendarYearUnknown,
    is_working_day,
    latest_day_to_count_from,
    nth_working_day_after,
)
from rules.calendar_source import build_calendar


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return build_calendar([2024, 2025, 2026])


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 9, 26), True),  # Friday
        (date(2025, 9, 27), False),  # Saturday
        (date(2025, 9, 28), True),  # Sunday, make-up workday 调休
        (date(2025, 10, 11), True),  # Saturday, make-up workday 调休
        (date(2025, 10, 12), False),  # Sunday
        (date(2025, 10, 9), True),  # first day back
    ]
    + [(date(2025, 10, d), False) for d in range(1, 9)],  # National Day and Mid-Autumn
)
def test_real_2025_calendar(calendar: WorkingCalendar, day: date, working: bool) -> None:
    assert is_working_day(calendar, day) is working


def test_an_unloaded_year_is_an_error_not_a_weekday_guess() -> None:
    only_2025 = build_calendar([2025])
    with pytest.raises(CalendarYearUnknown) as raised:
        is_working_day(only_2025, date(2026, 1, 5))  # a Monday
    assert raised.value.year == 2026
    assert "config/calendar_overrides.json" in str(raised.value)
    with pytest.raises(CalendarYearUnknown):
        nth_working_day_after(only_2025, date(2025, 12, 30), 5)  # runs into 2026


def test_calendar_year_unknown_survives_pickling() -> None:
    import pickle

    copy = pickle.loads(pickle.dumps(CalendarYearUnknown(2031)))
    assert copy.year == 2031
    assert str(copy) == str(CalendarYearUnknown(2031))


def test_nth_working_day_after_skips_national_day(calendar: WorkingCalendar) -> None:
    assert nth_working_day_after(calendar, date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert nth_working_day_after(calendar, date(2025, 9, 30), 5) == date(2025, 10, 14)
    assert nth_working_day_after(calendar, date(2025, 9, 26), 1) == date(2025, 9, 28)


def test_nth_working_day_after_needs_a_positive_n(calendar: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        nth_working_day_after(calendar, date(2025, 9, 1), 0)


def test_latest_day_to_count_from_by_hand(calendar: WorkingCalendar) -> None:
    # Working days up to Sept 28: 28 (调休), 26, 25, 24, 23 → count from Sept 22 at the latest.
    assert latest_day_to_count_from(calendar, date(2025, 9, 28), 5) == date(2025, 9, 22)
    # Sept 27 is a Saturday: the same five days still fit.
    assert latest_day_to_count_from(calendar, date(2025, 9, 27), 5) == date(2025, 9, 21)
    # Oct 9, 10, 11 (调休), 13, 14: counting from any holiday day up to Oct 8 fits;
    # Sept 30, Oct 9, 10, 11, 13: from Sept 29 at the latest.
    assert latest_day_to_count_from(calendar, date(2025, 10, 14), 5) == date(2025, 10, 8)
    assert latest_day_to_count_from(calendar, date(2025, 10, 13), 5) == date(2025, 9, 29)


def test_latest_day_to_count_from_is_the_latest_that_fits(calendar: WorkingCalendar) -> None:
    for offset in range(365):
        last_end = date(2025, 1, 1) + timedelta(days=offset)
        latest = latest_day_to_count_from(calendar, last_end, 5)
        assert nth_working_day_after(calendar, latest, 5) <= last_end
        assert nth_working_day_after(calendar, latest + timedelta(days=1), 5) > last_end


def test_overridden_year_uses_its_own_deviations() -> None:
    calendar = WorkingCalendar(
        years={2031: YearCalendar(holidays=[date(2031, 1, 1)], workdays=[date(2031, 1, 4)])}
    )
    assert is_working_day(calendar, date(2031, 1, 1)) is False  # Wednesday, holiday
    assert is_working_day(calendar, date(2031, 1, 2)) is True  # Thursday
    assert is_working_day(calendar, date(2031, 1, 4)) is True  # Saturday, make-up workday
    assert is_working_day(calendar, date(2031, 1, 5)) is False  # Sunday
