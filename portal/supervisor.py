"""The supervisor's page (the HR service centre): counts per stage and level, every
declaration linked to its workflow in the Temporal UI."""

from __future__ import annotations

from collections import Counter

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from models.common import Level, Role, Stage
from portal.context import Portal


def add_routes(app: FastAPI, portal: Portal) -> None:
    @app.get("/supervisor", response_class=HTMLResponse)
    async def supervisor(request: Request) -> Response:
        account = await portal.current(request, Role.supervisor)
        items = await portal.rows()
        items.sort(key=lambda r: (r.round_year, r.stage, r.workflow_id))
        counts = Counter((r.stage, r.level) for r in items)
        levels = [lv.value for lv in Level]
        stages = [s.value for s in Stage if any(st == s.value for st, _ in counts)]
        context = {
            "account": account,
            "items": items,
            "counts": counts,
            "levels": levels,
            "stages": stages,
        }
        return portal.render(request, "supervisor.html", context)
