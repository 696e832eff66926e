"""Adapter from `chinesecalendar` and the local override file to `WorkingCalendar` data.

Not for workflows: it imports the calendar package and reads a file. Activities, the worker
and the starter build the calendar here and pass it into workflows as data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import chinese_calendar

from models.calendar import WorkingCalendar, YearCalendar
from rules.calendar import ONE_DAY, CalendarYearUnknown

DEFAULT_OVERRIDES_PATH = Path(__file__).resolve().parent.parent / "config/calendar_overrides.json"


def year_from_package(year: int) -> YearCalendar:
    """The year's deviations from Monday–Friday according to `chinesecalendar`."""
    holidays: list[date] = []
    workdays: list[date] = []
    day = date(year, 1, 1)
    try:
        while day.year == year:
            is_weekend = day.weekday() >= 5
            working = chinese_calendar.is_workday(day)
            if working and is_weekend:
                workdays.append(day)
            elif not working and not is_weekend:
                holidays.append(day)
            day += ONE_DAY
    except NotImplementedError:
        raise CalendarYearUnknown(year) from None
    return YearCalendar(holidays=holidays, workdays=workdays)


def load_overrides(path: Path) -> dict[int, YearCalendar]:
    """Read `{"2027": {"holidays": ["2027-01-01", ...], "workdays": [...]}}`; no file → {}."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object keyed by year")
    return {_year_key(path, key): _year_entry(path, key, entry) for key, entry in data.items()}


def _year_key(path: Path, key: str) -> int:
    if not (len(key) == 4 and key.isdigit()):
        raise ValueError(f'{path}: "{key}": a key must be a four-digit year')
    return int(key)


def _year_entry(path: Path, key: str, entry: object) -> YearCalendar:
    where = f'{path}: "{key}"'
    if not isinstance(entry, dict):
        raise ValueError(f'{where}: expected {{"holidays": [...], "workdays": [...]}}')
    unknown = sorted(set(entry) - {"holidays", "workdays"})
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    holidays = _dates(where, int(key), "holidays", entry.get("holidays", []))
    workdays = _dates(where, int(key), "workdays", entry.get("workdays", []))
    both = sorted(set(holidays) & set(workdays))
    if both:
        raise ValueError(f"{where}: {both[0].isoformat()} is both a holiday and a workday")
    return YearCalendar(holidays=holidays, workdays=workdays)


def _dates(where: str, year: int, name: str, values: object) -> list[date]:
    if not isinstance(values, list):
        raise ValueError(f"{where}.{name}: expected a list of YYYY-MM-DD dates")
    days: list[date] = []
    for index, value in enumerate(values):
        at = f"{where}.{name}[{index}]"
        try:
            day = date.fromisoformat(value)
        except (TypeError, ValueError):
            raise ValueError(f"{at}: {value!r} is not a YYYY-MM-DD date") from None
        if day.year != year:
            raise ValueError(f"{at}: {value} is not in {year}")
        days.append(day)
    return sorted(set(days))


def build_calendar(
    years: Iterable[int], overrides: Mapping[int, YearCalendar] | None = None
) -> WorkingCalendar:
    """Overrides win over the package; a year in neither raises CalendarYearUnknown."""
    overrides = overrides or {}
    return WorkingCalendar(
        years={
            year: overrides[year] if year in overrides else year_from_package(year)
            for year in sorted(set(years))
        }
    )
