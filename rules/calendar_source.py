"""Adapter from `chinesecalendar` and the local override file to `WorkingCalendar` data.

Not for workflows: it imports the calendar package and reads a file. Activities, the worker
and the starter build the calendar here and pass it into workflows as data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


# What an entry may hold besides its days: where it came from (`calendar import`), for
# `calendar show`; the days' names. The working-day rules read only holidays and workdays.
ENTRY_NOTES = {"source", "imported_at", "names"}


def _year_entry(path: Path, key: str, entry: object) -> YearCalendar:
    where = f'{path}: "{key}"'
    if not isinstance(entry, dict):
        raise ValueError(f'{where}: expected {{"holidays": [...], "workdays": [...]}}')
    unknown = sorted(set(entry) - {"holidays", "workdays"} - ENTRY_NOTES)
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


# --- a year from the State Council's notice (`starter.py calendar import`) ------------------


@dataclass(frozen=True)
class ImportedYear:
    """A year's holidays and make-up workdays as a holiday-cn file gives them (its `days`:
    name, date, whether the day is off), with each day's name."""

    year: int
    calendar: YearCalendar
    names: dict[date, str]  # every listed day (off days and make-up workdays) → its name


def _line_of(text: str, needle: str, after: int = 0) -> int:
    """The 1-based line of the first `needle` at or after offset `after` (0 when absent)."""
    found = text.find(needle, after)
    return text.count("\n", 0, found) + 1 if found >= 0 else 0


def parse_holiday_cn(text: str, source: str) -> ImportedYear:
    """A year file in holiday-cn's format (`{"year": 2027, "days": [{"name": "元旦", "date":
    "2027-01-01", "isOffDay": true}, ...]}`): each day inside the year, none twice, each
    named. An off day on a weekday is a holiday, a day that is not off a make-up workday;
    off days that fall on a weekend change nothing. Errors name `source` and the line."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("days"), list):
        raise ValueError(f'{source}:1: expected {{"year": YYYY, "days": [...]}} (holiday-cn)')
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        line = _line_of(text, '"year"')
        raise ValueError(f"{source}:{line}: year: {year!r} is not a year")
    holidays: list[date] = []
    workdays: list[date] = []
    names: dict[date, str] = {}
    offset = 0
    for index, entry in enumerate(data["days"]):
        value = entry.get("date") if isinstance(entry, dict) else None
        line = _line_of(text, f'"{value}"', offset) if isinstance(value, str) else 0
        if line:
            offset = text.find(f'"{value}"', offset) + 1
        at = f"{source}:{line or '?'}: days[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{at}: expected an object with name, date and isOffDay")
        try:
            day = date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            day = None
        if day is None:
            raise ValueError(f"{at}: date {value!r} is not a YYYY-MM-DD date")
        if day.year != year:
            raise ValueError(f"{at}: {day.isoformat()} is not in {year}")
        if day in names:
            raise ValueError(f"{at}: {day.isoformat()} is listed twice")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{at}: {day.isoformat()} has no name (the holiday it belongs to)")
        off = entry.get("isOffDay")
        if not isinstance(off, bool):
            raise ValueError(f"{at}: isOffDay must be true or false")
        names[day] = name.strip()
        weekend = day.weekday() >= 5
        if off and not weekend:
            holidays.append(day)
        elif not off and weekend:
            workdays.append(day)
        elif not off:
            raise ValueError(
                f"{at}: {day.isoformat()} is a weekday: it cannot be a make-up workday"
            )
    if not names:
        raise ValueError(f"{source}:1: days: no day listed for {year}")
    return ImportedYear(
        year=year,
        calendar=YearCalendar(holidays=sorted(holidays), workdays=sorted(workdays)),
        names=names,
    )


def override_entry(imported: ImportedYear, source: str, imported_at: str) -> dict[str, object]:
    """The override file's entry of an imported year."""
    return {
        "holidays": [day.isoformat() for day in imported.calendar.holidays],
        "workdays": [day.isoformat() for day in imported.calendar.workdays],
        "names": {day.isoformat(): name for day, name in sorted(imported.names.items())},
        "source": source,
        "imported_at": imported_at,
    }
