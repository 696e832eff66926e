"""A year's round from the notice's pattern (R9, R17) and its key dates for operators."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from models.calendar import WorkingCalendar
from models.common import Strict
from models.round import RoundConfig
from rules.actions import Refused
from rules.calendar import ONE_DAY, CalendarYearUnknown, latest_day_to_count_from
from rules.publicity import publicity_ends_at, round_publicity_ends_at
from rules.timezone import shanghai_date, shanghai_iso, start_of_day

PAYMENT_DAYS_AFTER_REVIEW = 15  # R17 (interp.): the notice defers the fee to a later notice


def default_round_config(
    year: int,
    calendar: WorkingCalendar,
    *,
    payment_days_after_review: int = PAYMENT_DAYS_AFTER_REVIEW,
) -> RoundConfig:
    """R9: submission Sept 1 – Sept 29 and review Oct 1 – Oct 30, each through the end of its
    last day (so closing at 00:00 of the next day, +08:00); R17: payment closes
    `payment_days_after_review` days after review closes."""
    if year not in calendar.years:
        raise CalendarYearUnknown(year)  # every publicity of the round counts working days

    review_closes_at = start_of_day(date(year, 10, 31))
    return RoundConfig(
        year=year,
        submission_opens_at=start_of_day(date(year, 9, 1)),
        submission_closes_at=start_of_day(date(year, 9, 30)),
        review_opens_at=start_of_day(date(year, 10, 1)),
        review_closes_at=review_closes_at,
        payment_closes_at=review_closes_at + timedelta(days=payment_days_after_review),
        calendar=calendar,
    )


class RoundPlan(Strict):
    """What `starter.py round plan YEAR` prints. Instants are ISO 8601 at +08:00."""

    year: int
    submission_opens_at: str
    submission_closes_at: str
    review_opens_at: str
    review_closes_at: str
    payment_closes_at: str
    publicity_must_end_by: str  # submission close minus the recommendation lead
    latest_publicity_start: date  # R13: the last day an employer can start the publicity
    publicity_ends_if_started_latest: str
    correction_hours: int  # R15
    max_returns: int  # R15
    publicity_working_days: int  # R13


def publicity_must_end_by(config: RoundConfig) -> datetime:
    """R10, R13: the employer's publicity must end `recommendation_lead_days` days before
    submission closes, leaving time to recommend. A drill round (publicities of seconds, for
    rehearsals and benchmarks) keeps no lead: its whole round lasts minutes."""
    if config.drill_publicity_seconds is not None:
        return config.submission_closes_at
    return config.submission_closes_at - timedelta(days=config.recommendation_lead_days)


def latest_publicity_start(config: RoundConfig) -> date:
    """R13: the last day a 5-working-day publicity can start and still end by
    publicity_must_end_by (CalendarYearUnknown when the calendar lacks a year it needs)."""
    # A publicity ending at 24:00 of day E ends by `must_end_by` iff E + 1 <= its date.
    last_end_day = shanghai_date(publicity_must_end_by(config)) - ONE_DAY
    return latest_day_to_count_from(config.calendar, last_end_day, config.publicity_working_days)


def late_publicity_refusal(config: RoundConfig, starts_at: datetime) -> Refused | None:
    """Why a publicity started at `starts_at` cannot succeed in time (R10, R13), naming the
    latest day it could have started; None when it can. Said at the start, not discovered when
    the declaration ends `not_submitted`."""
    ends = round_publicity_ends_at(config, starts_at)
    must_end_by = publicity_must_end_by(config)
    if ends <= must_end_by:
        return None
    if config.drill_publicity_seconds is not None:  # a drill: seconds, not working days
        latest = shanghai_iso(must_end_by - timedelta(seconds=config.drill_publicity_seconds))
    else:
        latest = latest_publicity_start(config).isoformat()
    lead = (
        ""
        if must_end_by == config.submission_closes_at
        else f" ({config.recommendation_lead_days} day(s) before submission closes "
        f"{shanghai_iso(config.submission_closes_at)}, to leave time to recommend)"
    )
    message = (
        f"a publicity started now ends {shanghai_iso(ends)}, after "
        f"{shanghai_iso(must_end_by)}{lead}; the latest start was {latest}"
    )
    facts = {"deadline": "publicity_start", "latest_start": latest, "ends_at": shanghai_iso(ends)}
    return Refused("OutsideWindow", message, facts)


def plan_round(config: RoundConfig) -> RoundPlan:
    """R10, R13: a publicity started on `latest_publicity_start` ends no later than
    `recommendation_lead_days` days before submission closes, leaving time to recommend."""
    days = config.publicity_working_days
    must_end_by = publicity_must_end_by(config)
    latest_start = latest_publicity_start(config)
    return RoundPlan(
        year=config.year,
        submission_opens_at=shanghai_iso(config.submission_opens_at),
        submission_closes_at=shanghai_iso(config.submission_closes_at),
        review_opens_at=shanghai_iso(config.review_opens_at),
        review_closes_at=shanghai_iso(config.review_closes_at),
        payment_closes_at=shanghai_iso(config.payment_closes_at),
        publicity_must_end_by=shanghai_iso(must_end_by),
        latest_publicity_start=latest_start,
        publicity_ends_if_started_latest=shanghai_iso(
            publicity_ends_at(config.calendar, start_of_day(latest_start), days)
        ),
        correction_hours=config.correction_hours,
        max_returns=config.max_returns,
        publicity_working_days=days,
    )


def try_out_round_dates(now: datetime) -> dict[str, str]:
    """Dates for a round that is open now, for trying the system outside September: the
    submission window from today for 3 weeks (room for a 5-working-day publicity), then a
    2-week review window and the usual payment period. ISO 8601 at +08:00."""
    submission_opens = start_of_day(shanghai_date(now))
    submission_closes = submission_opens + timedelta(days=21)
    review_closes = submission_closes + timedelta(days=14)
    payment_closes = review_closes + timedelta(days=PAYMENT_DAYS_AFTER_REVIEW)
    return {
        "submission_opens_at": shanghai_iso(submission_opens),
        "submission_closes_at": shanghai_iso(submission_closes),
        "review_opens_at": shanghai_iso(submission_closes),
        "review_closes_at": shanghai_iso(review_closes),
        "payment_closes_at": shanghai_iso(payment_closes),
    }
