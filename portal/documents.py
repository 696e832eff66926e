"""The documents the portal hands out as PDF downloads (R23): attachments 2 and 3 of a
declaration as the workflow published them (activities/publish.py), and documents rendered
from their templates without publishing them (attachment 4's preview).
"""

from __future__ import annotations

import asyncio
import hashlib

from fastapi import HTTPException
from fastapi.responses import Response
from sqlalchemy import select

from documents import render
from documents.publication import publication_dir
from models.documents import DocumentKind, PublishRequest
from portal.context import Portal, Refusal, log
from portal.viewer import download
from settings import Settings
from store.document_tables import DocumentPublication

ATTACHMENTS = {  # the notice's attachment number -> the document the workflow publishes
    2: (DocumentKind.employer_publicity, "附件2-推荐单位公示"),
    3: (DocumentKind.publicity_result, "附件3-推荐单位公示结果"),
}


async def document_pdf(request: PublishRequest, settings: Settings) -> bytes:
    """A document rendered to PDF from its template by documents/render.py (the same
    templates and fonts as the published ones), without publishing it."""
    try:
        render.check_cjk_font(settings.font_dir)
        rendered = await asyncio.to_thread(render.render_html, request, settings)
        return await render.render_pdf(rendered.html)
    except Exception as exc:
        log.warning("document %s not rendered: %s", request.key, exc)
        raise Refusal("文档暂时无法生成，请稍后重试。", type(exc).__name__, 503) from None


def pdf_download(data: bytes, file_name: str) -> Response:
    """A PDF as a download; `file_name` may be Chinese (RFC 6266 filename*)."""
    return download(data, "application/pdf", file_name)


async def attachment_download(
    portal: Portal, workflow_id: str, number: int, applicant_name: str
) -> Response:
    """Attachment 2 or 3 of a declaration as a PDF download; Refusal (404) while the
    workflow has not published it yet. An unknown number is a plain 404."""
    if number not in ATTACHMENTS:
        raise HTTPException(404, "没有这个附件")
    kind, name = ATTACHMENTS[number]
    data = await published_pdf(portal, workflow_id, kind)
    if data is None:
        when = "公示开始后生成附件2，公示期满后生成附件3"
        raise Refusal(f"{name}尚未生成（{when}）。", status=404)
    return pdf_download(data, f"{name}-{applicant_name}.pdf")


async def published_pdf(portal: Portal, workflow_id: str, kind: DocumentKind) -> bytes | None:
    """The declaration's published document: the stored PDF (checked against its SHA-256),
    else rendered from the recorded request; None when it has not been produced yet."""
    key = f"{kind.value}/{workflow_id}"
    async with portal.engine().connect() as conn:
        found = (
            await conn.execute(
                select(DocumentPublication.__table__).where(DocumentPublication.key == key)
            )
        ).first()
    if found is None:
        return None
    if found.status == "published" and found.file_name and found.sha256:
        path = publication_dir(portal.settings) / found.file_name
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            log.info("%s not in this portal's publication store (%s): rendering it", key, exc)
        else:
            if hashlib.sha256(data).hexdigest() == found.sha256:
                return data
            log.warning("%s: the stored file does not match its SHA-256; rendering it", key)
    return await document_pdf(PublishRequest.model_validate(found.request), portal.settings)
