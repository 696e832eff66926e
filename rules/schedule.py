"""The yearly Schedule that starts each round: its default moment and the year it names."""

from __future__ import annotations

from datetime import datetime

from rules.timezone import to_shanghai

SCHEDULE_ID = "zhicheng-yearly-round"
SCHEDULE_TIME_ZONE = "Asia/Shanghai"
# The notice is dated Aug 28; the round opens submission Sept 1 (R9).
DEFAULT_MONTH, DEFAULT_DAY, DEFAULT_HOUR, DEFAULT_MINUTE = 8, 28, 9, 0


def round_year_of(scheduled_at: datetime) -> int:
    """The round a scheduled start belongs to: its year in Asia/Shanghai."""
    return to_shanghai(scheduled_at).year


def calendar_warning(
    next_run: datetime | None, known: bool, now: datetime, warn_days: int
) -> str | None:
    """Why the Schedule's next run is in danger: its year has no working-day calendar loaded
    (R13: no publicity of the round could be counted, so the round would refuse to start),
    said from `warn_days` before the run; None otherwise."""
    if next_run is None or known:
        return None
    days = (next_run - now).days
    if days > warn_days:
        return None
    year = round_year_of(next_run)
    return (
        f"no working-day calendar for {year} is loaded and the next run is in {max(days, 0)} "
        f"days: load the State Council's notice (starter.py calendar import FILE)"
    )


def next_default_run(now: datetime) -> datetime:
    """The default Schedule's next run after `now`: Aug 28 09:00 Asia/Shanghai (R9)."""
    local = to_shanghai(now)
    run = local.replace(
        month=DEFAULT_MONTH, day=DEFAULT_DAY, hour=DEFAULT_HOUR, minute=DEFAULT_MINUTE,
        second=0, microsecond=0,
    )  # fmt: skip
    return run if run > local else run.replace(year=run.year + 1)
