"""The blind view (R11) the evaluation body and the committee get: a declaration by its
anonymous code (portal.security.blind_code), nothing that names or locates the applicant.

Blind by construction: templates get only the dictionaries built from `blind_item`, never a
projection row or a `state` (they carry the applicant's name, the employer, the workflow id
with the applicant key, actor ids and the applicant's own notes); refusals are scrubbed of
workflow ids as well (`blind_refusal`).
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime
from typing import Any

from fastapi import HTTPException

from models.common import Stage
from portal.context import Portal, Refusal
from portal.security import blind_code
from rules.overdue import current_deadline, passed_stage_deadline
from store.tables import DeclarationRow

# The stages in which a declaration is with the evaluation body (its queue, its materials).
BLIND_STAGES = (Stage.evaluation_review, Stage.correction, Stage.payment, Stage.defense)
COMMITTEE_STAGES = (Stage.committee,)  # with the committee: its blind dossier before the vote
WORKFLOW_ID = re.compile(r"decl-\d{4}-[0-9a-f]+")


def blind_refusal(refusal: Refusal, secret: str) -> Refusal:
    """The refusal with every workflow id in its detail replaced by its blind code."""
    detail = WORKFLOW_ID.sub(lambda m: blind_code(m.group(0), secret), refusal.detail)
    text = WORKFLOW_ID.sub(lambda m: blind_code(m.group(0), secret), refusal.text)
    return Refusal(text, detail, refusal.status)


def blind_item(row: Any, secret: str, now: datetime) -> dict[str, Any]:
    """Only what a blind reviewer may see of a declaration: nothing naming or locating the
    applicant. `workflow_id` is for the server side only and is never rendered."""
    current = current_deadline(row.stage, row.deadlines)
    return {
        "code": blind_code(row.workflow_id, secret),
        "workflow_id": row.workflow_id,
        "round_year": row.round_year,
        "level": row.level,
        "jurisdiction": row.jurisdiction,
        "stage": row.stage,
        "return_count": row.return_count,
        "deadline_name": current[0] if current else None,
        "deadline": current[1] if current else None,
        "overdue": passed_stage_deadline(row.stage, row.deadlines, now) is not None,
        "deadlines": dict(row.deadlines),  # the round's windows and this one's own deadlines
        # R26: the reviewer it is assigned to (an account's actor id: not the applicant's)
        "assignee": row.assignee,
    }


async def blind_rows(portal: Portal, stages: tuple[Stage, ...] = BLIND_STAGES) -> list[Any]:
    """The projection rows of the declarations with the evaluation body (or in `stages`)."""
    return await portal.rows(DeclarationRow.stage.in_([s.value for s in stages]))


async def blind_row(portal: Portal, code: str, stages: tuple[Stage, ...] = BLIND_STAGES) -> Any:
    """The declaration behind an anonymous code, among those with the evaluation body (or
    in `stages`; 404 otherwise)."""
    for row in await blind_rows(portal, stages):
        if hmac.compare_digest(blind_code(row.workflow_id, portal.secret), code):
            return row
    raise HTTPException(404, "没有这份申报")
