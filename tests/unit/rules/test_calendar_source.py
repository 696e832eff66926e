import json
from datetime import date
from pathlib import Path

import pytest

from models.calendar import YearCalendar
from rules.calendar import CalendarYearUnknown, is_working_day
from rules.calendar_source import (
    DEFAULT_OVERRIDES_PATH,
    build_calendar,
    load_overrides,
    year_from_package,
)


def test_package_2025_has_the_known_deviations() -> None:
    year = year_from_package(2025)
    assert date(2025, 9, 28) in year.workdays and date(2025, 10, 11) in year.workdays
    october_weekdays_off = [date(2025, 10, d) for d in (1, 2, 3, 6, 7, 8)]  # in Oct 1–8
    assert [d for d in year.holidays if d.month == 10] == october_weekdays_off
    assert all(d.weekday() >= 5 for d in year.workdays)
    assert all(d.weekday() < 5 for d in year.holidays)


def test_year_unknown_to_package_and_overrides() -> None:
    with pytest.raises(CalendarYearUnknown) as raised:
        build_calendar([2031])
    assert raised.value.year == 2031
    assert str(raised.value) == (
        "working-day calendar for 2031 is not loaded: add its holidays and make-up workdays to"
        " config/calendar_overrides.json (chinesecalendar knows 2004–2026)"
    )


def test_override_year_is_used(tmp_path: Path) -> None:
    path = tmp_path / "calendar_overrides.json"
    path.write_text(
        json.dumps({"2031": {"holidays": ["2031-01-01"], "workdays": ["2031-01-04"]}}),
        encoding="utf-8",
    )
    calendar = build_calendar([2031], load_overrides(path))
    assert is_working_day(calendar, date(2031, 1, 1)) is False
    assert is_working_day(calendar, date(2031, 1, 4)) is True
    assert is_working_day(calendar, date(2031, 1, 6)) is True


def test_overrides_win_over_the_package() -> None:
    calendar = build_calendar([2025], {2025: YearCalendar()})
    assert is_working_day(calendar, date(2025, 10, 1)) is True  # a plain Wednesday now
    assert is_working_day(calendar, date(2025, 9, 28)) is False


def test_missing_file_means_no_overrides(tmp_path: Path) -> None:
    assert load_overrides(tmp_path / "absent.json") == {}


def test_shipped_override_file_loads() -> None:
    assert load_overrides(DEFAULT_OVERRIDES_PATH) == {}


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected an object keyed by year"),
        ('{"27": {}}', '"27": a key must be a four-digit year'),
        ('{"2027": []}', '"2027": expected'),
        ('{"2027": {"holiday": []}}', '"2027": unknown field(s) holiday'),
        ('{"2027": {"holidays": "2027-01-01"}}', '"2027".holidays: expected a list'),
        (
            '{"2027": {"holidays": ["2027-01-01", "2027-02-30"]}}',
            "\"2027\".holidays[1]: '2027-02-30' is not a YYYY-MM-DD date",
        ),
        ('{"2027": {"workdays": [20270101]}}', '"2027".workdays[0]: 20270101 is not'),
        ('{"2027": {"holidays": ["2026-12-31"]}}', '"2027".holidays[0]: 2026-12-31 is not in 2027'),
        (
            '{"2027": {"holidays": ["2027-01-02"], "workdays": ["2027-01-02"]}}',
            '"2027": 2027-01-02 is both a holiday and a workday',
        ),
    ],
)
def test_malformed_overrides_name_file_and_key(tmp_path: Path, content: str, where: str) -> None:
    path = tmp_path / "config" / "calendar_overrides.json"
    path.parent.mkdir()
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as raised:
        load_overrides(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert where in message
