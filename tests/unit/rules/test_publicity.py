from datetime import UTC, datetime

import pytest

from models.calendar import WorkingCalendar
from rules.calendar import CalendarYearUnknown
from rules.calendar_source import build_calendar
from rules.publicity import (
    publicity_end_explained,
    publicity_ends_at,
    round_publicity_end_explained,
)
from rules.timezone import SHANGHAI
from tests.helpers.samples import sample_round_config


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return build_calendar([2025])


def ends(calendar: WorkingCalendar, starts_at: datetime, working_days: int = 5) -> str:
    return publicity_ends_at(calendar, starts_at, working_days).isoformat()


def test_counts_the_sunday_make_up_workday(calendar: WorkingCalendar) -> None:
    # Sept 25, 26, 28 (调休), 29, 30 → ends at 24:00 on Sept 30.
    assert ends(calendar, datetime(2025, 9, 24, 10, tzinfo=SHANGHAI)) == "2025-10-01T00:00:00+08:00"


def test_skips_national_day_and_counts_the_saturday_make_up_workday(
    calendar: WorkingCalendar,
) -> None:
    # Oct 1–8 are holidays: Oct 9, 10, 11 (调休), 13, 14.
    assert ends(calendar, datetime(2025, 9, 30, 9, tzinfo=SHANGHAI)) == "2025-10-15T00:00:00+08:00"


def test_started_on_a_friday(calendar: WorkingCalendar) -> None:
    # Fri Sept 5: Mon 8 – Fri 12, the weekend of the 6th/7th not counted.
    assert ends(calendar, datetime(2025, 9, 5, 17, tzinfo=SHANGHAI)) == "2025-09-13T00:00:00+08:00"
    # Fri Sept 26, just before National Day: Sept 28, 29, 30, Oct 9, 10.
    assert ends(calendar, datetime(2025, 9, 26, 17, tzinfo=SHANGHAI)) == "2025-10-11T00:00:00+08:00"


def test_the_start_day_is_the_shanghai_date(calendar: WorkingCalendar) -> None:
    # 16:30 UTC on Sept 23 is already 00:30 on Sept 24 in Shanghai.
    started = datetime(2025, 9, 23, 16, 30, tzinfo=UTC)
    assert ends(calendar, started) == "2025-10-01T00:00:00+08:00"


def test_working_days_are_configurable(calendar: WorkingCalendar) -> None:
    assert ends(calendar, datetime(2025, 9, 30, tzinfo=SHANGHAI), 1) == "2025-10-10T00:00:00+08:00"


def test_a_publicity_running_into_an_unknown_year_fails(calendar: WorkingCalendar) -> None:
    with pytest.raises(CalendarYearUnknown):
        publicity_ends_at(calendar, datetime(2025, 12, 29, tzinfo=SHANGHAI))


def test_the_end_is_explained_with_the_holidays_and_make_up_days() -> None:
    """Issue 14, item 4: how the end was counted, in Chinese (2025: 国庆/中秋 Oct 1–8 off,
    Sept 28 (Sun) and Oct 11 (Sat) make-up workdays)."""
    calendar = sample_round_config().calendar
    started = datetime(2025, 9, 29, 10, tzinfo=SHANGHAI)
    assert publicity_end_explained(calendar, started) == (
        "自2025年9月30日起计5个工作日：10月1日至10月8日节假日不计，周末不计，"
        "10月11日（星期六）调休上班计入，至10月13日24:00止"
    )
    assert publicity_ends_at(calendar, started) == datetime(2025, 10, 14, tzinfo=SHANGHAI)
    plain = datetime(2025, 9, 10, 10, tzinfo=SHANGHAI)
    assert (
        publicity_end_explained(calendar, plain)
        == "自2025年9月11日起计5个工作日：周末不计，至9月17日24:00止"
    )


def test_the_result_publicity_end_is_explained_as_the_round_counts_it() -> None:
    """R20 (the result publicity counts as R13 does) with the round's settings; a drill round
    says its seconds."""
    config = sample_round_config()
    voted = datetime(2025, 9, 29, 10, tzinfo=SHANGHAI)
    assert round_publicity_end_explained(config, voted) == publicity_end_explained(
        config.calendar, voted, config.publicity_working_days
    )
    drill = config.model_copy(update={"drill_publicity_seconds": 30})
    assert round_publicity_end_explained(drill, voted) == "演练轮次：自2025年09月29日 10:00起计30秒"
