"""The masked-copy check's activity (R11): OCR of each page of a masked copy
(documents/ocr.py), the words matched against the applicant (rules/blind_review.py
page_findings), the progress and the result written to the record database
(store/masked_checks.py).

Runs on its own task queue with one activity slot (worker.py `build_ocr_worker`): OCR never
takes a slot from the round's activities or delays a reviewer's update. Idempotent: a result
already recorded is returned as it is (a retry, a second check of the same copy); a retry
resumes after the last page its heartbeat reported. Pages are rendered as the portal shows
and masks them (documents/page_images.py), so a finding's box is in those pixels. Nothing
read from a page is logged."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from documents.ocr import read_words
from documents.page_images import each_page_image, page_pixel_sizes, read_upload
from models.declaration import MaskedCopyCheckInput
from models.masked_check import (
    CHECK_MASKED_COPY,
    MAX_FINDINGS,
    CheckFinding,
    CheckStatus,
    MaskedCheck,
)
from rules.blind_review import Finding, page_findings
from store.masked_checks import begin_check, checks_of, record_progress, record_result

log = logging.getLogger("zhicheng.masked_copy")


def _finding(found: Finding) -> CheckFinding:
    return CheckFinding(kind=found.kind.value, page=found.page, place=found.place, box=found.box)


class MaskedCopyActivities:
    """Built by worker.py with the record database's engine and the upload store."""

    def __init__(self, engine: AsyncEngine, upload_dir: Path) -> None:
        self._engine = engine
        self._upload_dir = upload_dir

    @activity.defn(name=CHECK_MASKED_COPY)
    async def check_masked_copy(self, request: MaskedCopyCheckInput) -> MaskedCheck:
        wid, sha = request.declaration_id, request.masked_sha256
        recorded = (await checks_of(self._engine, wid, [sha])).get(sha)
        if recorded is not None and recorded.status is not CheckStatus.pending:
            return recorded  # checked before: the same result, nothing written
        data = await asyncio.to_thread(read_upload, self._upload_dir, sha)
        sizes, _ = await asyncio.to_thread(page_pixel_sizes, data, request.media_type)
        await begin_check(self._engine, wid, sha, len(sizes))
        done, findings = self._resumed()
        pages = each_page_image(data, request.media_type)
        try:
            for index in range(len(sizes)):
                image = await asyncio.to_thread(next, pages)
                if index < done:
                    continue  # read before this retry
                words = await read_words(image)
                found = page_findings(words, index + 1, image.size, request.applicant)
                findings += [_finding(f) for f in found]
                done = index + 1
                activity.heartbeat(done, [f.model_dump(mode="json") for f in findings])
                await record_progress(self._engine, wid, sha, done, len(sizes))
        finally:
            pages.close()
        status = CheckStatus.found if findings else CheckStatus.clean
        result = MaskedCheck(
            status=status,
            pages_done=done,
            pages=len(sizes),
            findings=findings[:MAX_FINDINGS],
        )
        log.info("masked copy of %s checked: %s, %d finding(s)", wid, status, len(findings))
        return await record_result(self._engine, wid, sha, result)

    @staticmethod
    def _resumed() -> tuple[int, list[CheckFinding]]:
        """The pages read and the findings so far, from the last attempt's heartbeat."""
        details = activity.info().heartbeat_details
        if len(details) < 2:
            return 0, []
        try:
            return int(details[0]), [CheckFinding.model_validate(f) for f in details[1]]
        except (TypeError, ValueError, ValidationError):
            return 0, []
