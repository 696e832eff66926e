"""The employer's pages: its own staff's declarations only (by unified social credit code).

- `/employer`: the queue, each declaration linked to its page; searched, filtered, counted
  and paged by the query of /search (portal/routers/search.py `search_context`): GET with
  the filters in the address, POST with the search text (CSRF-checked).
- `/employer/{id}`: one declaration, everything the employer reviews beside the actions:
  every answer of the declaration form (portal/dossier.py), the achievements, each material
  the workflow holds, its original and its masked copy viewable on the page (the inline
  viewer, portal/viewer.py; routes: portal/routers/files.py), attachments 2 and 3 and, once
  recommended, their signed scans, the objections and the timeline. The actions of the
  stage: approve (start the publicity, R13: its end by the working-day calendar; asked for
  confirmation first, portal/feedback.py) or return with a reason (R12); record an objection
  raised during the publicity and resolve it (upheld ends the declaration, R13: confirmed
  first); recommend (R14) with the mandated opinion prefilled and the signed scans of
  attachments 2 and 3 uploaded (portal/uploads.py: checked by content, kept by SHA-256; the
  workflow gets `upload:<sha256>` as `publicity_original_ref` / `publicity_result_ref`).
  After an action the page says what was done (`?done=`).
- `/employer/{id}/attachments/2` and `/3`: the filled attachment 2 (推荐单位公示) and 3
  (推荐单位公示结果) as PDF: the file the workflow published (activities/publish.py), or, if
  that file is not in this portal's publication store, rendered again from the recorded
  publication request with the same templates (portal/documents.py).

Another employer's declaration is 404 on every route, downloads included (`OwnDeclaration`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from models.common import Stage
from portal.assignments import assign, assignment_view
from portal.bound import BoundInputs, Inputs
from portal.context import Refusal
from portal.deps import CheckedForm, CurrentEmployer, EmployerPage, Page, PortalDep, Uploads
from portal.documents import ATTACHMENTS, attachment_download
from portal.dossier import SCAN_REFS, UPLOAD_REF
from portal.feedback import (
    confirm_page,
    confirmed,
    done_text,
    publicity_confirmation,
    upheld_confirmation,
)
from portal.field_errors import boolean, number
from portal.materials import read_held
from portal.routers.files import add_material_routes, open_dossier
from portal.routers.search import SearchForm, search_context
from portal.uploads import UploadConfig, UploadRefused, store_form_file
from rules.calendar import CalendarYearUnknown
from rules.publicity import round_publicity_ends_at
from rules.recommendation import RECOMMENDATION_OPINION
from rules.timezone import cn_datetime

router = APIRouter()

SCANS = {  # the recommend form's file fields -> the workflow's reference fields (R14)
    "publicity_original": SCAN_REFS[2],  # the signed attachment 2
    "publicity_result": SCAN_REFS[3],  # the signed attachment 3
}
SCAN_NAMES_ZH = {
    "publicity_original": "公示原件（附件2）",
    "publicity_result": "公示结果证明（附件3）",
}


def upload_ref(sha256: str) -> str:
    """How a recommendation names an uploaded scan (the upload store's content address)."""
    return f"{UPLOAD_REF}{sha256}"


async def own_declaration(workflow_id: str, account: CurrentEmployer, portal: PortalDep) -> Any:
    """The declaration, if it is one of this employer's staff (404 otherwise)."""
    found = await portal.row(workflow_id)
    if found is None or found.employer_uscc != account.employer_uscc:
        raise HTTPException(404, "没有这份申报")
    return found


OwnDeclaration = Annotated[Any, Depends(own_declaration)]


async def employer_page(
    page: Page, inputs: BoundInputs, form: SearchForm, refusal: Refusal | None = None
) -> HTMLResponse:
    """Its staff's declarations, searched, filtered and paged as on /search (the same query,
    store/search.py), soonest deadline first."""
    context, unreadable = await search_context(page, inputs, form, action="/employer")
    return page.render("employer.html", context, refusal or unreadable)


def done_facts(state: Any) -> dict[str, str]:
    """What the page says after an action, from the declaration's state."""
    ends = state.deadlines.get("publicity_ends_at") if state else None
    to = "主管单位" if state and state.stage is Stage.competent_unit_review else "评审机构"
    return {"ends": f"，公示至{cn_datetime(ends)}结束" if ends else "", "to": to}


async def declaration_page(page: Page, row: Any, refusal: Refusal | None = None) -> HTMLResponse:
    base = f"/employer/{row.workflow_id}"
    context, unavailable = await open_dossier(page.portal, row, base)
    state = context["state"]
    published = {d.kind: d for d in state.documents} if state else {}
    attachments = [
        (number, name, published.get(kind)) for number, (kind, name) in ATTACHMENTS.items()
    ]
    assignment = await assignment_view(page.portal, page.account, state)
    context |= {
        "attachments": attachments,
        "opinion": RECOMMENDATION_OPINION,
        "scan_names": SCAN_NAMES_ZH,
        "publicity": publicity_confirmation(base, None),
        "assignment": assignment,
        "notice": done_text(
            page.request, **done_facts(state), assignee=assignment["assignee"] or ""
        ),
    }
    return page.render("employer_declaration.html", context, refusal or unavailable)


@router.get("/employer", response_class=HTMLResponse)
async def employer_queue(page: EmployerPage, inputs: Inputs) -> Response:
    return await employer_page(
        page, inputs, SearchForm.read(page.request.query_params, query=False)
    )


@router.post("/employer", response_class=HTMLResponse)
async def employer_search(page: EmployerPage, form: CheckedForm, inputs: Inputs) -> Response:
    return await employer_page(page, inputs, SearchForm.read(form))


@router.get("/employer/{workflow_id}", response_class=HTMLResponse)
async def employer_declaration(page: EmployerPage, row: OwnDeclaration) -> Response:
    return await declaration_page(page, row)


@router.get("/employer/{workflow_id}/attachments/{number}")
async def employer_attachment(
    page: EmployerPage, row: OwnDeclaration, workflow_id: str, number: int
) -> Response:
    try:
        return await attachment_download(page.portal, workflow_id, number, row.applicant_name)
    except Refusal as refusal:
        return await declaration_page(page, row, refusal)


add_material_routes(router, "/employer/{workflow_id}", CurrentEmployer, OwnDeclaration)


async def scan_refs(page: Page, uploads: UploadConfig) -> dict[str, str]:
    """The recommend form's two scans, stored; their references for the workflow."""
    form = await page.request.form()  # already read (and CSRF-checked) by checked_form
    refs: dict[str, str] = {}
    for field, ref_field in SCANS.items():
        file = form.get(field)
        if not isinstance(file, UploadFile) or not file.filename:
            raise Refusal(f"请上传{SCAN_NAMES_ZH[field]}的签章扫描件。", field, status=400)
        try:
            stored = await store_form_file(
                page.portal.engine(), uploads, owner_account_id=page.account.id, file=file
            )
        except UploadRefused as exc:
            text = f"{SCAN_NAMES_ZH[field]}：{exc.text}"
            raise Refusal(text, exc.detail, status=exc.status) from None
        refs[ref_field] = upload_ref(stored.sha256)
    return refs


async def publicity_ends_if_now(page: Page, row: Any) -> str | None:
    """When a publicity started now would end (R13), as people read it; None if unknown."""
    try:
        held = await read_held(page.portal, row.workflow_id)
        return cn_datetime(round_publicity_ends_at(held.declaration.round, datetime.now(UTC)))
    except (Refusal, CalendarYearUnknown):
        return None


@router.post("/employer/{workflow_id}/{what}", response_class=HTMLResponse)
async def employer_act(
    page: EmployerPage,
    form: CheckedForm,
    row: OwnDeclaration,
    uploads: Uploads,
    workflow_id: str,
    what: str,
) -> Response:
    here = f"/employer/{workflow_id}"
    try:
        if what == "assign":  # R26: 转办, no confirmation (it is handed back to undo it)
            action = await assign(page.portal, page.account, workflow_id, form)
            return RedirectResponse(f"{here}?done={action}", 303)
        if what == "approve":
            if not confirmed(form):
                ends = await publicity_ends_if_now(page, row)
                return confirm_page(
                    page, f"{here}/approve", form, publicity_confirmation(here, ends)
                )
            action, data = "start_publicity", {}
        elif what == "return":
            action, data = "employer_return", {"reason": form.get("reason", "").strip()}
        elif what == "object":
            action, data = "raise_objection", {"summary": form.get("summary", "").strip()}
        elif what == "resolve":
            upheld = boolean(form.get("upheld", ""))
            if upheld is True and not confirmed(form):
                return confirm_page(page, f"{here}/resolve", form, upheld_confirmation(here))
            action, data = (
                "resolve_objection",
                {
                    "objection_id": number(form.get("objection_id", "")),
                    "upheld": upheld,
                    "resolution": form.get("resolution", "").strip(),
                },
            )
        elif what == "recommend":
            opinion = form.get("opinion", "").strip()
            action, data = "recommend", {"opinion": opinion} | await scan_refs(page, uploads)
        else:
            raise HTTPException(404)
        await page.portal.send(
            page.account, workflow_id, action, data, request_token=form.get("request_token")
        )
    except Refusal as refusal:
        return await declaration_page(page, row, refusal)
    return RedirectResponse(f"{here}?done={action}", 303)
