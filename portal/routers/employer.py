"""The employer's pages: its own staff's declarations only (by unified social credit code).

- `/employer`: the queue; approve (start the publicity, R13: its end by the working-day
  calendar) or return with a reason (R12).
- `/employer/{id}`: one declaration: its deadlines, objections, attachments and timeline;
  record an objection raised during the publicity and resolve it (upheld ends the
  declaration, R13); recommend (R14) with the mandated opinion prefilled and the signed scans
  of attachments 2 and 3 uploaded (portal/uploads.py: checked by content, kept by SHA-256;
  the workflow gets `upload:<sha256>` as `publicity_original_ref` / `publicity_result_ref`).
- `/employer/{id}/attachments/2` and `/3`: the filled attachment 2 (推荐单位公示) and 3
  (推荐单位公示结果) as PDF: the file the workflow published (activities/publish.py), or, if
  that file is not in this portal's publication store, rendered again from the recorded
  publication request with the same templates (portal/documents.py).

Another employer's declaration is 404 on every route, downloads included (`OwnDeclaration`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from models.common import Stage
from portal.context import Refusal
from portal.deps import CheckedForm, CurrentEmployer, EmployerPage, Page, PortalDep, Uploads
from portal.documents import ATTACHMENTS, attachment_download
from portal.field_errors import boolean, number
from portal.uploads import UploadConfig, UploadRefused, store_form_file
from rules.recommendation import RECOMMENDATION_OPINION
from store.tables import DeclarationRow

router = APIRouter()

SCANS = {  # the recommend form's file fields -> the workflow's reference fields (R14)
    "publicity_original": "publicity_original_ref",  # the signed attachment 2
    "publicity_result": "publicity_result_ref",  # the signed attachment 3
}
SCAN_NAMES_ZH = {
    "publicity_original": "公示原件（附件2）",
    "publicity_result": "公示结果证明（附件3）",
}


def upload_ref(sha256: str) -> str:
    """How a recommendation names an uploaded scan (the upload store's content address)."""
    return f"upload:{sha256}"


async def own_declaration(workflow_id: str, account: CurrentEmployer, portal: PortalDep) -> Any:
    """The declaration, if it is one of this employer's staff (404 otherwise)."""
    found = await portal.row(workflow_id)
    if found is None or found.employer_uscc != account.employer_uscc:
        raise HTTPException(404, "没有这份申报")
    return found


OwnDeclaration = Annotated[Any, Depends(own_declaration)]


async def employer_page(
    page: Page, refusal: Refusal | None = None, target: str | None = None
) -> HTMLResponse:
    items = await page.portal.rows(DeclarationRow.employer_uscc == page.account.employer_uscc)
    items.sort(key=lambda r: (Stage(r.stage).is_ending, r.updated_at))
    return page.render("employer.html", {"items": items, "target": target}, refusal)


async def declaration_page(page: Page, row: Any, refusal: Refusal | None = None) -> HTMLResponse:
    state = None
    try:
        state = await page.portal.state(row.workflow_id)
    except Refusal as unavailable:
        refusal = refusal or unavailable
    published = {d.kind: d for d in state.documents} if state else {}
    attachments = [
        (number, name, published.get(kind)) for number, (kind, name) in ATTACHMENTS.items()
    ]
    context = {
        "row": row,
        "state": state,
        "attachments": attachments,
        "opinion": RECOMMENDATION_OPINION,
        "scan_names": SCAN_NAMES_ZH,
    }
    return page.render("employer_declaration.html", context, refusal)


@router.get("/employer", response_class=HTMLResponse)
async def employer_queue(page: EmployerPage) -> Response:
    return await employer_page(page)


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


@router.post("/employer/{workflow_id}/{what}", response_class=HTMLResponse)
async def employer_act(
    page: EmployerPage,
    form: CheckedForm,
    row: OwnDeclaration,
    uploads: Uploads,
    workflow_id: str,
    what: str,
) -> Response:
    back = f"/employer/{workflow_id}"
    try:
        if what == "approve":
            action, data, back = "start_publicity", {}, "/employer"
        elif what == "return":
            reason = form.get("reason", "").strip()
            action, data, back = "employer_return", {"reason": reason}, "/employer"
        elif what == "object":
            action, data = "raise_objection", {"summary": form.get("summary", "").strip()}
        elif what == "resolve":
            action, data = (
                "resolve_objection",
                {
                    "objection_id": number(form.get("objection_id", "")),
                    "upheld": boolean(form.get("upheld", "")),
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
        if what in ("approve", "return"):
            return await employer_page(page, refusal, workflow_id)
        return await declaration_page(page, row, refusal)
    return RedirectResponse(back, 303)
