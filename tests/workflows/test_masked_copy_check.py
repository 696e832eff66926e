"""R11, the masked-copy check (time-skipping test server, real tesseract): a scan that prints
the applicant's name, ID-card number, mobile and employer, masked with the masking tool
(portal/masking.py). Its copy whose boxes miss the name is checked by OCR in the background
(the MaskedCopyCheck workflow, its activity on the OCR queue) and found; the submission the
client builds from the record database is refused by the Declaration's validator, naming the
material, the page and the place, never the name, and leaves nothing in the history. A copy
masked properly is clean and accepted; a check not finished refuses as pending; a verdict
the caller writes into the payload is replaced by the database's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.declarations import act as client_act
from client.masked_checks import start_masked_copy_check
from models.common import Stage
from models.declaration import Material
from models.masked_check import CheckStatus, MaskedCheck
from portal.context import REFUSALS_ZH
from portal.masking import masked_copy
from portal.refusal_text import refused_text
from portal.uploads import PNG, write_content
from settings import Settings
from store.db import get_engine
from store.masked_checks import begin_check, checks_of
from tests.helpers.declaration_support import (
    keep_history,
    no_trace_left,
    settled_event_types,
    start,
    state,
)
from tests.helpers.portal_applicant_support import (
    IDENTITY_SCAN_BOXES,
    identity_scan,
    mask_boxes,
    ocr_worker_running,
    png_of,
)
from tests.helpers.samples import SAMPLE_ID_CARD, SAMPLE_MOBILE, sample_declaration_input
from tests.helpers.signing import TEST_SIGNER

pytestmark = pytest.mark.asyncio(loop_scope="session")

APPLICANT = sample_declaration_input().applicant  # 张三, 新疆示例硅业有限公司
PERSONAL = ("张三", SAMPLE_ID_CARD, SAMPLE_MOBILE, "示例", APPLICANT.employer.name)


@pytest.fixture(scope="module")
def upload_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("masked-check-uploads")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ocr_worker(
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    session_settings: Settings,
    upload_dir: Path,
) -> AsyncIterator[Worker]:
    async with ocr_worker_running(
        time_env.client, time_worker.task_queue, session_settings, upload_dir
    ) as worker:
        yield worker


def copy_of(*covered: str) -> bytes:
    """The masked copy (PNG) of the identity scan with boxes over these lines only."""
    scan = png_of(
        identity_scan(APPLICANT.name, SAMPLE_ID_CARD, SAMPLE_MOBILE, APPLICANT.employer.name)
    )
    return masked_copy(scan, PNG, mask_boxes(*covered)).data


async def checked(
    env: WorkflowEnvironment, worker: Worker, workflow_id: str, upload_dir: Path, data: bytes
) -> tuple[str, MaskedCheck]:
    """The copy stored, its check started as the portal starts it, and its result once the
    OCR activity recorded it (read from the record database, as the portal's list reads it)."""
    sha = write_content(upload_dir, data)
    started = await start_masked_copy_check(
        env.client,
        get_engine(),
        declaration_id=workflow_id,
        applicant=APPLICANT,
        masked_sha256=sha,
        media_type=PNG,
        pages=1,
        task_queue=worker.task_queue,
    )
    assert started
    for _ in range(600):
        check = (await checks_of(get_engine(), workflow_id, [sha]))[sha]
        if check.status is not CheckStatus.pending:
            return sha, check
        await asyncio.sleep(0.1)
    raise AssertionError("the masked-copy check did not finish in 60 s")


async def submit(env: WorkflowEnvironment, workflow_id: str, *materials: dict[str, Any]) -> Any:
    """`submit` as the portal and the command line send it (client.declarations.act): the
    materials' checks put in from the record database."""
    payload = {"actor": {"role": "applicant", "id": "applicant-1"}, "materials": list(materials)}
    return await client_act(
        env.client,
        workflow_id,
        "submit",
        payload,
        signer=TEST_SIGNER,
        update_id=f"test-{uuid.uuid4().hex}",  # each its own request
        engine=get_engine(),
    )


async def refused(
    env: WorkflowEnvironment, workflow_id: str, *materials: dict[str, Any]
) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await submit(env, workflow_id, *materials)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    assert not any(value in cause.message for value in PERSONAL)  # the kind, never the value
    return cause


def material(title: str, sha: str, **fields: Any) -> dict[str, Any]:
    return {"name": title, "sha256": sha, "masked": True, **fields}


async def test_a_copy_that_shows_the_name_is_refused_and_a_masked_one_accepted(
    time_env: WorkflowEnvironment, time_worker: Worker, ocr_worker: Worker, upload_dir: Path
) -> None:
    handle = await start(
        time_env, time_worker, masked_text_check=True, materials=[], applicant=APPLICANT
    )
    leaky_sha, leaky = await checked(
        time_env, time_worker, handle.id, upload_dir, copy_of("id_card", "mobile", "employer")
    )
    assert leaky.status is CheckStatus.found and leaky.pages_done == leaky.pages == 1
    assert [(f.kind, f.page, f.place) for f in leaky.findings] == [("name", 1, "上部偏左")]
    x, y, w, h = leaky.findings[0].box  # the name's words, in the line the boxes missed
    nx, ny, nw, nh = IDENTITY_SCAN_BOXES["name"]
    assert nx <= x + w / 2 <= nx + nw and ny <= y + h / 2 <= ny + nh

    before = await settled_event_types(handle)
    cause = await refused(
        time_env, handle.id, material("学历证书", "0" * 64), material("业绩证明", leaky_sha)
    )
    # the first material has no check at all; the second's finding is named first
    assert cause.type == "MaskedTextFound", cause
    assert cause.message == (
        "materials[1]: the masked copy still shows the applicant's name on page 1 (1 finding(s))"
    )
    [facts] = cause.details
    assert facts == {"problem": "masked_text_found", "material": "2", "page": "1",
                     "place": "上部偏左", "kind": "name"}  # fmt: skip
    assert refused_text(cause.type, facts) == (
        "第2份材料的遮盖副本中仍能识别出个人信息："
        "第1页 上部偏左 可见姓名。请重新遮盖该材料后再提交。"
    )
    # a verdict written into the payload is not trusted: the database's replaces it
    forged = {"status": "clean", "pages_done": 1, "pages": 1, "findings": []}
    cause = await refused(time_env, handle.id, material("业绩证明", leaky_sha, check=forged))
    assert cause.type == "MaskedTextFound"
    assert no_trace_left(before, await settled_event_types(handle))
    assert (await state(handle)).stage is Stage.draft

    # masked again, the name covered too: clean, and the submission goes through
    clean_sha, clean = await checked(
        time_env,
        time_worker,
        handle.id,
        upload_dir,
        copy_of("name", "id_card", "mobile", "employer"),
    )
    assert clean == MaskedCheck(status=CheckStatus.clean, pages_done=1, pages=1, findings=[])
    current = await submit(time_env, handle.id, material("业绩证明", clean_sha))
    assert current.stage is Stage.employer_review
    await keep_history(handle, "documents_masked_text_check_submitted")  # for tests/replay

    # a second check of the same copy starts nothing and leaves the one result
    again = await start_masked_copy_check(
        time_env.client, get_engine(), declaration_id=handle.id, applicant=APPLICANT,
        masked_sha256=clean_sha, media_type=PNG, pages=1, task_queue=time_worker.task_queue,
    )  # fmt: skip
    assert again is False
    assert (await checks_of(get_engine(), handle.id, [clean_sha]))[clean_sha] == clean


async def test_a_check_not_finished_refuses_as_pending(
    time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    handle = await start(time_env, time_worker, masked_text_check=True, materials=[])
    sha = "ab" * 32
    await begin_check(get_engine(), handle.id, sha, 5)  # started, nothing read yet
    before = await settled_event_types(handle)
    cause = await refused(time_env, handle.id, material("学历证书", sha))
    assert cause.type == "MaskedCheckPending"
    [facts] = cause.details
    assert facts == {
        "problem": "masked_check_pending",
        "material": "1",
        "pages_done": "0",
        "pages": "5",
    }
    assert "遮盖检查尚未完成" in (refused_text(cause.type, facts) or "")
    assert "遮盖检查尚未完成" in REFUSALS_ZH[cause.type]
    assert no_trace_left(before, await settled_event_types(handle))


async def test_declarations_without_the_flag_are_not_checked(
    time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    """Older declarations, those started from a file, by tests and benchmarks: no check."""
    handle = await start(
        time_env, time_worker, materials=[Material(name="学历证书", sha256="0" * 64, masked=True)]
    )
    assert (await submit(time_env, handle.id, material("学历证书", "0" * 64))).stage is (
        Stage.employer_review
    )
