"""Materials for the evaluation body in blind view (R11): by the declaration's anonymous code,
and only ever the masked copy.

    GET /materials/{code}        the declaration's materials: number, name, type, pages, link
    GET /materials/{code}/{n}    material n (1-based): its masked copy, as an attachment named
                                 {code}-{n}.pdf (or .png): nothing that names the applicant

Which materials: those the workflow holds, i.e. the materials of the newest `submit` or
`resubmit` update it accepted (else of its start input), read from the workflow's history —
not the applicant's list in the portal, which may be mid-edit during a correction. A material
is served only when it is marked masked and is the masked copy (`uploads.masked_sha256`) that
the masking tool made for an account of that applicant; anything else is 404.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from models.common import Role
from models.declaration import DeclarationInput, Material, SubmitAction
from portal.context import Portal
from portal.evaluation import BLIND_STAGES
from portal.security import blind_code
from portal.uploads import SUFFIXES, StoredUpload, read_upload, upload_config
from store.accounts import Account
from store.tables import DeclarationRow
from store.uploads import Upload

MATERIAL_UPDATES = ("submit", "resubmit")


def material_url(code: str, number: int) -> str:
    """Where the evaluation body downloads material `number` (1-based) of a declaration."""
    return f"/materials/{code}/{number}"


def download_name(code: str, number: int, media_type: str) -> str:
    return f"{code}-{number}.{SUFFIXES.get(media_type, 'bin')}"


async def accepted_materials(client: Client, workflow_id: str) -> list[Material]:
    """The materials the Declaration workflow holds: its start input's, replaced by each
    accepted `submit`/`resubmit` that carried materials (its update handlers do the same)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    convert = client.data_converter
    materials: list[Material] = []
    for event in history.events:
        if event.HasField("workflow_execution_started_event_attributes"):
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [start] = await convert.decode(payloads, [DeclarationInput])
            materials = list(start.materials)
        elif event.HasField("workflow_execution_update_accepted_event_attributes"):
            update = event.workflow_execution_update_accepted_event_attributes
            request = update.accepted_request.input
            if request.name in MATERIAL_UPDATES:
                [action] = await convert.decode(request.args.payloads, [SubmitAction])
                if action.materials is not None:
                    materials = list(action.materials)
    return materials


@dataclass(frozen=True)
class BlindMaterial:
    number: int  # 1-based
    title: str
    copy: StoredUpload | None  # the masked copy; None: nothing a reviewer may get

    @property
    def suffix(self) -> str:
        return SUFFIXES.get(self.copy.media_type, "") if self.copy else ""


async def masked_copy_for(portal: Portal, row: Any, material: Material) -> StoredUpload | None:
    """The masked copy a material names, if it is one the masking tool made for an account
    of the declaration's applicant."""
    if not material.masked:
        return None
    owners = select(Account.id).where(Account.applicant_key == row.applicant_key)
    made_from = select(Upload.id).where(
        Upload.masked_sha256 == material.sha256, Upload.owner_account_id.in_(owners)
    )
    copy = select(Upload.__table__).where(
        Upload.sha256 == material.sha256, Upload.owner_account_id.in_(owners)
    )
    async with portal.engine().connect() as conn:
        if (await conn.execute(made_from.limit(1))).first() is None:
            return None
        found = (await conn.execute(copy.limit(1))).first()
    return StoredUpload.of(found) if found is not None else None


def add_routes(app: FastAPI, portal: Portal) -> None:
    async def blind_declaration(code: str) -> Any:
        """The declaration behind an anonymous code, among those the blind view lists."""
        found = await portal.rows(DeclarationRow.stage.in_([s.value for s in BLIND_STAGES]))
        for row in found:
            if hmac.compare_digest(blind_code(row.workflow_id, portal.secret), code):
                return row
        raise HTTPException(404, "没有这份申报")

    async def blind_materials(row: Any) -> list[BlindMaterial]:
        materials = await accepted_materials(await portal.temporal(), row.workflow_id)
        return [
            BlindMaterial(number, material.name, await masked_copy_for(portal, row, material))
            for number, material in enumerate(materials, 1)
        ]

    @app.get("/materials/{code}", response_class=HTMLResponse)
    async def material_list(request: Request, code: str) -> Response:
        account = await portal.current(request, Role.evaluation_body)
        row = await blind_declaration(code)
        context = {"account": account, "code": code, "materials": await blind_materials(row)}
        return portal.render(request, "materials.html", context)

    @app.get("/materials/{code}/{number}")
    async def material_download(request: Request, code: str, number: int) -> Response:
        await portal.current(request, Role.evaluation_body)
        row = await blind_declaration(code)
        materials = await blind_materials(row)
        if not 1 <= number <= len(materials) or materials[number - 1].copy is None:
            raise HTTPException(404, "没有这份材料的遮盖副本")
        copy = materials[number - 1].copy
        assert copy is not None
        data = await run_in_threadpool(read_upload, upload_config(app).directory, copy.sha256)
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
