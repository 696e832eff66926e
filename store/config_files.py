"""The operator's configuration files: a round's config/rounds/{year}.json and its committee
file, read into the Round's input with one-line errors that name the file and the field; and
the working-day calendar's override table, into which a year is imported."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from models.calendar import WorkingCalendar, YearCalendar
from models.round import (
    Committee,
    ListingSource,
    RoundConfig,
    RoundInput,
)
from models.validation import strictly, validation_summary
from rules.calendar import CalendarYearUnknown
from rules.calendar_source import (
    ImportedYear,
    build_calendar,
    load_overrides,
    override_entry,
    year_from_package,
)
from rules.round_plan import default_round_config
from rules.timezone import SHANGHAI
from settings import Settings
from store.files import synced_temporary


class InputError(ValueError):
    """Bad operator input. The message is one line and starts with where: a file, a field."""


def parse_json_object(text: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object {{...}}, got {type(data).__name__}")
    return data


def read_json_object(path: Path, where: str | None = None) -> dict[str, Any]:
    """A JSON object from a file; `where` is how messages name it (default: the path)."""
    where = where or str(path)
    try:
        # utf-8-sig: files saved by Windows editors often start with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{where}: is a directory, not a JSON file") from None
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{where}: cannot read: {exc.strerror}") from None
    return parse_json_object(text, where)


def round_config_path(year: int, settings: Settings) -> Path:
    return settings.rounds_dir / f"{year}.json"


def round_calendar(year: int, overrides: Mapping[int, YearCalendar]) -> WorkingCalendar:
    """The round year's calendar, plus the next year's when known (a result publicity can
    run into January); an unknown round year raises CalendarYearUnknown."""
    try:
        return build_calendar([year, year + 1], overrides)
    except CalendarYearUnknown as exc:
        if exc.year != year + 1:
            raise
    return build_calendar([year], overrides)


def round_config_for(year: int, settings: Settings) -> RoundConfig:
    """`config/rounds/{year}.json` (a RoundConfig without its calendar) if present, else the
    notice's pattern; the calendar from chinesecalendar and the override table."""
    try:
        overrides = load_overrides(settings.calendar_overrides)
    except ValueError as exc:  # its message names the file and the entry
        raise InputError(str(exc)) from None
    calendar = round_calendar(year, overrides)
    path = round_config_path(year, settings)
    if not path.exists():
        return default_round_config(year, calendar)
    data = read_json_object(path)
    if "calendar" in data:
        raise InputError(
            f"{path}: calendar: leave it out; the calendar comes from chinesecalendar and "
            f"{settings.calendar_overrides}"
        )
    if data.setdefault("year", year) != year:
        raise InputError(f"{path}: year: {data['year']!r} does not match the file name")
    try:
        return strictly(RoundConfig, data | {"calendar": calendar})
    except ValidationError as exc:
        raise InputError(f"{path}: {validation_summary(exc)}") from None


def round_input_for(
    year: int,
    settings: Settings,
    *,
    listing: ListingSource = ListingSource.visibility,
    committee_file: Path | None = None,
    **fields: Any,
) -> RoundInput:
    """The Round's input: the year's configuration (round_config_for: an unknown calendar
    year raises CalendarYearUnknown, naming the year and the override file) and the
    committee from `committee_file`, else `config/rounds/{year}.committee.json` if present."""
    config = round_config_for(year, settings)
    path = committee_file or settings.rounds_dir / f"{year}.committee.json"
    committee = None
    if committee_file is not None or path.exists():
        data = read_json_object(path)
        try:
            committee = strictly(Committee, data)
        except ValidationError as exc:
            raise InputError(f"{path}: {validation_summary(exc)}") from None
    try:
        return RoundInput(config=config, committee=committee, listing=listing, **fields)
    except ValidationError as exc:
        raise InputError(validation_summary(exc)) from None


# --- the working-day calendar's override table (`starter.py calendar import|show`) ----------


@dataclass(frozen=True)
class CalendarYearInfo:
    """A year's working-day calendar as the system will use it, and where it comes from."""

    year: int
    calendar: YearCalendar | None  # None: unknown (neither the override table nor the package)
    origin: str  # "override table" or "chinesecalendar"; "" when unknown
    source: str | None = None  # the file an imported year came from
    imported_at: str | None = None
    names: Mapping[str, str] | None = None  # each listed day → the holiday it belongs to


def calendar_year_info(year: int, settings: Settings) -> CalendarYearInfo:
    path = settings.calendar_overrides
    try:
        overrides = load_overrides(path)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if year in overrides:
        entry = json.loads(path.read_text(encoding="utf-8")).get(str(year), {})
        return CalendarYearInfo(
            year=year,
            calendar=overrides[year],
            origin="override table",
            source=entry.get("source"),
            imported_at=entry.get("imported_at"),
            names=entry.get("names"),
        )
    try:
        return CalendarYearInfo(
            year=year, calendar=year_from_package(year), origin="chinesecalendar"
        )
    except CalendarYearUnknown:
        return CalendarYearInfo(year=year, calendar=None, origin="")


def import_calendar_year(
    imported: ImportedYear, source: str, settings: Settings, *, replace: bool = False
) -> Path:
    """Write an imported year into the override table (atomically: a crash leaves the old
    table). A year already in the table is replaced only with `replace`."""
    path = settings.calendar_overrides
    try:
        load_overrides(path)  # a broken table is not overwritten
    except ValueError as exc:
        raise InputError(str(exc)) from None
    table: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    key = str(imported.year)
    if key in table and not replace:
        raise InputError(f"{path}: {key} is in the table already (--replace replaces it)")
    table[key] = override_entry(
        imported, source, datetime.now(SHANGHAI).isoformat(timespec="seconds")
    )
    text = json.dumps(dict(sorted(table.items())), ensure_ascii=False, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = synced_temporary(path.parent, text.encode("utf-8"))
    try:
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
