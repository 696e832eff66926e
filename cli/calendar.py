"""`calendar import|show`: the working-day calendar's years (R13, R20: publicities count
working days). chinesecalendar knows the years up to its release; the State Council announces
the next year's holidays between late October and early December, so a year can be loaded
from its notice, in holiday-cn's format, into the override table before the round needs it."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.common import PROG
from cli.exits import EXIT_OK, bad_input, refused
from cli.output import print_json
from rules.calendar_source import parse_holiday_cn
from settings import Settings
from store.config_files import InputError, calendar_year_info, import_calendar_year


async def cmd_calendar_import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise bad_input(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise bad_input(f"{path}: not UTF-8 text") from None
    try:
        imported = parse_holiday_cn(text, str(path))
        written = import_calendar_year(imported, path.name, settings, replace=args.replace)
    except (ValueError, InputError) as exc:
        raise bad_input(str(exc)) from None
    calendar = imported.calendar
    print(
        f"{imported.year}: {len(calendar.holidays)} holidays on weekdays, "
        f"{len(calendar.workdays)} make-up workdays, from {path.name}, written to {written}"
    )
    print(f"see: {PROG} calendar show {imported.year}")
    return EXIT_OK


async def cmd_calendar_show(args: argparse.Namespace, settings: Settings) -> int:
    try:
        info = calendar_year_info(args.year, settings)
    except InputError as exc:
        raise bad_input(str(exc)) from None
    if info.calendar is None:
        raise refused(
            "CalendarUnknown",
            f"{args.year}: no working-day calendar loaded (chinesecalendar does not know it and "
            f"{settings.calendar_overrides} has no entry); load the State Council's notice with "
            f"{PROG} calendar import FILE",
        )
    names = dict(info.names or {})
    if args.json:
        print_json(
            {
                "year": info.year,
                "origin": info.origin,
                "source": info.source,
                "imported_at": info.imported_at,
                "holidays": [d.isoformat() for d in info.calendar.holidays],
                "workdays": [d.isoformat() for d in info.calendar.workdays],
                "names": names,
            }
        )
        return EXIT_OK
    where = info.origin
    if info.source:
        where += f" ({info.source}, imported {info.imported_at})"
    print(f"{info.year}: {where}")
    for title, days in (("holidays", info.calendar.holidays), ("workdays", info.calendar.workdays)):
        listed = ", ".join(
            f"{d:%m-%d}{' ' + names[d.isoformat()] if d.isoformat() in names else ''}" for d in days
        )
        print(f"  {title} ({len(days)}): {listed or 'none'}")
    return EXIT_OK
