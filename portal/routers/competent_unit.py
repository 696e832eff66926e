"""The competent unit's pages (主管单位, R14): the declarations its employers recommended to
it, soonest deadline first; on each declaration's page everything it reviews beside the
actions (not blind: the declaration form's answers, the achievements, each material's
original and masked copy on the page, the employer's recommendation with the signed scans
of attachments 2 and 3, the timeline); give the opinion (attachment 4) and recommend to the
evaluation body, or return to the employer with a reason.

    GET  /competent-unit                                   the queue (its filters in the address)
    POST /competent-unit                                   ... searched (q, filters, page)
    GET  /competent-unit/{id}                              one declaration and its actions
    GET  /competent-unit/{id}/attachments/{n}              attachment 2 or 3 (the publicity)
    GET  /competent-unit/{id}/materials/..., /scans/...    the files (portal/routers/files.py)
    POST /competent-unit/{id}/preview, /recommend, /return attachment 4 / the updates

Binding (no migration; docs/portal.md, Accounts): a competent-unit account stands for the unit
whose name is its `display_name`, exactly as employers name it in a declaration
(`Employer.competent_unit`, e.g. 「甘泉堡经济技术开发区（工业区）管理委员会」; surrounding
blanks ignored). Create one with
`starter.py account create --role competent_unit --username ... --name '<the unit's name>'`.
The accounts table has no other field for it, and the display name of such an account is
the unit's name anyway (the header shows it), so a nullable column would only repeat it.

A declaration's competent unit is in the workflow's input only (the record's projection has
no column for it): it is read once from the start event of the workflow's history
(portal/materials.py `started_input`) and kept in the app (portal/bound.py `BoundInputs`,
`app.state.bound_inputs`: it never changes). The queue is searched, filtered and paged by
the query of /search (portal/routers/search.py `search_context`, its stage only). A
declaration of another competent unit is 404 on every route, whatever its stage
(`OurDeclaration`).

Deadline: everything before the evaluation body has to be done by the close of submission
(R10), so that is the queue's order and the deadline shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from models.common import Stage
from models.documents import CompetentUnitOpinion, DocumentPerson, PublishRequest
from portal.assignments import (
    assign,
    assignment_view,
)
from portal.bound import Bound, BoundInputs, Inputs, is_ours, unit_name
from portal.context import Refusal
from portal.deps import CheckedForm, CompetentUnitPage, CurrentCompetentUnit, Page, PortalDep
from portal.documents import ATTACHMENTS, attachment_download, document_pdf, pdf_download
from portal.feedback import done_text
from portal.routers.files import add_material_routes, open_dossier
from portal.routers.search import SearchForm, search_context

router = APIRouter()

DEFAULT_OPINION = "经审核，该同志申报材料真实有效，符合申报条件，同意推荐。"


def attachment_4(account: Any, workflow_id: str, of: Bound, opinion: str) -> PublishRequest:
    """附件4 主管单位推荐意见, filled for one declaration (rendered, not published)."""
    document = CompetentUnitOpinion(
        round_year=of.round_year,
        applicant=DocumentPerson(
            name=of.applicant_name,
            employer_name=of.employer_name,
            level=of.level,
            declaration_id=workflow_id,
        ),
        competent_unit=unit_name(account.display_name),
        opinion=opinion[:2000],
    )
    return PublishRequest(scope=workflow_id, issued_at=datetime.now(UTC), document=document)


@dataclass(frozen=True)
class Ours:
    row: Any  # the projection row
    of: Bound


async def our_declaration(
    workflow_id: str, account: CurrentCompetentUnit, portal: PortalDep, inputs: Inputs
) -> Ours:
    """The declaration, if its employer's competent unit is this account's (404 otherwise)."""
    row = await portal.row(workflow_id)
    if row is None:
        raise HTTPException(404, "没有这份申报")
    of = await inputs.get(portal, workflow_id)
    if not is_ours(account, of):
        raise HTTPException(404, "没有这份申报")
    return Ours(row, of)


OurDeclaration = Annotated[Ours, Depends(our_declaration)]


async def our_row(ours: OurDeclaration) -> Any:
    return ours.row


OurRow = Annotated[Any, Depends(our_row)]


QUEUE = (Stage.competent_unit_review,)  # its list: those recommended to it, not yet passed on
QUEUE_TEXT = "所属用人单位推荐至本单位、待审核的申报"


async def queue_page(
    page: Page, inputs: BoundInputs, form: SearchForm, refusal: Refusal | None = None
) -> HTMLResponse:
    """Its queue, searched, filtered and paged as on /search (the same query, store/search.py:
    its employers' declarations, here only those before it), soonest deadline first."""
    context, unreadable = await search_context(
        page, inputs, form, action="/competent-unit", stages=QUEUE
    )
    context["search"]["scope_text"] = QUEUE_TEXT
    return page.render("competent_unit.html", context, refusal or unreadable)


async def declaration_page(page: Page, ours: Ours, refusal: Refusal | None = None) -> HTMLResponse:
    base = f"/competent-unit/{ours.row.workflow_id}"
    context, unavailable = await open_dossier(page.portal, ours.row, base)
    state = context["state"]
    recommended = [t for t in state.timeline if t.action == "recommend"] if state else []
    assignment = await assignment_view(page.portal, page.account, state)
    context |= {
        "of": ours.of,
        "recommendation": recommended[-1] if recommended else None,
        "attachments": {n: name for n, (_, name) in ATTACHMENTS.items()},
        "default_opinion": DEFAULT_OPINION,
        "assignment": assignment,
        "notice": done_text(page.request, assignee=assignment["assignee"] or ""),
    }
    return page.render("competent_unit_declaration.html", context, refusal or unavailable)


@router.get("/competent-unit", response_class=HTMLResponse)
async def competent_unit_queue(page: CompetentUnitPage, inputs: Inputs) -> Response:
    return await queue_page(page, inputs, SearchForm.read(page.request.query_params, query=False))


@router.post("/competent-unit", response_class=HTMLResponse)
async def competent_unit_search(
    page: CompetentUnitPage, form: CheckedForm, inputs: Inputs
) -> Response:
    return await queue_page(page, inputs, SearchForm.read(form))


@router.get("/competent-unit/{workflow_id}", response_class=HTMLResponse)
async def competent_unit_declaration(page: CompetentUnitPage, ours: OurDeclaration) -> Response:
    return await declaration_page(page, ours)


@router.get("/competent-unit/{workflow_id}/attachments/{number}")
async def competent_unit_attachment(
    page: CompetentUnitPage, ours: OurDeclaration, workflow_id: str, number: int
) -> Response:
    """Attachments 2 and 3 of a declaration before it (to review the publicity)."""
    try:
        return await attachment_download(page.portal, workflow_id, number, ours.of.applicant_name)
    except Refusal as refusal:
        return await declaration_page(page, ours, refusal)


add_material_routes(router, "/competent-unit/{workflow_id}", CurrentCompetentUnit, OurRow)


@router.post("/competent-unit/{workflow_id}/{what}", response_class=HTMLResponse)
async def competent_unit_act(
    page: CompetentUnitPage,
    form: CheckedForm,
    ours: OurDeclaration,
    workflow_id: str,
    what: str,
) -> Response:
    of = ours.of
    try:
        if what == "assign":  # R26: 转办, no confirmation (it is handed back to undo it)
            action = await assign(page.portal, page.account, workflow_id, form)
            return RedirectResponse(f"/competent-unit/{workflow_id}?done={action}", 303)
        if what == "preview":  # attachment 4 with this opinion; nothing is sent
            opinion = form.get("opinion", "").strip() or DEFAULT_OPINION
            pdf = await document_pdf(
                attachment_4(page.account, workflow_id, of, opinion), page.portal.settings
            )
            return pdf_download(pdf, f"附件4-主管单位推荐意见-{of.applicant_name}.pdf")
        if what == "recommend":
            action, data = "competent_unit_recommend", {"opinion": form.get("opinion", "")}
        elif what == "return":
            action, data = "competent_unit_return", {"reason": form.get("reason", "")}
        else:
            raise HTTPException(404)
        stripped = {k: v.strip() for k, v in data.items()}
        await page.portal.send(
            page.account, workflow_id, action, stripped, request_token=form.get("request_token")
        )
    except Refusal as refusal:
        return await declaration_page(page, ours, refusal)
    return RedirectResponse(f"/competent-unit/{workflow_id}?done={action}", 303)
