"""Materials for the evaluation body in blind view (R11): by the declaration's anonymous code,
and only ever the masked copy (the routes: portal/routers/materials.py).

Which materials: those the workflow holds, i.e. the materials of the newest `submit` or
`resubmit` update it accepted (else of its start input), read from the workflow's history —
not the applicant's list in the portal, which may be mid-edit during a correction. A material
is served only when it is marked masked and is the masked copy (`uploads.masked_sha256`) that
the masking tool made for an account of that applicant; anything else is 404. A title that
identifies the applicant (rules/blind_review.py) is never shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from models.declaration import DeclarationInput, Material, SubmitAction
from portal.context import Portal
from portal.uploads import SUFFIXES, StoredUpload
from rules.blind_review import identifying_title
from store.accounts import Account
from store.uploads import Upload

MATERIAL_UPDATES = ("submit", "resubmit")


def download_name(code: str, number: int, media_type: str) -> str:
    """Material `number` (1-based) of a declaration as the evaluation body downloads it."""
    return f"{code}-{number}.{SUFFIXES.get(media_type, 'bin')}"


async def _started(client: Client, event: HistoryEvent) -> DeclarationInput | None:
    """The start input, if `event` is the workflow's start."""
    if not event.HasField("workflow_execution_started_event_attributes"):
        return None
    payloads = event.workflow_execution_started_event_attributes.input.payloads
    [start] = await client.data_converter.decode(payloads, [DeclarationInput])
    return start


async def started_input(client: Client, workflow_id: str) -> DeclarationInput:
    """The Declaration workflow's start input (its first history event): the applicant as
    the workflow holds them, which material titles are checked against (R11)."""
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        start = await _started(client, event)
        if start is not None:
            return start
    raise LookupError(f"{workflow_id}: no start event")


async def accepted_materials(client: Client, workflow_id: str) -> list[Material]:
    """The materials the Declaration workflow holds: its start input's, replaced by each
    accepted `submit`/`resubmit` that carried materials (its update handlers do the same)."""
    return (await _held(client, workflow_id))[1]


async def _held(client: Client, workflow_id: str) -> tuple[DeclarationInput, list[Material]]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    convert = client.data_converter
    materials: list[Material] = []
    started: DeclarationInput | None = None
    for event in history.events:
        start = await _started(client, event)
        if start is not None:
            started, materials = start, list(start.materials)
        elif event.HasField("workflow_execution_update_accepted_event_attributes"):
            update = event.workflow_execution_update_accepted_event_attributes
            request = update.accepted_request.input
            if request.name in MATERIAL_UPDATES:
                [action] = await convert.decode(request.args.payloads, [SubmitAction])
                if action.materials is not None:
                    materials = list(action.materials)
    if started is None:
        raise LookupError(f"{workflow_id}: no start event")
    return started, materials


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


HIDDEN_TITLE = "（材料名称含申报人信息，已隐藏）"


async def blind_materials(portal: Portal, row: Any) -> list[BlindMaterial]:
    """The materials the declaration's workflow holds, each with the masked copy a reviewer
    may get (None: nothing to get). A title that identifies the applicant (one accepted
    before the workflow checked titles, R11) is shown as HIDDEN_TITLE."""
    start, materials = await _held(await portal.temporal(), row.workflow_id)
    return [
        BlindMaterial(
            number,
            HIDDEN_TITLE if identifying_title(m.name, start.applicant) else m.name,
            await masked_copy_for(portal, row, m),
        )
        for number, m in enumerate(materials, 1)
    ]
