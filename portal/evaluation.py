"""The evaluation body's pages in blind view (R11): an anonymous code instead of the
declaration, nothing that names or locates the applicant.

- `/evaluation`: the queue of declarations with the evaluation body (review, correction,
  payment, defense), soonest current deadline first, with the return count (R15); accept or
  return for correction, confirm the fee (receipt number, R17), announce the defense's time,
  place and form (R18) and record its score; for village-stationed applicants (R19) the round
  supplies the average of the year's on-site defenses (`supply_defense_averages`).
- `/evaluation/{code}`: one declaration: its deadlines, this body's own return reasons, the
  payment and defense records, the link to its materials (`/materials/{code}`, the masked
  copies, portal/materials.py; shown only when the app has that route).

Blind by construction: the templates get only the dictionaries built here (`blind_item`,
`blind_detail`), never a projection row or a `state` (they carry the applicant's name, the
employer, the workflow id with the applicant key, actor ids and the applicant's own notes).
Refusal details are scrubbed of workflow ids as well (`blind_refusal`).
"""

from __future__ import annotations

import hmac
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from models.common import Role, Stage
from portal.context import Portal, Refusal
from portal.security import blind_code
from rules.overdue import current_deadline, passed_stage_deadline
from rules.timezone import SHANGHAI
from store.tables import AuditEvent, DeclarationRow

BLIND_STAGES = (Stage.evaluation_review, Stage.correction, Stage.payment, Stage.defense)
# The materials of a declaration by its code, each downloadable as its masked copy
# (portal/materials.py): linked only if the app has the route.
MATERIALS_ROUTE = "/materials/{code}"
WORKFLOW_ID = re.compile(r"decl-\d{4}-[0-9a-f]+")
# What the evaluation body itself recorded (audit details), shown on the detail page.
OWN_RECORDS = ("confirm_payment", "arrange_defense", "record_defense_score")
DEFENSE_FORMS = ("现场答辩", "线上答辩")


def blind_refusal(refusal: Refusal, secret: str) -> Refusal:
    """The refusal with every workflow id in its detail replaced by its blind code."""
    detail = WORKFLOW_ID.sub(lambda m: blind_code(m.group(0), secret), refusal.detail)
    text = WORKFLOW_ID.sub(lambda m: blind_code(m.group(0), secret), refusal.text)
    return Refusal(text, detail, refusal.status)


def shanghai_input(value: str) -> str:
    """A form's date and time (datetime-local: no offset) read as Asia/Shanghai time."""
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        return value.strip()  # the payload check names it
    return (at if at.tzinfo else at.replace(tzinfo=SHANGHAI)).isoformat()


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
    }


