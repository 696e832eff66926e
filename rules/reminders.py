"""Reminders before a deadline (R9, R10, R15, R17): who is reminded of what, how long before.

Pure: the Declaration workflow asks which reminders its stage has (`stage_reminders`, each
its round's lead before its deadline: `reminder_leads`) and which one it waits for next
(`next_reminder`); each becomes a durable timer there.

A reminder is the one of its deadline: a deadline that moves (a window change) has a new
reminder, an unchanged one is never reminded twice. It falls due while the declaration waits
in its stage: not once the action it reminds of is done (the stage has changed), not after
its deadline, and not when its moment had already passed as the declaration entered the stage
(the message that brought it there gave the deadline).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple

from models.common import Role, Stage
from models.round import RoundConfig
from rules.timezone import SHANGHAI, to_shanghai


class ReminderKind(StrEnum):
    correction_24h = "correction_24h"  # R15: to the applicant
    correction_4h = "correction_4h"  # R15: to the applicant
    payment = "payment"  # R17: to the applicant
    review_closing = "review_closing"  # R9: to the evaluation body
    submission_closing = "submission_closing"  # R10: to the employer or the competent unit


def reminder_leads(config: RoundConfig) -> dict[ReminderKind, timedelta]:
    """How long before its deadline each reminder falls due: the round's configuration
    (RoundConfig: 24 h and 4 h before the correction deadline, 3 days before the others by
    default; an older round's input has the defaults). The correction's two keep their kinds'
    names whatever their hours: the first and the last."""
    return {
        ReminderKind.correction_24h: timedelta(hours=config.correction_first_reminder_hours),
        ReminderKind.correction_4h: timedelta(hours=config.correction_last_reminder_hours),
        ReminderKind.payment: timedelta(days=config.payment_reminder_days),
        ReminderKind.review_closing: timedelta(days=config.review_closing_reminder_days),
        ReminderKind.submission_closing: timedelta(days=config.submission_closing_reminder_days),
    }


# R10: the stages in which the declaration is in the employer's hands, then the unit's.
EMPLOYER_STAGES = (Stage.employer_review, Stage.publicity, Stage.recommendation)


class Reminder(NamedTuple):
    kind: ReminderKind
    to: Role
    deadline: datetime  # what it reminds of
    lead: timedelta  # how long before the deadline (reminder_leads)

    @property
    def at(self) -> datetime:
        """When it falls due."""
        return self.deadline - self.lead

    @property
    def id(self) -> str:
        """Its identity in the workflow's state: the kind and the deadline's instant."""
        return f"{self.kind.value}@{self.deadline.isoformat()}"


def lead_zh(lead: timedelta) -> str:
    """'3天', '24小时', '4小时': how long before the deadline, as the message says it."""
    hours = int(lead.total_seconds()) // 3600
    return f"{hours // 24}天" if hours > 24 and hours % 24 == 0 else f"{hours}小时"


def stage_reminders(
    stage: Stage,
    *,
    leads: Mapping[ReminderKind, timedelta],
    submission_closes_at: datetime,
    review_closes_at: datetime | None,
    correction_deadline: datetime | None,
    payment_due_at: datetime | None,
) -> list[Reminder]:
    """The reminders of a declaration waiting in `stage`, each `leads` before its deadline
    (reminder_leads). `review_closes_at` None: the review is overdue already (R9), nothing to
    remind of."""

    def reminder(kind: ReminderKind, to: Role, deadline: datetime) -> Reminder:
        return Reminder(kind, to, deadline, leads[kind])

    if stage in EMPLOYER_STAGES:
        return [reminder(ReminderKind.submission_closing, Role.employer, submission_closes_at)]
    if stage is Stage.competent_unit_review:
        return [
            reminder(ReminderKind.submission_closing, Role.competent_unit, submission_closes_at)
        ]
    if stage is Stage.evaluation_review and review_closes_at is not None:
        return [reminder(ReminderKind.review_closing, Role.evaluation_body, review_closes_at)]
    if stage is Stage.correction and correction_deadline is not None:
        return [
            reminder(kind, Role.applicant, correction_deadline)
            for kind in (ReminderKind.correction_24h, ReminderKind.correction_4h)
        ]
    if stage is Stage.payment and payment_due_at is not None:
        return [reminder(ReminderKind.payment, Role.applicant, payment_due_at)]
    return []


def next_reminder(
    reminders: Sequence[Reminder], sent: Collection[str], since: datetime, now: datetime
) -> Reminder | None:
    """The earliest reminder still to send: not sent, due after the declaration entered its
    stage (`since`), and its deadline still ahead. It may be due already (a worker that was
    down, a record that waited): it is sent as soon as it can be, before its deadline."""
    waiting = [r for r in reminders if r.id not in sent and r.at > since and now < r.deadline]
    return min(waiting, key=lambda r: r.at, default=None)


# The evaluation body's daily digest (the Round workflow): each morning at the round's
# `digest_hour` (09:00 Beijing time by default), from the opening of submission to the
# morning after the review window closes.
DIGEST_PERIOD = timedelta(days=1)


def next_digest(
    after: datetime, opens_at: datetime, closes_at: datetime, hour: int = 9
) -> datetime | None:
    """The first digest moment (`hour`:00 Beijing time, RoundConfig.digest_hour) later than
    `after` and than `opens_at`; None once past the morning after `closes_at`."""
    start = to_shanghai(max(after, opens_at))
    moment = datetime.combine(start.date(), time(hour), SHANGHAI)
    if moment <= start:
        moment += DIGEST_PERIOD
    return moment if moment <= closes_at + DIGEST_PERIOD else None
