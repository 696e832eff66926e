"""What the workflows hand the record activities: a declaration's transition with its
notifications (R16), and a round's event. Plain functions of their inputs (no clock, no
workflow context), so they are tested on their own (tests/unit/test_workflow_builders.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from temporalio.exceptions import ActivityError, ApplicationError

from models.common import (
    JURISDICTION_NAMES_ZH,
    LEVEL_NAMES_ZH,
    STAGE_NAMES_ZH,
    Actor,
    Role,
    Stage,
)
from models.coordination import RoundEventRecord
from models.declaration import DeclarationInput, TimelineEntry
from models.records import (
    BLIND_ROLES,
    EVALUATION_BODY_NAME,
    RECORD_REJECTED,
    NotificationEvent,
    NotificationRequest,
    TransitionRecord,
)
from rules.reminders import Reminder, ReminderKind, lead_zh
from rules.timezone import shanghai_iso


def transition_record(
    declaration: DeclarationInput,
    entry: TimelineEntry,
    *,
    workflow_id: str,
    round_year: int,
    return_count: int,
    deadlines: dict[str, str],
    details: dict[str, Any] | None = None,
    notifications: Sequence[NotificationRequest] = (),
    assignee: str | None = None,
) -> TransitionRecord:
    """The audit event of one transition (`entry`, as the timeline shows it), the projection
    row after it (with the holder's `assignee`, R26) and its notifications: what
    record_transition writes in one transaction."""
    applicant = declaration.applicant
    return TransitionRecord(
        workflow_id=workflow_id,
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        from_stage=entry.from_stage,
        to_stage=entry.to_stage,
        reason=entry.reason,
        details=details or {},
        round_year=round_year,
        applicant_key=declaration.applicant_key,
        applicant_name=applicant.name,
        employer_uscc=applicant.employer.uscc,
        employer_name=applicant.employer.name,
        level=declaration.level,
        jurisdiction=declaration.jurisdiction,
        return_count=return_count,
        deadlines=deadlines,
        notifications=list(notifications),
        number=declaration.number,
        competent_unit=(applicant.employer.competent_unit or "").strip(),
        assignee=assignee,
    )


# The organisations' names in their messages (the recipients file may give its own: To:).
SUPERVISOR_NAME = "甘泉堡经济技术开发区（工业区）人力资源服务中心"
COMMITTEE_NAME = "评审委员会"


class Notice(NamedTuple):
    """One message of a transition: its event, to whom (a role of this declaration) and what
    its template needs besides the common context."""

    event: NotificationEvent
    to: Role = Role.applicant
    context: Mapping[str, Any] | None = None


def recipient(declaration: DeclarationInput, role: Role) -> tuple[str, str | None]:
    """The name a message to `role` is addressed to, and the organisation's key in the
    recipients file (models/recipients.py): the employer's USCC, the competent unit's name."""
    employer = declaration.applicant.employer
    if role is Role.employer:
        return employer.name, employer.uscc
    if role is Role.competent_unit:
        return employer.competent_unit or "主管单位", employer.competent_unit
    names = {
        Role.applicant: declaration.applicant.name,
        Role.evaluation_body: EVALUATION_BODY_NAME,
        Role.supervisor: SUPERVISOR_NAME,
        Role.committee: COMMITTEE_NAME,
    }
    return names.get(role, role.value), None


def common_context(
    declaration: DeclarationInput, role: Role, workflow_id: str, round_year: int
) -> dict[str, Any]:
    """What every message's template gets. A blind reviewer's (R11: BLIND_ROLES) names
    neither the applicant nor the declaration's id (it carries the applicant key) nor its
    申报编号 (the others' pages look it up): the level and the jurisdiction only; the portal
    shows the declaration under its anonymous code."""
    if role in BLIND_ROLES:
        return {
            "level_zh": LEVEL_NAMES_ZH[declaration.level],
            "jurisdiction_zh": JURISDICTION_NAMES_ZH[declaration.jurisdiction],
            "round_year": round_year,
        }
    return {
        "applicant_name": declaration.applicant.name,
        "level_zh": LEVEL_NAMES_ZH[declaration.level],
        "round_year": round_year,
        "declaration_id": workflow_id,
        # how the message names the declaration: its 申报编号, the workflow id for one
        # started without a number (item 3 of issue 14)
        "declaration_number": declaration.number or workflow_id,
    }


REMINDER_EVENTS = {
    ReminderKind.correction_24h: NotificationEvent.correction_reminder,
    ReminderKind.correction_4h: NotificationEvent.correction_reminder,
    ReminderKind.payment: NotificationEvent.payment_reminder,
    ReminderKind.review_closing: NotificationEvent.review_closing,
    ReminderKind.submission_closing: NotificationEvent.submission_closing,
}


def reminder_notice(reminder: Reminder, stage: Stage) -> Notice:
    """The message of a reminder falling due while the declaration waits in `stage`."""
    context = {
        "deadline": shanghai_iso(reminder.deadline),
        "lead_zh": lead_zh(reminder.lead),
        "stage_zh": STAGE_NAMES_ZH[stage],
    }
    return Notice(REMINDER_EVENTS[reminder.kind], reminder.to, context)


def notifications(
    declaration: DeclarationInput,
    notices: Sequence[Notice],
    *,
    workflow_id: str,
    seq: int,
    round_year: int,
) -> list[NotificationRequest]:
    """R16: one message per notice of transition `seq`; only the applicant's carries a mobile
    and an e-mail address (an organisation's come from the recipients file when it is
    written). The key makes it once per transition, event and recipient role."""
    applicant = declaration.applicant
    messages = []
    for notice in notices:
        to_applicant = notice.to is Role.applicant
        name, organisation = recipient(declaration, notice.to)
        messages.append(
            NotificationRequest(
                key=f"{workflow_id}/{seq}/{notice.event.value}/{notice.to.value}",
                workflow_id=workflow_id,
                event=notice.event,
                recipient_role=notice.to,
                recipient_name=name,
                organisation=organisation,
                mobile=applicant.mobile if to_applicant else None,
                email=applicant.email if to_applicant else None,
                context={
                    **common_context(declaration, notice.to, workflow_id, round_year),
                    **(notice.context or {}),
                },
            )
        )
    return messages


def round_event(
    chain_id: str,
    round_year: int,
    seq: int,
    at: datetime,
    actor: Actor,
    action: str,
    details: dict[str, Any],
) -> RoundEventRecord:
    """One event of the round's record (`round_events`), once per (chain, seq): the chain is
    the round's first run, so continue-as-new keeps counting in the same chain."""
    return RoundEventRecord(
        chain_id=chain_id,
        round_year=round_year,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        details=details,
    )


# A refused record is written again after 1, 2, 4, ... minutes, then hourly: few history events
# while it waits, and written within the hour once the cause is fixed.
RECORD_RETRY_FIRST = timedelta(minutes=1)
RECORD_RETRY_LONGEST = timedelta(hours=1)


def record_rejection(error: BaseException) -> str | None:
    """The record database's refusal of a transition (RecordRejected, see models/records.py)
    behind an activity's failure; None for any other failure."""
    cause = error.__cause__ if isinstance(error, ActivityError) else error
    if isinstance(cause, ApplicationError) and cause.type == RECORD_REJECTED:
        return cause.message
    return None


def record_retry_delay(failures: int) -> timedelta:
    """How long to wait after the `failures`-th refusal in a row before writing again."""
    return min(RECORD_RETRY_FIRST * 2 ** max(failures - 1, 0), RECORD_RETRY_LONGEST)
