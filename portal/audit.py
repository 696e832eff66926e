"""What the audit trail recorded for a declaration's actions, read by the pages that show it
(the evaluation body's own records, the applicant's defense arrangement), and the whole trail
of a declaration as the supervisor reads it, each event's person named (R26)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from portal.context import Portal
from store.accounts import display_names
from store.tables import AuditEvent


async def recorded_details(
    portal: Portal, workflow_id: str, actions: Iterable[str], keep: Iterable[str]
) -> list[dict[str, Any]]:
    """Each audit event of these actions, in order: its seq, time, action and the kept
    details."""
    kept = tuple(keep)
    query = (
        select(AuditEvent.seq, AuditEvent.at, AuditEvent.action, AuditEvent.details)
        .where(AuditEvent.workflow_id == workflow_id, AuditEvent.action.in_(tuple(actions)))
        .order_by(AuditEvent.seq)
    )
    async with portal.engine().connect() as conn:
        found = (await conn.execute(query)).all()
    return [
        {
            "seq": r.seq,
            "at": r.at,
            "action": r.action,
            **{k: r.details[k] for k in kept if k in r.details},
        }
        for r in found
    ]


async def audit_trail(portal: Portal, workflow_id: str) -> list[dict[str, Any]]:
    """R26 ("谁审核、谁负责"): every audit event of the declaration, in order, with the
    person who took it by the account's display name beside the organisation (`person`,
    '' for the system and the command line's operators) and, for a 转办, the person it went
    to (`assignee`, `assignee_person`)."""
    query = select(AuditEvent).where(AuditEvent.workflow_id == workflow_id).order_by(AuditEvent.seq)
    async with portal.engine().connect() as conn:
        events = (await conn.execute(query)).all()
    assignees = {e.details.get("assignee") for e in events if e.action == "assign"}
    ids = {e.actor_id for e in events} | {a for a in assignees if isinstance(a, str)}
    people = await display_names(portal.engine(), ids)
    trail = []
    for e in events:
        assignee = e.details.get("assignee") if e.action == "assign" else None
        trail.append(
            {
                "seq": e.seq,
                "at": e.at,
                "actor_role": e.actor_role,
                "actor_id": e.actor_id,
                "person": people.get(e.actor_id, ""),
                "action": e.action,
                "from_stage": e.from_stage,
                "to_stage": e.to_stage,
                "reason": e.reason,
                "assignee": assignee,
                "assignee_person": people.get(assignee, "") if assignee else "",
            }
        )
    return trail
