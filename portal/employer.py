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
  publication request with the same templates.

Another employer's declaration is 404 on every route, downloads included.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from documents.publication import publication_dir
from models.common import Role, Stage
from models.documents import DocumentKind, PublishRequest
from portal.context import Portal, Refusal, document_pdf, log, pdf_download
from portal.uploads import UploadRefused, store_form_file, upload_config
from rules.recommendation import RECOMMENDATION_OPINION
from store.db import get_engine
from store.document_tables import DocumentPublication
from store.tables import DeclarationRow

ATTACHMENTS = {  # the notice's attachment number -> the document the workflow publishes
    2: (DocumentKind.employer_publicity, "附件2-推荐单位公示"),
    3: (DocumentKind.publicity_result, "附件3-推荐单位公示结果"),
}
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


async def attachment_download(workflow_id: str, number: int, applicant_name: str) -> Response:
    """Attachment 2 or 3 of a declaration as a PDF download; Refusal (404) while the
    workflow has not published it yet. An unknown number is a plain 404."""
    if number not in ATTACHMENTS:
        raise HTTPException(404, "没有这个附件")
    kind, name = ATTACHMENTS[number]
    data = await published_pdf(workflow_id, kind)
    if data is None:
        when = "公示开始后生成附件2，公示期满后生成附件3"
        raise Refusal(f"{name}尚未生成（{when}）。", status=404)
    return pdf_download(data, f"{name}-{applicant_name}.pdf")


async def published_pdf(workflow_id: str, kind: DocumentKind) -> bytes | None:
    """The declaration's published document: the stored PDF (checked against its SHA-256),
    else rendered from the recorded request; None when it has not been produced yet."""
    key = f"{kind.value}/{workflow_id}"
    async with get_engine().connect() as conn:
        found = (
            await conn.execute(
                select(DocumentPublication.__table__).where(DocumentPublication.key == key)
            )
        ).first()
    if found is None:
        return None
    if found.status == "published" and found.file_name and found.sha256:
        path = publication_dir() / found.file_name
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            log.info("%s not in this portal's publication store (%s): rendering it", key, exc)
        else:
            if hashlib.sha256(data).hexdigest() == found.sha256:
                return data
            log.warning("%s: the stored file does not match its SHA-256; rendering it", key)
    return await document_pdf(PublishRequest.model_validate(found.request))


def add_routes(app: FastAPI, portal: Portal) -> None:
    async def own(account: Any, workflow_id: str) -> Any:
        """The declaration, if it is one of this employer's staff (404 otherwise)."""
        found = await portal.row(workflow_id)
        if found is None or found.employer_uscc != account.employer_uscc:
            raise HTTPException(404, "没有这份申报")
        return found

    async def employer_page(
        request: Request, account: Any, refusal: Refusal | None = None, target: str | None = None
    ) -> HTMLResponse:
        items = await portal.rows(DeclarationRow.employer_uscc == account.employer_uscc)
        items.sort(key=lambda r: (Stage(r.stage).is_ending, r.updated_at))
        context = {"account": account, "items": items, "target": target}
        return portal.render(request, "employer.html", context, refusal)

    async def declaration_page(
        request: Request, account: Any, row: Any, refusal: Refusal | None = None
    ) -> HTMLResponse:
        state = None
        try:
            state = await portal.state(row.workflow_id)
        except Refusal as unavailable:
            refusal = refusal or unavailable
        published = {d.kind: d for d in state.documents} if state else {}
        attachments = [
            (number, name, published.get(kind)) for number, (kind, name) in ATTACHMENTS.items()
        ]
        context = {
            "account": account,
            "row": row,
            "state": state,
            "attachments": attachments,
            "opinion": RECOMMENDATION_OPINION,
            "scan_names": SCAN_NAMES_ZH,
        }
        return portal.render(request, "employer_declaration.html", context, refusal)

    @app.get("/employer", response_class=HTMLResponse)
    async def employer_queue(request: Request) -> Response:
        return await employer_page(request, await portal.current(request, Role.employer))

    @app.get("/employer/{workflow_id}", response_class=HTMLResponse)
    async def employer_declaration(request: Request, workflow_id: str) -> Response:
        account = await portal.current(request, Role.employer)
        return await declaration_page(request, account, await own(account, workflow_id))

    @app.get("/employer/{workflow_id}/attachments/{number}")
    async def employer_attachment(request: Request, workflow_id: str, number: int) -> Response:
        account = await portal.current(request, Role.employer)
        row = await own(account, workflow_id)
        try:
            return await attachment_download(workflow_id, number, row.applicant_name)
        except Refusal as refusal:
            return await declaration_page(request, account, row, refusal)

    async def scan_refs(request: Request, account: Any) -> dict[str, str]:
        """The recommend form's two scans, stored; their references for the workflow."""
        form = await request.form()  # already read (and CSRF-checked) by form_checked
        config = upload_config(app)
        refs: dict[str, str] = {}
        for field, ref_field in SCANS.items():
            file = form.get(field)
            if not isinstance(file, UploadFile) or not file.filename:
                raise Refusal(f"请上传{SCAN_NAMES_ZH[field]}的签章扫描件。", field, status=400)
            try:
                stored = await store_form_file(
                    portal.engine(), config, owner_account_id=account.id, file=file
                )
            except UploadRefused as exc:
                text = f"{SCAN_NAMES_ZH[field]}：{exc.text}"
                raise Refusal(text, exc.detail, status=exc.status) from None
            refs[ref_field] = upload_ref(stored.sha256)
        return refs

    @app.post("/employer/{workflow_id}/{what}", response_class=HTMLResponse)
    async def employer_act(request: Request, workflow_id: str, what: str) -> Response:
        account = await portal.current(request, Role.employer)
        form = await portal.form_checked(request)
        row = await own(account, workflow_id)
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
                        "objection_id": form.get("objection_id", ""),
                        "upheld": form.get("upheld", ""),
                        "resolution": form.get("resolution", "").strip(),
                    },
                )
            elif what == "recommend":
                opinion = form.get("opinion", "").strip()
                action, data = "recommend", {"opinion": opinion} | await scan_refs(request, account)
            else:
                raise HTTPException(404)
            await portal.send(account, workflow_id, action, data)
        except Refusal as refusal:
            if what in ("approve", "return"):
                return await employer_page(request, account, refusal, workflow_id)
            return await declaration_page(request, account, row, refusal)
        return RedirectResponse(back, 303)
