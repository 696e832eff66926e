"""`starter.py calendar import`: a year from the State Council's notice in holiday-cn's format
(rules/calendar_source.py parse_holiday_cn), checked — every date inside the year, none
twice, each day named — with the line at fault; written to the override table
(store/config_files.py) and read back by the rules; the warning before the Schedule's run."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from rules.calendar_source import build_calendar, load_overrides, parse_holiday_cn
from rules.schedule import calendar_warning
from settings import load_settings
from store.config_files import InputError, calendar_year_info, import_calendar_year

GOOD_2031 = """{
  "$schema": "https://raw.githubusercontent.com/NateScarlet/holiday-cn/master/schema.json",
  "year": 2031,
  "papers": ["http://www.gov.cn/zhengce/content/2030-11/01/content_0000000.htm"],
  "days": [
    {"name": "元旦", "date": "2031-01-01", "isOffDay": true},
    {"name": "春节", "date": "2031-01-22", "isOffDay": true},
    {"name": "春节", "date": "2031-01-25", "isOffDay": true},
    {"name": "春节", "date": "2031-01-26", "isOffDay": false},
    {"name": "国庆节", "date": "2031-10-01", "isOffDay": true}
  ]
}
"""


def test_a_good_year_gives_its_holidays_workdays_and_names() -> None:
    imported = parse_holiday_cn(GOOD_2031, "2031.json")
    assert imported.year == 2031
    # Jan 25 2031 is a Saturday: an off day on a weekend changes nothing
    assert imported.calendar.holidays == [date(2031, 1, 1), date(2031, 1, 22), date(2031, 10, 1)]
    assert imported.calendar.workdays == [date(2031, 1, 26)]  # a Sunday worked (调休)
    assert imported.names[date(2031, 1, 26)] == "春节"


def _broken(old: str, new: str) -> str:
    assert old in GOOD_2031
    return GOOD_2031.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _broken(
                '"isOffDay": true},\n    {"name": "春节"', '"isOffDay": true}\n    {"name": "春节"'
            ),
            "2031.json:7: not valid JSON",
        ),
        (
            _broken('"date": "2031-10-01"', '"date": "2032-10-01"'),
            "2031.json:10: days[4]: 2032-10-01 is not in 2031",
        ),
        (
            _broken('"date": "2031-01-25"', '"date": "2031-01-22"'),
            "2031.json:8: days[2]: 2031-01-22 is listed twice",
        ),
        (
            _broken('{"name": "春节", "date": "2031-01-22"', '{"name": " ", "date": "2031-01-22"'),
            "2031.json:7: days[1]: 2031-01-22 has no name",
        ),
        (
            _broken('"date": "2031-01-01"', '"date": "2031-1-1"'),
            "2031.json:6: days[0]: date '2031-1-1' is not a YYYY-MM-DD date",
        ),
        (
            _broken('"2031-10-01", "isOffDay": true', '"2031-10-01", "isOffDay": "yes"'),
            "2031.json:10: days[4]: isOffDay must be true or false",
        ),
        (
            _broken('"2031-01-26", "isOffDay": false', '"2031-01-27", "isOffDay": false'),
            "2031.json:9: days[3]: 2031-01-27 is a weekday",
        ),
        (_broken('"year": 2031', '"year": "2031"'), "2031.json:3: year: '2031' is not a year"),
    ],
)
def test_a_malformed_file_is_refused_with_the_line_at_fault(text: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_holiday_cn(text, "2031.json")
    assert str(refused.value).startswith(message), str(refused.value)


def test_an_imported_year_is_written_once_and_read_by_the_rules(tmp_path: Path) -> None:
    table = tmp_path / "calendar_overrides.json"
    table.write_text('{"2030": {"holidays": ["2030-01-01"], "workdays": []}}', encoding="utf-8")
    settings = load_settings().model_copy(update={"calendar_overrides": table})
    imported = parse_holiday_cn(GOOD_2031, "2031.json")
    assert import_calendar_year(imported, "2031.json", settings) == table
    overrides = load_overrides(table)
    assert set(overrides) == {2030, 2031}  # the other years are kept
    calendar = build_calendar([2031], overrides)
    assert calendar.years[2031].workdays == [date(2031, 1, 26)]
    info = calendar_year_info(2031, settings)
    assert (info.origin, info.source) == ("override table", "2031.json")
    assert info.imported_at is not None and info.imported_at.endswith("+08:00")
    assert json.loads(table.read_text(encoding="utf-8"))["2031"]["names"]["2031-01-01"] == "元旦"
    with pytest.raises(InputError, match="2031 is in the table already"):
        import_calendar_year(imported, "2031.json", settings)
    import_calendar_year(imported, "again.json", settings, replace=True)
    assert calendar_year_info(2031, settings).source == "again.json"
    assert calendar_year_info(2099, settings).calendar is None


def test_the_warning_comes_from_the_configured_days_before_the_run() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    run = datetime(2027, 8, 28, 1, 0, tzinfo=UTC)
    warning = calendar_warning(run, False, now, 365)
    assert warning is not None and "no working-day calendar for 2027" in warning
    assert "in 269 days" in warning
    assert calendar_warning(run, False, now, 200) is None  # not yet
    assert calendar_warning(run, False, run - timedelta(days=200), 200) is not None
    assert calendar_warning(run, True, now, 365) is None  # loaded
    assert calendar_warning(None, False, now, 365) is None


def test_the_next_default_run_is_the_next_august_28() -> None:
    from rules.schedule import next_default_run
    from rules.timezone import SHANGHAI

    assert next_default_run(datetime(2026, 12, 2, tzinfo=UTC)) == datetime(
        2027, 8, 28, 9, 0, tzinfo=SHANGHAI
    )
    after = datetime(2027, 8, 28, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: this year's has passed
    assert next_default_run(after).year == 2028
