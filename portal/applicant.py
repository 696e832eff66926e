"""The applicant's pages: their declaration, the reason of a return, the 48-hour countdown
and resubmission."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

import control
from models.common import Role, Stage
from models.tables import DeclarationRow
from portal.context import QUERY_TIMEOUT, Portal, Refusal, log


def add_routes(app: FastAPI, portal: Portal) -> None:
    async def applicant_page(
        request: Request, account: Any, refusal: Refusal | None = None
    ) -> HTMLResponse:
        found = await portal.rows(DeclarationRow.applicant_key == account.applicant_key)
        found.sort(key=lambda r: r.round_year, reverse=True)
        declaration = found[0] if found else None
        state, return_reason, remaining = None, None, None
        if declaration is not None:
            try:
                state = await control.declaration_state(
                    await portal.temporal(), declaration.workflow_id, rpc_timeout=QUERY_TIMEOUT
                )
            except (RPCError, RuntimeError, WorkflowQueryFailedError) as exc:
                log.warning("state of %s: %s", declaration.workflow_id, exc)
                unavailable = Refusal("暂时无法读取申报状态，请稍后刷新。", type(exc).__name__, 503)
                refusal = refusal or unavailable
        if state is None:
            declaration = None  # the page shows the table only with the workflow's state
        else:
            returns = [t for t in state.timeline if t.action == "return_for_correction"]
            return_reason = returns[-1].reason if returns else None
            due = state.deadlines.get("correction_deadline")
            if state.stage is Stage.correction and due:
                now = datetime.now(datetime.fromisoformat(due).tzinfo)
                seconds = max(0, int((datetime.fromisoformat(due) - now).total_seconds()))
                remaining = f"{seconds // 3600}小时{seconds % 3600 // 60}分钟"
        context = {
            "account": account,
            "declaration": declaration,
            "state": state,
            "return_reason": return_reason,
            "remaining": remaining,
        }
        return portal.render(request, "applicant.html", context, refusal)

    @app.get("/applicant", response_class=HTMLResponse)
    async def applicant_home(request: Request) -> Response:
        return await applicant_page(request, await portal.current(request, Role.applicant))

    @app.post("/applicant/resubmit", response_class=HTMLResponse)
    async def applicant_resubmit(request: Request) -> Response:
        account = await portal.current(request, Role.applicant)
        form = await portal.form_checked(request)
        found = await portal.rows(DeclarationRow.applicant_key == account.applicant_key)
        if not found:
            raise HTTPException(404, "没有您的申报")
        latest = max(found, key=lambda r: r.round_year)
        note = form.get("note", "").strip()
        try:
            await portal.send(account, latest.workflow_id, "resubmit", {"note": note or None})
        except Refusal as refusal:
            return await applicant_page(request, account, refusal)
        return RedirectResponse("/applicant", 303)
