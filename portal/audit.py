"""What the audit trail recorded for a declaration's actions, read by the pages that show it
(the evaluation body's own records, the applicant's defense arrangement)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from portal.context import Portal
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
