"""rules/reminders.py: which reminders a stage has, which one falls due next, and the
evaluation body's digest mornings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.common import Role, Stage
from rules.reminders import (
    Reminder,
    ReminderKind,
    lead_zh,
    next_digest,
    next_reminder,
    reminder_leads,
    stage_reminders,
)
from tests.helpers.samples import sample_round_config

T0 = datetime(2025, 10, 8, 2, 0, tzinfo=UTC)
CLOSES = datetime(2025, 9, 29, 16, 0, tzinfo=UTC)  # 2025-09-30 00:00 Beijing
REVIEW_CLOSES = datetime(2025, 10, 30, 16, 0, tzinfo=UTC)
SECOND, HOUR, DAY = timedelta(seconds=1), timedelta(hours=1), timedelta(days=1)


LEADS = reminder_leads(sample_round_config())  # the defaults


def of(stage: Stage, leads: Any = LEADS, **fields: datetime | None) -> list[Reminder]:
    values: dict[str, datetime | None] = {
        "submission_closes_at": CLOSES,
        "review_closes_at": REVIEW_CLOSES,
        "correction_deadline": None,
        "payment_due_at": None,
    }
    return stage_reminders(stage, leads=leads, **(values | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stage", "to"),
    [
        (Stage.employer_review, Role.employer),
        (Stage.publicity, Role.employer),
        (Stage.recommendation, Role.employer),
        (Stage.competent_unit_review, Role.competent_unit),
    ],
)
def test_before_the_evaluation_body_its_holder_is_reminded_of_the_close(stage: Stage, to: Role):
    [reminder] = of(stage)
    assert (reminder.kind, reminder.to, reminder.deadline) == (
        ReminderKind.submission_closing,
        to,
        CLOSES,
    )
    assert reminder.at == CLOSES - 3 * DAY


def test_each_stage_has_its_own_reminders() -> None:
    deadline = T0 + 48 * HOUR
    early, late = of(Stage.correction, correction_deadline=deadline)
    assert [(r.kind, r.to, r.at) for r in (early, late)] == [
        (ReminderKind.correction_24h, Role.applicant, T0 + 24 * HOUR),
        (ReminderKind.correction_4h, Role.applicant, T0 + 44 * HOUR),
    ]
    [payment] = of(Stage.payment, payment_due_at=T0 + 10 * DAY)
    assert (payment.to, payment.at) == (Role.applicant, T0 + 7 * DAY)
    [review] = of(Stage.evaluation_review)
    assert (review.to, review.at) == (Role.evaluation_body, REVIEW_CLOSES - 3 * DAY)
    assert of(Stage.evaluation_review, review_closes_at=None) == []  # overdue already (R9)
    for stage in (Stage.draft, Stage.defense, Stage.committee, Stage.approved):
        assert of(stage) == []


def test_the_next_one_is_the_earliest_not_sent_due_in_the_stage_before_its_deadline() -> None:
    deadline = T0 + 48 * HOUR
    reminders = of(Stage.correction, correction_deadline=deadline)
    early, late = reminders
    assert next_reminder(reminders, [], since=T0, now=T0) == early
    assert next_reminder(reminders, [early.id], since=T0, now=T0 + 25 * HOUR) == late
    assert next_reminder(reminders, [early.id, late.id], since=T0, now=T0 + 45 * HOUR) is None
    # late (a worker was down): still sent, before its deadline only
    assert next_reminder(reminders, [], since=T0, now=T0 + 30 * HOUR) == early
    assert next_reminder(reminders, [], since=T0, now=deadline) is None
    # entered the stage after a reminder's moment: that one is not sent
    assert next_reminder(reminders, [], since=T0 + 30 * HOUR, now=T0 + 30 * HOUR) == late


def test_a_moved_deadline_has_its_own_reminder() -> None:
    [before] = of(Stage.payment, payment_due_at=T0 + 10 * DAY)
    [after] = of(Stage.payment, payment_due_at=T0 + 17 * DAY)  # a window extension (R9, R17)
    assert before.id != after.id
    assert next_reminder([after], [before.id], since=T0, now=T0 + 8 * DAY) == after


def test_leads_read_as_the_messages_say_them() -> None:
    assert [lead_zh(LEADS[kind]) for kind in ReminderKind] == [
        "24小时",
        "4小时",
        "3天",
        "3天",
        "3天",
    ]
    assert lead_zh(timedelta(hours=36)) == "36小时" and lead_zh(timedelta(days=7)) == "7天"


def test_the_rounds_configured_leads_move_each_reminder() -> None:
    config = sample_round_config().model_copy(
        update={
            "correction_first_reminder_hours": 36,
            "correction_last_reminder_hours": 2,
            "payment_reminder_days": 5,
            "review_closing_reminder_days": 1,
            "submission_closing_reminder_days": 7,
        }
    )
    leads = reminder_leads(config)
    deadline = T0 + 48 * HOUR
    early, late = of(Stage.correction, leads, correction_deadline=deadline)
    assert (early.at, late.at) == (deadline - 36 * HOUR, deadline - 2 * HOUR)
    [payment] = of(Stage.payment, leads, payment_due_at=T0 + 10 * DAY)
    assert payment.at == T0 + 5 * DAY
    [review] = of(Stage.evaluation_review, leads)
    assert review.at == REVIEW_CLOSES - DAY
    [submission] = of(Stage.publicity, leads)
    assert submission.at == CLOSES - 7 * DAY
    # the identity is the deadline's: a changed lead does not make it a new reminder
    assert payment.id == of(Stage.payment, payment_due_at=T0 + 10 * DAY)[0].id


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("correction_first_reminder_hours", 0),
        ("correction_last_reminder_hours", 169),
        ("payment_reminder_days", 31),
        ("review_closing_reminder_days", 0),
        ("submission_closing_reminder_days", -1),
        ("digest_hour", 24),
    ],
)
def test_leads_and_the_digest_hour_are_bounded(field: str, value: int) -> None:
    from pydantic import ValidationError

    from models.round import RoundConfig

    fields = sample_round_config().model_dump() | {field: value}
    with pytest.raises(ValidationError, match=field):
        RoundConfig.model_validate(fields)


def test_the_last_correction_reminder_comes_after_the_first() -> None:
    from pydantic import ValidationError

    from models.round import RoundConfig

    fields = sample_round_config().model_dump() | {
        "correction_first_reminder_hours": 4,
        "correction_last_reminder_hours": 4,
    }
    with pytest.raises(ValidationError, match="correction_last_reminder_hours"):
        RoundConfig.model_validate(fields)


def test_the_digest_comes_each_morning_at_9_from_opening_to_the_morning_after_the_close() -> None:
    opens = datetime(2025, 8, 31, 16, 0, tzinfo=UTC)  # 2025-09-01 00:00 Beijing
    closes = REVIEW_CLOSES  # 2025-10-31 00:00 Beijing
    nine = datetime(2025, 9, 1, 1, 0, tzinfo=UTC)  # 2025-09-01 09:00 Beijing
    assert next_digest(opens - 30 * DAY, opens, closes) == nine  # before the opening
    assert next_digest(nine - SECOND, opens, closes) == nine
    assert next_digest(nine, opens, closes) == nine + DAY  # strictly later: once a day
    last = datetime(2025, 10, 31, 1, 0, tzinfo=UTC)  # the morning after the close
    assert next_digest(last - HOUR, opens, closes) == last
    assert next_digest(last, opens, closes) is None
    # at the round's own hour (RoundConfig.digest_hour), Beijing time
    seven = datetime(2025, 8, 31, 23, 0, tzinfo=UTC)  # 2025-09-01 07:00 Beijing
    assert next_digest(opens - 30 * DAY, opens, closes, 7) == seven
    assert next_digest(seven, opens, closes, 7) == seven + DAY
