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
