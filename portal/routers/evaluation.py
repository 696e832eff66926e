"""The evaluation body's pages in blind view (R11, portal/blind.py): an anonymous code instead
of the declaration, nothing that names or locates the applicant.

- `/evaluation`: the queue of declarations with the evaluation body (review, correction,
  payment, defense), soonest current deadline first, with the return count (R15), each
  linked to its page; searched (by 申报编号 or anonymous code only, R11), filtered, counted
  and paged by the query of /search (store/search.py; `blind_search`); for
  village-stationed applicants (R19) the round supplies the average
  of the year's on-site defenses (`supply_defense_averages`).
- `/evaluation/{code}`: one declaration, everything the body judges beside the actions: its
  deadlines, the blind dossier (portal/dossier.py: the form's answers without the applicant
  part, the achievements, continuing education or its exemption, the village route, the
  defense or its exemption), the masked materials viewable on the page (the inline viewer,
  portal/routers/files.py; the list and downloads: portal/routers/materials.py, shown only
  when the app has that route: `serves_materials`), this body's own return reasons, the
  payment and defense records. The actions of the stage: accept or return for correction (or
  return because the masking is incomplete, R11: it counts toward the return limit only
  where the round says so; each asked for confirmation first, a return with its count:
  portal/feedback.py), confirm
  the fee (receipt number, R17), announce the defense's time, place and form (R18) and
  record its score (confirmed first; the workflow refuses it before the defense starts).
  After an action the page says what was done (`?done=`).

The templates get only the dictionaries built here from `blind_item` and the blind dossier,
never a projection row, a `state` or the declaration's input; refusals are shown through
`blind_refusal`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import NoMatchFound

from models.common import Jurisdiction, Level, Role, Stage
from portal.assignments import assign, assignment_view, named_assignees
from portal.audit import recorded_details
from portal.blind import BLIND_STAGES, blind_item, blind_refusal, blind_row, blind_rows
from portal.context import Portal, Refusal, actor_id_of
from portal.deps import BlindDeclaration, CheckedForm, EvaluationBodyPage, Page
from portal.dossier import dossier
from portal.feedback import (
    Confirmation,
    accept_confirmation,
    confirm_page,
    confirmed,
    done_text,
    return_confirmation,
    score_confirmation,
)
from portal.field_errors import number
from portal.materials import Held, materials_with_files, read_held
from portal.routers.files import material_views
from portal.routers.materials import material_list
from portal.routers.search import SearchForm
from rules.identity import declaration_number, parse_declaration_number
from rules.timezone import SHANGHAI, cn_datetime
from store.search import Criteria, QueryKind, Scope, search_declarations

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


CODE_SHAPE = re.compile(r"R[0-9A-F]{10}")  # portal.security.blind_code's
NOBODY = "-"  # a workflow id no declaration has: what a search that may not be made finds
BLIND_SCOPE = Scope(everything=True, stages=frozenset(s.value for s in BLIND_STAGES))
BLIND_KINDS = {QueryKind.number: "按申报编号查找", "code": "按匿名编号查找"}
BLIND_ONLY = (
    "盲审：只能按申报编号（如 2026-000123）或匿名编号（如 R1A2B3C4D5）查找，"
    "不能按姓名、身份证号码或单位查找。"
)


async def blind_criteria(portal: Portal, form: SearchForm) -> tuple[Criteria, str | None, str]:
    """What the evaluation body's search looks for (R11: by 申报编号 or anonymous code, never
    by a name), what kind it was taken for, and what to tell it when the text is neither."""
    filters: dict[str, Any] = {
        "year": form.year,
        "stage": form.stage if form.stage in BLIND_STAGES else None,
        "level": form.level,
        "jurisdiction": form.jurisdiction,
        "overdue": form.overdue,
    }
    typed = form.q
    if not typed:
        return Criteria(**filters), None, ""
    parsed = parse_declaration_number(typed)
    if parsed is not None:
        number = declaration_number(*parsed)
        return (
            Criteria(QueryKind.number, number=number, **filters),
            BLIND_KINDS[QueryKind.number],
            "",
        )
    if CODE_SHAPE.fullmatch(typed.upper()):
        try:
            row = await blind_row(portal, typed.upper())
        except HTTPException:  # no declaration with the evaluation body has this code
            return Criteria(workflow_id=NOBODY, **filters), BLIND_KINDS["code"], ""
        return Criteria(workflow_id=row.workflow_id, **filters), BLIND_KINDS["code"], ""
    return Criteria(workflow_id=NOBODY, **filters), None, BLIND_ONLY


async def blind_search(page: Page, form: SearchForm) -> dict[str, Any]:
    """The evaluation body's list as the list_form macro shows it: searched, filtered, paged
    and sorted by the same query as /search (store/search.py), with nothing but blind items
    (`blind_item`) and counts: the page's projection rows are not passed on."""
    portal, now = page.portal, datetime.now(UTC)
    looked_for, kind_text, note = await blind_criteria(portal, form)
    if form.mine:  # R26: "分配给我"
        looked_for = replace(looked_for, assignee=actor_id_of(page.account))
    result = await search_declarations(
        portal.engine(), looked_for, BLIND_SCOPE, now=now, page=form.page
    )
    found = [blind_item(r, portal.secret, now) for r in result.rows]
    names = await named_assignees(portal, page.account, (i["assignee"] for i in found))
    for item in found:
        item["assignee_name"] = names.get(item["assignee"] or "", "")
    return {
        "action": "/evaluation",
        "form": form,
        "q_shown": form.q,
        "key": None,
        "kind_text": kind_text,
        "id_card_invalid": False,
        "note": note,
        "scope_text": "在评审机构办理中的申报（盲审）",
        "result": replace(result, rows=[]),
        "found": found,
        "stages": [s.value for s in BLIND_STAGES],
        "levels": [lv.value for lv in Level],
        "jurisdictions": [j.value for j in Jurisdiction],
        "assigns": True,  # 经办人 and 分配给我 (R26)
    }


