"""The evaluation body's downloads of a declaration's materials in blind view (R11), by its
anonymous code and only ever the masked copy (which materials: portal/materials.py).

    GET /materials/{code}        the declaration's materials: number, name, type, pages, link
    GET /materials/{code}/{n}    material n (1-based): its masked copy, as an attachment named
                                 {code}-{n}.pdf (or .png): nothing that names the applicant
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from portal.deps import (
    BlindDeclaration,
    CurrentEvaluationBody,
    EvaluationBodyPage,
    PortalDep,
    Uploads,
)
from portal.materials import blind_materials, download_name
from portal.uploads import read_upload

router = APIRouter()


@router.get("/materials/{code}", response_class=HTMLResponse)
async def material_list(page: EvaluationBodyPage, row: BlindDeclaration, code: str) -> Response:
    context = {"code": code, "materials": await blind_materials(page.portal, row)}
    return page.render("materials.html", context)


@router.get("/materials/{code}/{number}")
async def material_download(
    portal: PortalDep,
    account: CurrentEvaluationBody,
    row: BlindDeclaration,
    uploads: Uploads,
    code: str,
    number: int,
) -> Response:
    materials = await blind_materials(portal, row)
    if not 1 <= number <= len(materials) or materials[number - 1].copy is None:
        raise HTTPException(404, "没有这份材料的遮盖副本")
    copy = materials[number - 1].copy
    assert copy is not None
    data = await run_in_threadpool(read_upload, uploads.directory, copy.sha256)
    name = download_name(code, number, copy.media_type)
    return Response(
        data,
        media_type=copy.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
