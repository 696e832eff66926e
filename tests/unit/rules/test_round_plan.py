from datetime import date, datetime, timedelta

import pytest

from rules.calendar import CalendarYearUnknown
from rules.calendar_source import build_calendar
from rules.publicity import publicity_ends_at
from rules.round_plan import default_round_config, late_publicity_refusal, plan_round
from rules.timezone import SHANGHAI, start_of_day
from tests.helpers.samples import sample_round_config


def test_2025_round_plan() -> None:
    plan = plan_round(sample_round_config())
    assert plan.model_dump(mode="json") == {
        "year": 2025,
        "submission_opens_at": "2025-09-01T00:00:00+08:00",
        "submission_closes_at": "2025-09-30T00:00:00+08:00",  # through Sept 29
        "review_opens_at": "2025-10-01T00:00:00+08:00",
        "review_closes_at": "2025-10-31T00:00:00+08:00",  # through Oct 30
        "payment_closes_at": "2025-11-15T00:00:00+08:00",
        "publicity_must_end_by": "2025-09-29T00:00:00+08:00",  # one day left to recommend
        # Counted: Sept 23, 24, 25, 26, 28 (Sunday 调休) → ends at 24:00 on Sept 28.
        "latest_publicity_start": "2025-09-22",
        "publicity_ends_if_started_latest": "2025-09-29T00:00:00+08:00",
        "correction_hours": 48,
        "max_returns": 3,
        "publicity_working_days": 5,
    }


def test_without_a_lead_day_the_publicity_may_start_a_day_later() -> None:
    config = sample_round_config().model_copy(update={"recommendation_lead_days": 0})
    plan = plan_round(config)
    # Counted: Sept 24, 25, 26, 28, 29 → ends at 24:00 on Sept 29, as submission closes.
    assert plan.latest_publicity_start == date(2025, 9, 23)
    assert plan.publicity_ends_if_started_latest == "2025-09-30T00:00:00+08:00"


@pytest.mark.parametrize("year", range(2019, 2027))
def test_latest_start_is_the_latest_that_fits(year: int) -> None:
    config = default_round_config(year, build_calendar([year]))
    plan = plan_round(config)
    must_end_by = datetime.fromisoformat(plan.publicity_must_end_by)
    latest = plan.latest_publicity_start
    assert publicity_ends_at(config.calendar, start_of_day(latest)) <= must_end_by
    next_day = start_of_day(latest + timedelta(days=1))
    assert publicity_ends_at(config.calendar, next_day) > must_end_by


def test_payment_close_is_configurable() -> None:
    config = default_round_config(2025, build_calendar([2025]), payment_days_after_review=30)
    assert config.payment_closes_at.isoformat() == "2025-11-30T00:00:00+08:00"


def test_a_round_needs_its_year_in_the_calendar() -> None:
    with pytest.raises(CalendarYearUnknown) as raised:
        default_round_config(2031, build_calendar([2025]))
    assert raised.value.year == 2031


def test_a_publicity_that_cannot_end_in_time_is_refused_with_the_latest_start() -> None:
    config = sample_round_config()  # 2025: the latest start is Sept 22 (test above)
    on_time = datetime(2025, 9, 22, 17, 0, tzinfo=SHANGHAI)
    assert late_publicity_refusal(config, on_time) is None
    too_late = datetime(2025, 9, 23, 9, 0, tzinfo=SHANGHAI)
    refusal = late_publicity_refusal(config, too_late)
    assert refusal is not None
    assert "ends 2025-09-30T00:00:00+08:00, after 2025-09-29T00:00:00+08:00" in refusal.message
    assert "the latest start was 2025-09-22" in refusal.message
    assert refusal.facts == {
        "deadline": "publicity_start",
        "latest_start": "2025-09-22",
        "ends_at": "2025-09-30T00:00:00+08:00",
    }


def test_a_drill_publicity_names_the_latest_start_instant() -> None:
    config = sample_round_config().model_copy(update={"drill_publicity_seconds": 600})
    must_end_by = datetime(2025, 9, 30, tzinfo=SHANGHAI)  # the close itself: no lead in a drill
    assert late_publicity_refusal(config, must_end_by - timedelta(seconds=600)) is None
    refusal = late_publicity_refusal(config, must_end_by - timedelta(seconds=599))
    assert refusal is not None
    assert "the latest start was 2025-09-29T23:50:00+08:00" in refusal.message
