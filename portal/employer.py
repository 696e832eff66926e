"""The employer's pages: its own staff's declarations only (by unified social credit code)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from models.common import Role, Stage
from models.tables import DeclarationRow
from portal.context import Portal, Refusal


def add_routes(app: FastAPI, portal: Portal) -> None:
    async def employer_page(
        request: Request, account: Any, refusal: Refusal | None = None, target: str | None = None
    ) -> HTMLResponse:
        items = await portal.rows(DeclarationRow.employer_uscc == account.employer_uscc)
        items.sort(key=lambda r: (Stage(r.stage).is_ending, r.updated_at))
        context = {"account": account, "items": items, "target": target}
        return portal.render(request, "employer.html", context, refusal)

    @app.get("/employer", response_class=HTMLResponse)
    async def employer_queue(request: Request) -> Response:
        return await employer_page(request, await portal.current(request, Role.employer))

    @app.post("/employer/{workflow_id}/{what}", response_class=HTMLResponse)
    async def employer_act(request: Request, workflow_id: str, what: str) -> Response:
        account = await portal.current(request, Role.employer)
        form = await portal.form_checked(request)
        found = await portal.row(workflow_id)
        if found is None or found.employer_uscc != account.employer_uscc:
            raise HTTPException(404, "没有这份申报")
        if what == "approve":
            action, data = "start_publicity", {}
        elif what == "return":
            action, data = "employer_return", {"reason": form.get("reason", "").strip()}
        else:
            raise HTTPException(404)
        try:
            await portal.send(account, workflow_id, action, data)
        except Refusal as refusal:
            return await employer_page(request, account, refusal, workflow_id)
        return RedirectResponse("/employer", 303)
