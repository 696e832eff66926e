"""The supervisor's page (the HR service centre): counts per stage and level, the overdue
items (a declaration still in a stage whose deadline has passed: rules/overdue.py), every
declaration linked to its workflow in the Temporal UI.

    GET /supervisor
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from models.common import Level, Stage
from portal.deps import SupervisorPage
from rules.overdue import overdue_items

router = APIRouter()


def overdue_text(seconds: float) -> str:
    """How long overdue, in Chinese: days and hours, or hours and minutes under a day."""
    minutes = int(seconds // 60)
    days, hours = divmod(minutes // 60, 24)
    if days:
        return f"{days}天{hours}小时"
    return f"{hours}小时{minutes % 60}分钟"


@router.get("/supervisor", response_class=HTMLResponse)
async def supervisor(page: SupervisorPage) -> Response:
    items = await page.portal.rows()
    items.sort(key=lambda r: (r.round_year, r.stage, r.workflow_id))
    counts = Counter((r.stage, r.level) for r in items)
    levels = [lv.value for lv in Level]
    stages = [s.value for s in Stage if any(st == s.value for st, _ in counts)]
    overdue = [
        {
            "row": row,
            "deadline": passed.deadline,
            "due_at": passed.due_at,
            "overdue_by": overdue_text(passed.overdue_by.total_seconds()),
        }
        for row, passed in overdue_items(
            items, datetime.now(UTC), lambda r: r.stage, lambda r: r.deadlines
        )
    ]
    context = {
        "items": items,
        "counts": counts,
        "levels": levels,
        "stages": stages,
        "overdue": overdue,
    }
    return page.render("supervisor.html", context)
