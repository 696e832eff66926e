"""The evaluation body's pages in blind view (R11): an anonymous code instead of the
declaration, nothing that names or locates the applicant."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from models.common import Role, Stage
from models.tables import DeclarationRow
from portal.context import Portal, Refusal
from portal.security import blind_code

BLIND_STAGES = (Stage.evaluation_review, Stage.correction, Stage.payment, Stage.defense)


def add_routes(app: FastAPI, portal: Portal) -> None:
    async def blind_items() -> list[dict[str, Any]]:
        found = await portal.rows(DeclarationRow.stage.in_([s.value for s in BLIND_STAGES]))
        items = [
            {  # only what a blind reviewer may see: nothing naming or locating the applicant
                "code": blind_code(r.workflow_id, portal.secret),
                "workflow_id": r.workflow_id,  # for the server side only, never rendered
                "level": r.level,
                "jurisdiction": r.jurisdiction,
                "stage": r.stage,
                "return_count": r.return_count,
                "deadline": r.deadlines.get("review_closes_at", ""),
                "correction_deadline": r.deadlines.get("correction_deadline"),
            }
            for r in found
        ]
        items.sort(key=lambda i: (i["stage"] != Stage.evaluation_review, i["deadline"]))
        return items

    async def evaluation_page(
        request: Request, account: Any, refusal: Refusal | None = None, target: str | None = None
    ) -> HTMLResponse:
        context = {"account": account, "items": await blind_items(), "target": target}
        return portal.render(request, "evaluation.html", context, refusal)

    @app.get("/evaluation", response_class=HTMLResponse)
    async def evaluation_queue(request: Request) -> Response:
        return await evaluation_page(request, await portal.current(request, Role.evaluation_body))

    @app.post("/evaluation/{code}/{what}", response_class=HTMLResponse)
    async def evaluation_act(request: Request, code: str, what: str) -> Response:
        account = await portal.current(request, Role.evaluation_body)
        form = await portal.form_checked(request)
        item = next((i for i in await blind_items() if hmac.compare_digest(i["code"], code)), None)
        if item is None:
            raise HTTPException(404, "没有这份申报")
        if what == "accept":
            action, data = "accept_materials", {}
        elif what == "return":
            action, data = "return_for_correction", {"reason": form.get("reason", "").strip()}
        else:
            raise HTTPException(404)
        try:
            await portal.send(account, item["workflow_id"], action, data)
        except Refusal as refusal:
            return await evaluation_page(request, account, refusal, code)
        return RedirectResponse("/evaluation", 303)
