"""What the workflows hand the record activities: a declaration's transition with its
notifications (R16), and a round's event. Plain functions of their inputs (no clock, no
workflow context), so they are tested on their own (tests/unit/test_workflow_builders.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from temporalio.exceptions import ActivityError, ApplicationError

from models.common import LEVEL_NAMES_ZH, Actor, Role
from models.coordination import RoundEventRecord
from models.declaration import DeclarationInput, TimelineEntry
from models.records import (
    RECORD_REJECTED,
    NotificationEvent,
    NotificationRequest,
    TransitionRecord,
)


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
) -> TransitionRecord:
    """The audit event of one transition (`entry`, as the timeline shows it), the projection
    row after it and its notifications: what record_transition writes in one transaction."""
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
    )


def notifications(
    declaration: DeclarationInput,
    event: NotificationEvent,
    *,
    workflow_id: str,
    seq: int,
    round_year: int,
    recipients: Sequence[tuple[Role, str]] | None = None,
    context: dict[str, Any] | None = None,
) -> list[NotificationRequest]:
    """R16: one message per recipient (default: the applicant) of the event of transition
    `seq`; only the applicant's carries a mobile and an e-mail address. The key makes it
    once per transition, event and recipient role."""
    applicant = declaration.applicant
    common = {
        "applicant_name": applicant.name,
        "level_zh": LEVEL_NAMES_ZH[declaration.level],
        "round_year": round_year,
        "declaration_id": workflow_id,
    }
    messages = []
    for role, name in recipients or [(Role.applicant, applicant.name)]:
        to_applicant = role is Role.applicant
        messages.append(
            NotificationRequest(
                key=f"{workflow_id}/{seq}/{event.value}/{role.value}",
                workflow_id=workflow_id,
                event=event,
                recipient_role=role,
                recipient_name=name,
                mobile=applicant.mobile if to_applicant else None,
                email=applicant.email if to_applicant else None,
                context={**common, **(context or {})},
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
