"""The evaluation body's pages in blind view (R11, portal/blind.py): an anonymous code instead
of the declaration, nothing that names or locates the applicant.

- `/evaluation`: the queue of declarations with the evaluation body (review, correction,
  payment, defense), soonest current deadline first, with the return count (R15); accept or
  return for correction (or return because the masking is incomplete, R11: it counts toward
  the return limit only where the round says so), confirm the fee (receipt number, R17),
  announce the defense's time,
  place and form (R18) and record its score; for village-stationed applicants (R19) the round
  supplies the average of the year's on-site defenses (`supply_defense_averages`).
- `/evaluation/{code}`: one declaration: its deadlines, this body's own return reasons, the
  payment and defense records, the link to its materials (`/materials/{code}`, the masked
  copies, portal/routers/materials.py; shown only when the app has that route:
  `serves_materials`).

The templates get only the dictionaries built here from `blind_item`, never a projection row
or a `state`; refusals are shown through `blind_refusal`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import NoMatchFound

from models.common import Role, Stage
from portal.audit import recorded_details
from portal.blind import blind_item, blind_refusal, blind_rows
from portal.context import Portal, Refusal
from portal.deps import BlindDeclaration, CheckedForm, EvaluationBodyPage, Page
from portal.field_errors import number
from portal.routers.materials import material_list
from rules.timezone import SHANGHAI

router = APIRouter()

# What the evaluation body itself recorded (audit details), shown on the detail page.
OWN_RECORDS = ("confirm_payment", "arrange_defense", "record_defense_score")
DEFENSE_FORMS = ("现场答辩", "线上答辩")
MASKING = "masking_incomplete"  # the return button's kind and the update's field (R11)


def shanghai_input(value: str) -> str:
    """A form's date and time (datetime-local: no offset) read as Asia/Shanghai time."""
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        return value.strip()  # the payload check names it
    return (at if at.tzinfo else at.replace(tzinfo=SHANGHAI)).isoformat()


def serves_materials(app: Any) -> bool:
    """Whether the app has the materials route (looked up by its name: an included router's
    routes need not be listed in `app.routes`)."""
    try:
        app.url_path_for(material_list.__name__, code="-")
    except NoMatchFound:
        return False
    return True


async def blind_items(portal: Portal) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    items = [blind_item(r, portal.secret, now) for r in await blind_rows(portal)]
    far = datetime.max.replace(tzinfo=UTC)
    items.sort(key=lambda i: (i["deadline"] is None, i["deadline"] or far, i["code"]))
    return items


async def defense_facts(portal: Portal, items: list[dict[str, Any]]) -> None:
    """Whether each declaration in defense is exempt from the on-site defense (R19). One
    that cannot be read now is marked so (`unreadable`); the rest of the queue is shown."""
    for item in items:
        if item["stage"] == Stage.defense:
            try:
                state = await portal.state(item["workflow_id"])
            except Refusal:
                item["unreadable"] = True
                continue
            item["defense_exempt"] = state.defense_exempt


async def evaluation_page(
    page: Page, refusal: Refusal | None = None, target: str | None = None
) -> HTMLResponse:
    portal = page.portal
    items = await blind_items(portal)
    await defense_facts(portal, items)
    exempt_years = sorted({i["round_year"] for i in items if i.get("defense_exempt")})
    context = {
        "items": items,
        "target": target,
        "exempt_years": exempt_years,
        "defense_forms": DEFENSE_FORMS,
        "materials_linked": serves_materials(page.request.app),
    }
    blind = blind_refusal(refusal, portal.secret) if refusal else None
    return page.render("evaluation.html", context, blind)


async def own_records(portal: Portal, workflow_id: str) -> list[dict[str, Any]]:
    """What this body recorded on the declaration: receipt, defense arrangements, score."""
    keep = ("receipt_no", "starts_at", "place", "form", "score")
    return await recorded_details(portal, workflow_id, OWN_RECORDS, keep)


async def masking_returns(portal: Portal, workflow_id: str) -> dict[int, bool]:
    """R11: the returns (by seq) made because the masking was incomplete, and whether each
    counted toward the return limit (the round's masking_return_counts)."""
    found = await recorded_details(
        portal, workflow_id, ["return_for_correction"], (MASKING, "counted")
    )
    return {r["seq"]: bool(r.get("counted")) for r in found if r.get(MASKING)}


async def blind_detail(portal: Portal, item: dict[str, Any]) -> dict[str, Any]:
    state = await portal.state(item["workflow_id"])
    masking = await masking_returns(portal, item["workflow_id"])
    returns = [
        {"at": t.at, "reason": t.reason, "masking_counted": masking.get(t.seq)}
        for t in state.timeline
        if t.action == "return_for_correction" and t.actor.role is Role.evaluation_body
    ]
    return item | {
        "masking_return_count": state.masking_return_count,
        "review_overdue": state.review_overdue,
        "defense_exempt": state.defense_exempt,
        "defense_score": state.defense_score,
        "returns": returns,
        "records": await own_records(portal, item["workflow_id"]),
    }


@router.get("/evaluation", response_class=HTMLResponse)
async def evaluation_queue(page: EvaluationBodyPage) -> Response:
    return await evaluation_page(page)


@router.get("/evaluation/{code}", response_class=HTMLResponse)
async def evaluation_detail(page: EvaluationBodyPage, row: BlindDeclaration, code: str) -> Response:
    item = blind_item(row, page.portal.secret, datetime.now(UTC))
    try:
        detail = await blind_detail(page.portal, item)
    except Refusal as refusal:
        return await evaluation_page(page, refusal, code)
    context = {"item": detail, "materials_linked": serves_materials(page.request.app)}
    return page.render("evaluation_detail.html", context)


@router.post("/evaluation/defense-averages", response_class=HTMLResponse)
async def evaluation_defense_averages(page: EvaluationBodyPage, form: CheckedForm) -> Response:
    """R19: the round averages the year's on-site defense scores and gives the average
    to every village-stationed declaration waiting in defense."""
    try:
        year = int(form.get("year", ""))
    except ValueError:
        raise HTTPException(400, "year") from None
    try:
        await page.portal.send_round(
            page.account,
            year,
            "supply_defense_averages",
            {},
            request_token=form.get("request_token"),
        )
    except Refusal as refusal:
        return await evaluation_page(page, refusal)
    return RedirectResponse("/evaluation", 303)


@router.post("/evaluation/{code}/{what}", response_class=HTMLResponse)
async def evaluation_act(
    page: EvaluationBodyPage, form: CheckedForm, row: BlindDeclaration, code: str, what: str
) -> Response:
    data: dict[str, Any]
    if what == "accept":
        action, data = "accept_materials", {}
    elif what == "return":
        action, data = "return_for_correction", {"reason": form.get("reason", "").strip()}
        if form.get("kind") == MASKING:  # R11: sent only when set (older workers lack it)
            data[MASKING] = True
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
        action, data = "record_defense_score", {"score": number(form.get("score", ""))}
    else:
        raise HTTPException(404)
    try:
        await page.portal.send(
            page.account, row.workflow_id, action, data, request_token=form.get("request_token")
        )
    except Refusal as refusal:
        return await evaluation_page(page, refusal, code)
    return RedirectResponse("/evaluation", 303)
