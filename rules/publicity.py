"""R13 (and R20's result publicity): how long a publicity runs."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.calendar import WorkingCalendar
from models.round import RoundConfig
from rules.calendar import ONE_DAY, nth_working_day_after
from rules.timezone import shanghai_date, start_of_day


def publicity_ends_at(
    calendar: WorkingCalendar, starts_at: datetime, working_days: int = 5
) -> datetime:
    """R13 (interp.): counting starts the calendar day after the publicity starts, so every
    counted day is a full one; it ends at 24:00 (00:00 of the next day, +08:00) of the
    `working_days`-th working day."""
    last_day = nth_working_day_after(calendar, shanghai_date(starts_at), working_days)
    return start_of_day(last_day + ONE_DAY)


def round_publicity_ends_at(config: RoundConfig, starts_at: datetime) -> datetime:
    """R13/R20 with the round's settings; a drill round (rehearsals, benchmarks) counts
    `drill_publicity_seconds` instead of working days."""
    if config.drill_publicity_seconds is not None:
        return starts_at + timedelta(seconds=config.drill_publicity_seconds)
    return publicity_ends_at(config.calendar, starts_at, config.publicity_working_days)
