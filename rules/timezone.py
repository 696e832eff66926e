"""Asia/Shanghai, the official time for Xinjiang (docs/requirements.md, R9)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

# A fixed offset: China has had no DST since 1991, and zoneinfo would read tz files,
# which the Temporal workflow sandbox does not allow.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def to_shanghai(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: an instant needs its offset")
    return instant.astimezone(SHANGHAI)


def shanghai_iso(instant: datetime) -> str:
    """ISO 8601 with +08:00, the form every deadline is shown in."""
    return to_shanghai(instant).isoformat()


def shanghai_date(instant: datetime) -> date:
    return to_shanghai(instant).date()


def start_of_day(day: date) -> datetime:
    """00:00 of `day` in Shanghai, which is also 24:00 of the day before."""
    return datetime.combine(day, time(), SHANGHAI)


def closing_day(instant: datetime) -> tuple[date, bool]:
    """The Shanghai day an end instant closes, and whether it closes at 24:00: an end at
    00:00 is 24:00 of the day before, as notices write it (R13)."""
    local = to_shanghai(instant)
    at_midnight = local.time() == time(0)
    return (local - timedelta(days=1)).date() if at_midnight else local.date(), at_midnight


def _local(value: str | datetime) -> datetime:
    return to_shanghai(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _zone(local: datetime) -> str:
    offset = local.strftime("%z")  # +0800
    return f"（北京时间 UTC{offset[:3]}:{offset[3:]}）"


def _cn_end(local: datetime) -> str:
    day, at_midnight = closing_day(local)
    return f"{day:%Y年%m月%d日} {'24:00' if at_midnight else f'{local:%H:%M}'}"


def cn_moment(value: str | datetime) -> str:
    """An instant without its offset, for a sentence on a page that says the offset once:
    '2025年10月03日 14:00'; a close at midnight as 24:00 of the day before."""
    return _cn_end(_local(value))


def cn_datetime(value: str | datetime) -> str:
    """'2025-10-03T06:00:00Z' -> '2025年10月03日 14:00（北京时间 UTC+08:00）'. A deadline at
    midnight reads as 24:00 of the day before, as official notices write it (R13: 'ends at
    24:00 of the 5th working day')."""
    local = _local(value)
    return _cn_end(local) + _zone(local)


def cn_window(opens_at: str | datetime, closes_at: str | datetime, zone: bool = True) -> str:
    """A window as people read it, the offset said once: '2025年09月01日 00:00至2025年09月29日
    24:00（北京时间 UTC+08:00）' (a close at midnight is 24:00 of the day before); `zone` False:
    without the offset, on a page that says it once for every time on it."""
    opens, closes = _local(opens_at), _local(closes_at)
    return f"{opens:%Y年%m月%d日 %H:%M}至{_cn_end(closes)}{_zone(closes) if zone else ''}"
