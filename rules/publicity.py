"""R13 (and R20's result publicity): how long a publicity runs."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from models.calendar import WorkingCalendar, YearCalendar
from models.round import RoundConfig
from rules.calendar import ONE_DAY, is_working_day, nth_working_day_after
from rules.timezone import cn_moment, shanghai_date, start_of_day


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


WEEKDAYS_ZH = "一二三四五六日"


def _md(day: date) -> str:
    return f"{day.month}月{day.day}日"


def publicity_end_explained(
    calendar: WorkingCalendar, starts_at: datetime, working_days: int = 5
) -> str:
    """R13, for a person: how the publicity's end was counted, e.g. "自2025年9月26日起计5个
    工作日：10月1日至10月8日节假日不计，10月11日（星期六）调休上班计入，至10月10日24:00止"
    (the counting, the holidays skipped and the make-up workdays counted 调休)."""
    first = shanghai_date(starts_at) + ONE_DAY
    last = nth_working_day_after(calendar, shanghai_date(starts_at), working_days)
    days_off: list[list[date]] = []  # runs of consecutive days off
    make_up: list[date] = []
    day = first
    while day <= last:
        if not is_working_day(calendar, day):
            if days_off and days_off[-1][-1] == day - ONE_DAY:
                days_off[-1].append(day)
            else:
                days_off.append([day])
        elif day.weekday() >= 5:
            make_up.append(day)
        day += ONE_DAY

    def is_holiday(day: date) -> bool:
        return day in calendar.years.get(day.year, YearCalendar()).holidays

    holiday_runs = [run for run in days_off if any(is_holiday(d) for d in run)]
    parts = [
        f"{_md(run[0])}节假日不计" if len(run) == 1 else f"{_md(run[0])}至{_md(run[-1])}节假日不计"
        for run in holiday_runs
    ]
    if len(holiday_runs) < len(days_off):
        parts.append("周末不计")
    parts += [f"{_md(d)}（星期{WEEKDAYS_ZH[d.weekday()]}）调休上班计入" for d in make_up]
    counted = "，".join(parts)
    return (
        f"自{first.year}年{_md(first)}起计{working_days}个工作日"
        + (f"：{counted}，" if counted else "，")
        + f"至{_md(last)}24:00止"
    )


def round_publicity_end_explained(config: RoundConfig, starts_at: datetime) -> str:
    """R13/R20, for a person, with the round's settings (as `round_publicity_ends_at` counts):
    the working days counted from the day after `starts_at`, or a drill round's seconds."""
    if config.drill_publicity_seconds is not None:
        return f"演练轮次：自{cn_moment(starts_at)}起计{config.drill_publicity_seconds}秒"
    return publicity_end_explained(config.calendar, starts_at, config.publicity_working_days)
