"""What the Declaration workflow holds of a declaration, read from its history: the start input
(`started_input`: the first event only; `held_declaration`: with the materials), and the
files behind each material (`material_files`: the applicant's upload and its masked copy).
The pages of the employer and the competent unit show both files; those of the evaluation
body and the committee, in blind view (R11), only the masked copy (`blind_materials`).

Which materials: those the workflow holds, i.e. the materials of the newest `submit` or
`resubmit` update it accepted (else of its start input), read from the workflow's history —
not the applicant's list in the portal, which may be mid-edit during a correction. A masked
copy is served only when the material is marked masked and is the copy
(`uploads.masked_sha256`) that the masking tool made for an account of that applicant; its
original is the upload it was made from. A title that identifies the applicant
(rules/blind_review.py) is never shown in blind view (`HIDDEN_TITLE`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RPCError

from models.declaration import DeclarationInput, Material, SubmitAction
from portal.context import Portal, Refusal, log
from portal.uploads import SUFFIXES, StoredUpload
from rules.blind_review import identifying_title
from store.accounts import Account
from store.uploads import Upload

MATERIAL_UPDATES = ("submit", "resubmit")


def download_name(code: str, number: int, media_type: str) -> str:
    """Material `number` (1-based) of a declaration as the evaluation body downloads it."""
    return f"{code}-{number}.{SUFFIXES.get(media_type, 'bin')}"


async def _started_with(convert: DataConverter, event: HistoryEvent) -> DeclarationInput:
    payloads = event.workflow_execution_started_event_attributes.input.payloads
    [start] = await convert.decode(payloads, [DeclarationInput])
    return start


async def started_input(client: Client, workflow_id: str) -> DeclarationInput:
    """The declaration's start input (the first event of its workflow's history): the
    applicant, the employer, the level, the eligibility facts, the achievements."""
    handle = client.get_workflow_handle(workflow_id)
    async for event in handle.fetch_history_events(page_size=1):
        return await _started_with(client.data_converter, event)
    raise LookupError(f"{workflow_id}: no start event")


@dataclass(frozen=True)
class Held:
    """What the Declaration workflow holds of a declaration's input: its start input and the
    materials of the newest accepted `submit`/`resubmit` (else of the start input)."""

    declaration: DeclarationInput
    materials: list[Material]


async def held_declaration(client: Client, workflow_id: str) -> Held:
    """The start input, its materials replaced by each accepted `submit`/`resubmit` that
    carried materials (the workflow's update handlers do the same)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    convert = client.data_converter
    start: DeclarationInput | None = None
    materials: list[Material] = []
    for event in history.events:
        if event.HasField("workflow_execution_started_event_attributes"):
            start = await _started_with(convert, event)
            materials = list(start.materials)
        elif event.HasField("workflow_execution_update_accepted_event_attributes"):
            update = event.workflow_execution_update_accepted_event_attributes
            request = update.accepted_request.input
            if request.name in MATERIAL_UPDATES:
                [action] = await convert.decode(request.args.payloads, [SubmitAction])
                if action.materials is not None:
                    materials = list(action.materials)
    if start is None:
        raise LookupError(f"{workflow_id}: no start event")
    return Held(start, materials)


async def accepted_materials(client: Client, workflow_id: str) -> list[Material]:
    """The materials the Declaration workflow holds (`held_declaration`)."""
    return (await held_declaration(client, workflow_id)).materials


async def read_held(portal: Portal, workflow_id: str) -> Held:
    """`held_declaration` for a page: Refusal (503) when the history cannot be read."""
    try:
        return await held_declaration(await portal.temporal(), workflow_id)
    except (RPCError, RuntimeError, LookupError, ValueError) as exc:
        # the failure's kind only: a decoding error could quote the input (personal data)
        log.warning("input of %s not read: %s", workflow_id, type(exc).__name__)
        raise Refusal("暂时无法读取申报信息，请稍后刷新。", type(exc).__name__, 503) from None


@dataclass(frozen=True)
class MaterialFiles:
    """One material the workflow holds, with the applicant's upload it was masked from and
    the masked copy (None where there is none the portal can serve)."""

    number: int  # 1-based
    title: str
    original: StoredUpload | None
    masked: StoredUpload | None


async def material_files(
    portal: Portal, row: Any, material: Material, number: int
) -> MaterialFiles:
    """Material `number` with its files, looked up among the uploads of the accounts of the
    declaration's applicant: the masked copy only when the masking tool made it for them
    from one of their uploads (`uploads.masked_sha256`), that upload as the original."""
    owners = select(Account.id).where(Account.applicant_key == row.applicant_key)
    mine = Upload.owner_account_id.in_(owners)
    original, masked = None, None
    async with portal.engine().connect() as conn:
        if material.masked:
            made_from = select(Upload.__table__).where(Upload.masked_sha256 == material.sha256)
            found = (await conn.execute(made_from.where(mine).limit(1))).first()
            if found is not None:
                original = StoredUpload.of(found)
                copy = select(Upload.__table__).where(Upload.sha256 == material.sha256)
                found = (await conn.execute(copy.where(mine).limit(1))).first()
                masked = StoredUpload.of(found) if found is not None else None
        else:
            plain = select(Upload.__table__).where(Upload.sha256 == material.sha256)
            found = (await conn.execute(plain.where(mine).limit(1))).first()
            original = StoredUpload.of(found) if found is not None else None
    return MaterialFiles(number, material.name, original, masked)


HIDDEN_TITLE = "（材料名称含申报人信息，已隐藏）"


async def materials_with_files(
    portal: Portal, row: Any, held: Held, *, blind: bool = False
) -> list[MaterialFiles]:
    """Every material the workflow holds, with its files (`material_files`). `blind`: a
    title that identifies the applicant (one accepted before the workflow checked titles,
    R11) is HIDDEN_TITLE."""
    files = []
    for number, material in enumerate(held.materials, 1):
        found = await material_files(portal, row, material, number)
        if blind and identifying_title(material.name, held.declaration.applicant):
            found = replace(found, title=HIDDEN_TITLE)
        files.append(found)
    return files


@dataclass(frozen=True)
class BlindMaterial:
    number: int  # 1-based
    title: str
    copy: StoredUpload | None  # the masked copy; None: nothing a reviewer may get

    @property
    def suffix(self) -> str:
        return SUFFIXES.get(self.copy.media_type, "") if self.copy else ""


async def blind_materials(
    portal: Portal, row: Any, held: Held | None = None
) -> list[BlindMaterial]:
    """The materials the declaration's workflow holds (`held`, else read), each with the
    masked copy a reviewer may get (None: nothing to get)."""
    held = held or await held_declaration(await portal.temporal(), row.workflow_id)
    return [
        BlindMaterial(f.number, f.title, f.masked)
        for f in await materials_with_files(portal, row, held, blind=True)
    ]
