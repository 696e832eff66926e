"""The working-day calendar as plain data, so it can travel into a workflow."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from models.common import Strict


class YearCalendar(Strict):
    """Deviations from Monday–Friday for one year (Chinese statutory calendar).

    `holidays`: weekdays that are days off (e.g. 2025-10-01).
    `workdays`: weekend days that are make-up working days 调休 (e.g. 2025-09-28).
    """

    holidays: list[date] = Field(default_factory=list, max_length=366)
    workdays: list[date] = Field(default_factory=list, max_length=366)


class WorkingCalendar(Strict):
    """Known years only; a date in any other year is an error, never a Monday–Friday guess."""

    years: dict[int, YearCalendar] = Field(default_factory=dict, max_length=100)
