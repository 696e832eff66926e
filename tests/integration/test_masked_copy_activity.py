"""The masked-copy check's activity (activities/masked_copy.py) on the record database (SQLite
and PostgreSQL) with real tesseract, run by Temporal's ActivityEnvironment: a three-page copy
whose second page still shows the name is read page by page (a heartbeat and a progress row
after each), the finding is on page 2; run again it reads nothing and writes nothing new; a
retry resumes after the pages its last heartbeat reported."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from activities.masked_copy import MaskedCopyActivities
from models.declaration import MaskedCopyCheckInput
from models.masked_check import CheckStatus
from portal.masking import masked_copy
from portal.uploads import PDF, write_content
from store.db import get_engine
from store.masked_checks import MaskedCopyCheck, checks_of
from tests.helpers.portal_applicant_support import (
    IDENTITY_SCAN_BOXES,
    identity_scan,
    pdf_of,
)
from tests.helpers.samples import SAMPLE_ID_CARD, SAMPLE_MOBILE, sample_declaration_input

APPLICANT = sample_declaration_input().applicant


def three_pages_second_leaks() -> bytes:
    """A PDF of three identity scans, masked with the tool: every line on pages 1 and 3, all
    but the name on page 2."""
    page = identity_scan(APPLICANT.name, SAMPLE_ID_CARD, SAMPLE_MOBILE, APPLICANT.employer.name)
    boxes = [
        {"page": index, **dict(zip(("x", "y", "w", "h"), box, strict=True))}
        for index in range(3)
        for field, box in IDENTITY_SCAN_BOXES.items()
        if not (index == 1 and field == "name")
    ]
    return masked_copy(pdf_of(page, page, page), PDF, json.dumps(boxes)).data


def request(declaration_id: str, sha: str) -> MaskedCopyCheckInput:
    return MaskedCopyCheckInput(
        declaration_id=declaration_id,
        masked_sha256=sha,
        media_type=PDF,
        applicant=APPLICANT,
        task_queue="unused-here",
    )


async def run(
    activities: MaskedCopyActivities, checking: MaskedCopyCheckInput, resumed: list[Any] | None
) -> tuple[Any, list[int]]:
    env = ActivityEnvironment()
    if resumed is not None:
        env.info = dataclasses.replace(env.info, heartbeat_details=resumed)
    beats: list[int] = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    return await env.run(activities.check_masked_copy, checking), beats


async def rows(database: str, declaration_id: str) -> int:
    async with get_engine(database).connect() as conn:
        query = select(func.count()).where(MaskedCopyCheck.workflow_id == declaration_id)
        return (await conn.execute(query)).scalar_one()


async def test_pages_read_in_turn_once_and_resumed(database: str, tmp_path: Path) -> None:
    store = tmp_path / "uploads"
    sha = write_content(store, three_pages_second_leaks())
    activities = MaskedCopyActivities(get_engine(database), store)

    result, beats = await run(activities, request("decl-2026-aaaa", sha), None)
    assert beats == [1, 2, 3]  # a heartbeat after each page
    assert result.status is CheckStatus.found and (result.pages_done, result.pages) == (3, 3)
    assert [(f.kind, f.page) for f in result.findings] == [("name", 2)]
    assert (await checks_of(get_engine(database), "decl-2026-aaaa", [sha]))[sha] == result

    again, beats = await run(activities, request("decl-2026-aaaa", sha), None)
    assert again == result and beats == []  # nothing read, nothing written twice
    assert await rows(database, "decl-2026-aaaa") == 1

    # a retry after page 2 (its heartbeat: 2 pages, page 2's finding) reads page 3 only
    reported = [2, [f.model_dump(mode="json") for f in result.findings]]
    resumed, beats = await run(activities, request("decl-2026-bbbb", sha), reported)
    assert beats == [3]
    assert resumed == result