async def defense_facts(portal: Portal, items: list[dict[str, Any]]) -> list[int]:
    """Whether each declaration in defense is exempt from the on-site defense (R19), and the
    years with such declarations waiting (their averages are supplied from this page; read
    over the whole defense stage, not one page of the list). One that cannot be read now is
    marked so (`unreadable`); the rest is shown."""
    waiting = {r.workflow_id: r for r in await blind_rows(portal, (Stage.defense,))}
    exempt: dict[str, bool | None] = {}
    for workflow_id in waiting:
        try:
            exempt[workflow_id] = (await portal.state(workflow_id)).defense_exempt
        except Refusal:
            exempt[workflow_id] = None
    for item in items:
        if item["stage"] == Stage.defense:
            found = exempt.get(item["workflow_id"])
            item["unreadable"] = found is None
            item["defense_exempt"] = bool(found)
    return sorted({waiting[w].round_year for w, yes in exempt.items() if yes})


async def evaluation_page(
    page: Page, refusal: Refusal | None = None, form: SearchForm | None = None
) -> HTMLResponse:
    portal = page.portal
    search = await blind_search(page, form or SearchForm())
    exempt_years = await defense_facts(portal, search["found"])
    context = {
        "search": search,
        "exempt_years": exempt_years,
        "materials_linked": serves_materials(page.request.app),
        "notice": done_text(page.request),
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


def arrangement_text(records: list[dict[str, Any]]) -> str:
    """The latest defense arrangement, as the page says it: '：时间，地点，形式'."""
    arranged = [r for r in records if r["action"] == "arrange_defense"]
    if not arranged:
        return ""
    latest = arranged[-1]
    return f"：{cn_datetime(latest['starts_at'])}，{latest['place']}，{latest['form']}"


async def blind_detail(
    portal: Portal, account: Any, item: dict[str, Any], row: Any
) -> dict[str, Any]:
    """What the page of one declaration shows, all of it blind (strings and numbers)."""
    state = await portal.state(item["workflow_id"])
    held = await read_held(portal, item["workflow_id"])
    masking = await masking_returns(portal, item["workflow_id"])
    returns = [
        {"at": t.at, "reason": t.reason, "masking_counted": masking.get(t.seq)}
        for t in state.timeline
        if t.action == "return_for_correction" and t.actor.role is Role.evaluation_body
    ]
    records = await own_records(portal, item["workflow_id"])
    files = await materials_with_files(portal, row, held, blind=True)
    code = item["code"]
    return (
        item
        | limits(held)
        | {
            "masking_return_count": state.masking_return_count,
            "review_overdue": state.review_overdue,
            "defense_exempt": state.defense_exempt,
            "defense_score": state.defense_score,
            "returns": returns,
            "records": records,
            "arrangement": arrangement_text(records),
            "dossier": dossier(held.declaration, blind=True),
            "materials": material_views(files, f"/materials/{code}", blind_as=code),
            "assignment": await assignment_view(portal, account, state),  # names only
        }
    )


def limits(held: Held) -> dict[str, Any]:
    """The round's R15 limits (and whether a masking return counts, R11) that the return's
    confirmation names."""
    rules = held.declaration.round
    return {
        "max_returns": rules.max_returns,
        "correction_hours": rules.correction_hours,
        "masking_counts": rules.masking_return_counts,
    }


def confirmations(detail: dict[str, Any], back: str) -> dict[str, Confirmation]:
    """What each action of the page asks before it is sent (portal/feedback.py)."""
    returned, limit, hours = (
        detail["return_count"],
        detail["max_returns"],
        detail["correction_hours"],
    )
    return {
        "accept": accept_confirmation(back),
        "return": return_confirmation(back, returned, limit, hours),
        MASKING: return_confirmation(
            back, returned, limit, hours, masking=True, counted=detail["masking_counts"]
        ),
        "score": score_confirmation(back),
    }


async def detail_page(
    page: Page, row: Any, code: str, refusal: Refusal | None = None
) -> HTMLResponse:
    portal = page.portal
    item = blind_item(row, portal.secret, datetime.now(UTC))
    try:
        detail = await blind_detail(portal, page.account, item, row)
    except Refusal as unavailable:
        return await evaluation_page(page, refusal or unavailable)
    context = {
        "item": detail,
        "ask": confirmations(detail, f"/evaluation/{code}"),
        "defense_forms": DEFENSE_FORMS,
        "materials_linked": serves_materials(page.request.app),
        "notice": done_text(
            page.request,
            arrangement=detail["arrangement"],
            assignee=detail["assignment"]["assignee"] or "",
        ),
    }
    blind = blind_refusal(refusal, portal.secret) if refusal else None
    return page.render("evaluation_detail.html", context, blind)


@router.get("/evaluation", response_class=HTMLResponse)
async def evaluation_queue(page: EvaluationBodyPage) -> Response:
    form = SearchForm.read(page.request.query_params, query=False)
    return await evaluation_page(page, form=form)


@router.post("/evaluation", response_class=HTMLResponse)
async def evaluation_search(page: EvaluationBodyPage, form: CheckedForm) -> Response:
    return await evaluation_page(page, form=SearchForm.read(form))


@router.get("/evaluation/{code}", response_class=HTMLResponse)
async def evaluation_detail(page: EvaluationBodyPage, row: BlindDeclaration, code: str) -> Response:
    return await detail_page(page, row, code)


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
    return RedirectResponse("/evaluation?done=supply_defense_averages", 303)


CONFIRMED_ACTIONS = ("accept", "return", "score")  # each asks first (`confirmations`)


@router.post("/evaluation/{code}/{what}", response_class=HTMLResponse)
async def evaluation_act(
    page: EvaluationBodyPage, form: CheckedForm, row: BlindDeclaration, code: str, what: str
) -> Response:
    here = f"/evaluation/{code}"
    data: dict[str, Any]
    if what == "assign":  # R26: 转办, no confirmation (it is handed back to undo it)
        try:
            action = await assign(page.portal, page.account, row.workflow_id, form)
        except Refusal as refusal:
            return await detail_page(page, row, code, refusal)
        return RedirectResponse(f"{here}?done={action}", 303)
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
        if what in CONFIRMED_ACTIONS and not confirmed(form):
            await page.portal.check(page.account, row.workflow_id, action, data)
            held = await read_held(page.portal, row.workflow_id)
            item = blind_item(row, page.portal.secret, datetime.now(UTC)) | limits(held)
            asked = MASKING if data.get(MASKING) else what
            return confirm_page(page, f"{here}/{what}", form, confirmations(item, here)[asked])
        await page.portal.send(
            page.account, row.workflow_id, action, data, request_token=form.get("request_token")
        )
    except Refusal as refusal:
        return await detail_page(page, row, code, refusal)
    after = await page.portal.row(row.workflow_id)
    still_here = after is not None and Stage(after.stage) in BLIND_STAGES
    return RedirectResponse(f"{here if still_here else '/evaluation'}?done={action}", 303)