def add_routes(app: FastAPI, portal: Portal) -> None:
    def materials_linked() -> bool:
        return any(getattr(route, "path", None) == MATERIALS_ROUTE for route in app.routes)

    async def blind_items() -> list[dict[str, Any]]:
        found = await portal.rows(DeclarationRow.stage.in_([s.value for s in BLIND_STAGES]))
        now = datetime.now(UTC)
        items = [blind_item(r, portal.secret, now) for r in found]
        far = datetime.max.replace(tzinfo=UTC)
        items.sort(key=lambda i: (i["deadline"] is None, i["deadline"] or far, i["code"]))
        return items

    async def blind_find(code: str) -> dict[str, Any]:
        item = next((i for i in await blind_items() if hmac.compare_digest(i["code"], code)), None)
        if item is None:
            raise HTTPException(404, "没有这份申报")
        return item

    async def defense_facts(items: list[dict[str, Any]]) -> Refusal | None:
        """Whether each declaration in defense is exempt from the on-site defense (R19)."""
        for item in items:
            if item["stage"] == Stage.defense:
                try:
                    state = await portal.state(item["workflow_id"])
                except Refusal as unavailable:
                    return unavailable
                item["defense_exempt"] = state.defense_exempt
        return None

    async def evaluation_page(
        request: Request, account: Any, refusal: Refusal | None = None, target: str | None = None
    ) -> HTMLResponse:
        items = await blind_items()
        unavailable = await defense_facts(items)
        refusal = refusal or unavailable
        exempt_years = sorted({i["round_year"] for i in items if i.get("defense_exempt")})
        context = {
            "account": account,
            "items": items,
            "target": target,
            "exempt_years": exempt_years,
            "defense_forms": DEFENSE_FORMS,
            "materials_linked": materials_linked(),
        }
        blind = blind_refusal(refusal, portal.secret) if refusal else None
        return portal.render(request, "evaluation.html", context, blind)

    async def own_records(workflow_id: str) -> list[dict[str, Any]]:
        """What this body recorded on the declaration: receipt, defense arrangements, score."""
        query = (
            select(AuditEvent.at, AuditEvent.action, AuditEvent.details)
            .where(AuditEvent.workflow_id == workflow_id, AuditEvent.action.in_(OWN_RECORDS))
            .order_by(AuditEvent.seq)
        )
        async with portal.engine().connect() as conn:
            found = (await conn.execute(query)).all()
        keep = ("receipt_no", "starts_at", "place", "form", "score")
        return [
            {"at": r.at, "action": r.action, **{k: r.details[k] for k in keep if k in r.details}}
            for r in found
        ]

    async def blind_detail(item: dict[str, Any]) -> dict[str, Any]:
        state = await portal.state(item["workflow_id"])
        returns = [
            {"at": t.at, "reason": t.reason}
            for t in state.timeline
            if t.action == "return_for_correction" and t.actor.role is Role.evaluation_body
        ]
        return item | {
            "review_overdue": state.review_overdue,
            "defense_exempt": state.defense_exempt,
            "defense_score": state.defense_score,
            "returns": returns,
            "records": await own_records(item["workflow_id"]),
        }

    @app.get("/evaluation", response_class=HTMLResponse)
    async def evaluation_queue(request: Request) -> Response:
        return await evaluation_page(request, await portal.current(request, Role.evaluation_body))

    @app.get("/evaluation/{code}", response_class=HTMLResponse)
    async def evaluation_detail(request: Request, code: str) -> Response:
        account = await portal.current(request, Role.evaluation_body)
        item = await blind_find(code)
        try:
            detail = await blind_detail(item)
        except Refusal as refusal:
            return await evaluation_page(request, account, refusal, code)
        context = {"account": account, "item": detail, "materials_linked": materials_linked()}
        return portal.render(request, "evaluation_detail.html", context)

    @app.post("/evaluation/defense-averages", response_class=HTMLResponse)
    async def evaluation_defense_averages(request: Request) -> Response:
        """R19: the round averages the year's on-site defense scores and gives the average
        to every village-stationed declaration waiting in defense."""
        account = await portal.current(request, Role.evaluation_body)
        form = await portal.form_checked(request)
        try:
            year = int(form.get("year", ""))
        except ValueError:
            raise HTTPException(400, "year") from None
        try:
            await portal.send_round(account, year, "supply_defense_averages", {})
        except Refusal as refusal:
            return await evaluation_page(request, account, refusal)
        return RedirectResponse("/evaluation", 303)

    @app.post("/evaluation/{code}/{what}", response_class=HTMLResponse)
    async def evaluation_act(request: Request, code: str, what: str) -> Response:
        account = await portal.current(request, Role.evaluation_body)
        form = await portal.form_checked(request)
        item = await blind_find(code)
        if what == "accept":
            action, data = "accept_materials", {}
        elif what == "return":
            action, data = "return_for_correction", {"reason": form.get("reason", "").strip()}
        elif what == "payment":
            action, data = "confirm_payment", {"receipt_no": form.get("receipt_no", "").strip()}
        elif what == "arrange":
            action, data = (
                "arrange_defense",
                {
                    "starts_at": shanghai_input(form.get("starts_at", "")),
                    "place": form.get("place", "").strip(),
                    "form": form.get("form", "").strip(),
                },
            )
        elif what == "score":
            action, data = "record_defense_score", {"score": form.get("score", "").strip()}
        else:
            raise HTTPException(404)
        try:
            await portal.send(account, item["workflow_id"], action, data)
        except Refusal as refusal:
            return await evaluation_page(request, account, refusal, code)
        return RedirectResponse("/evaluation", 303)
