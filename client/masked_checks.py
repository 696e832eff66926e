"""The masked-copy check from the client side (R11): start the OCR of a masked copy as
durable background work, and put each material's check verdict, as the record database holds
it, into a `submit`/`resubmit` payload.

- `start_masked_copy_check`: the copy's row (pending, store/masked_checks.py), then the
  `MaskedCopyCheck` workflow (workflows/masked_copy_check.py; its id from the declaration's
  id and the copy's hash, no personal data): a second start for the same copy is refused by
  Temporal, and that is the deduplication. The portal calls it when the applicant makes a
  masked copy.
- `with_check_verdicts`: every material of the payload gets the check of its masked copy
  from the record database, or none; a `check` the caller put in (a file, a form) is never
  kept. client.declarations.act does this for every submission it sends (portal and command
  line), so the Declaration workflow's validators judge the database's verdict.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from models.declaration import Applicant, MaskedCopyCheckInput
from models.masked_check import MASKED_COPY_CHECK_WORKFLOW_TYPE
from rules.identity import masked_check_workflow_id, ocr_task_queue
from store.masked_checks import begin_check, checks_of

MATERIAL_ACTIONS = ("submit", "resubmit")


async def start_masked_copy_check(
    client: Client,
    engine: AsyncEngine,
    *,
    declaration_id: str,
    applicant: Applicant,
    masked_sha256: str,
    media_type: str,
    pages: int,
    task_queue: str,
) -> bool:
    """Start checking one masked copy (the workflow on `task_queue`, its OCR on the queue
    beside it); False when this copy of this declaration was checked or is being checked."""
    await begin_check(engine, declaration_id, masked_sha256, pages)
    request = MaskedCopyCheckInput(
        declaration_id=declaration_id,
        masked_sha256=masked_sha256,
        media_type=media_type,
        applicant=applicant,
        task_queue=ocr_task_queue(task_queue),
    )
    try:
        await client.start_workflow(
            MASKED_COPY_CHECK_WORKFLOW_TYPE,
            request,
            id=masked_check_workflow_id(declaration_id, masked_sha256),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def with_check_verdicts(
    engine: AsyncEngine, workflow_id: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """`payload` (a submission's JSON) with each material's `check` replaced by the record
    database's check of its masked copy in this declaration (absent: none)."""
    materials = payload.get("materials")
    if not isinstance(materials, list) or not materials:
        return payload
    shas = [m.get("sha256") for m in materials if isinstance(m, dict)]
    found = await checks_of(engine, workflow_id, [s for s in shas if isinstance(s, str)])
    checked = []
    for material in materials:
        if not isinstance(material, dict):
            checked.append(material)  # the payload's own check refuses it
            continue
        material = {k: v for k, v in material.items() if k != "check"}
        check = found.get(material.get("sha256", "")) if material.get("masked") else None
        if check is not None:
            material["check"] = check.model_dump(mode="json")
        checked.append(material)
    return {**payload, "materials": checked}
