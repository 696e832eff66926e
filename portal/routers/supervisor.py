"""The supervisor's page (the HR service centre): counts per stage and level, the overdue
items (a declaration still in a stage whose deadline has passed: rules/overdue.py), the
refused attempts (every action the portal or the command line had refused: who, what, when,
which workflow, why; newest first, REFUSED_PAGE a page: store/refused_attempts.py), every
declaration linked to its workflow in the Temporal UI.

    GET /supervisor                    the page
    GET /supervisor?refused_page=N     ... with the N-th page of refused attempts
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from models.common import Level, Stage
from portal.deps import SupervisorPage
from rules.overdue import overdue_items
from store.refused_attempts import latest_refused_attempts

router = APIRouter()
REFUSED_PAGE = 100  # refused attempts shown a page
SOURCES_ZH = {"portal": "门户", "cli": "命令行"}


def overdue_text(seconds: float) -> str:
    """How long overdue, in Chinese: days and hours, or hours and minutes under a day."""
    minutes = int(seconds // 60)
    days, hours = divmod(minutes // 60, 24)
    if days:
        return f"{days}天{hours}小时"
    return f"{hours}小时{minutes % 60}分钟"


@router.get("/supervisor", response_class=HTMLResponse)
async def supervisor(
    page: SupervisorPage, refused_page: Annotated[int, Query(ge=1)] = 1
) -> Response:
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
    refused, refused_total = await latest_refused_attempts(
        page.portal.engine(), limit=REFUSED_PAGE, offset=(refused_page - 1) * REFUSED_PAGE
    )
    context = {
        "items": items,
        "counts": counts,
        "levels": levels,
        "stages": stages,
        "overdue": overdue,
        "refused": refused,
        "refused_total": refused_total,
        "refused_page": refused_page,
        "refused_pages": max(1, -(-refused_total // REFUSED_PAGE)),
        "refused_first": (refused_page - 1) * REFUSED_PAGE + 1,
        "refused_per_page": REFUSED_PAGE,
        "sources": SOURCES_ZH,
    }
    return page.render("supervisor.html", context)
