"""The `MaskedCopyCheck` workflow (R11): OCR of one masked copy of a declaration, started by
the client when the applicant makes the copy (client/masked_checks.py; workflow id
rules.identity.masked_check_workflow_id: the declaration's id and the copy's hash, so a second
start of the same copy is refused — the deduplication). Its one activity reads the pages on
the OCR task queue, one at a time, and records the progress and the result in the record
database (activities/masked_copy.py); the Declaration workflow learns the result from the
submission, which carries it (models.declaration.Material.check)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.declaration import MaskedCopyCheckInput
    from models.masked_check import MASKED_COPY_CHECK_WORKFLOW_TYPE, MaskedCheck
    from workflows import calls


@workflow.defn(name=MASKED_COPY_CHECK_WORKFLOW_TYPE)
class MaskedCopyCheckWorkflow:
    @workflow.run
    async def run(self, request: MaskedCopyCheckInput) -> MaskedCheck:
        return await calls.check_masked_copy(request)
