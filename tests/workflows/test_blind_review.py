"""R11 on the Declaration workflow (time-skipping test server): a material whose title
identifies the applicant is refused at submit and resubmit, by the validator, leaving no
history event; the refusal names the material's position and the kind, never the value. A
return because the masking is incomplete counts toward R15's limit only where the round says
so (RoundConfig.masking_return_counts)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Stage
from models.declaration import DeclarationState, Material
from store.db import get_engine
from store.tables import AuditEvent, OutboxMessage
from tests.helpers.declaration_support import (
    act,
    no_trace_left,
    round_around,
    settled_event_types,
    start,
    state,
    to_evaluation_review,
)
from tests.helpers.samples import SAMPLE_ID_CARD, SAMPLE_MOBILE

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The sample applicant (tests/helpers/samples.py): 张三, 新疆示例硅业有限公司.
PERSONAL = ("张三", "Zhang", SAMPLE_ID_CARD, SAMPLE_MOBILE, "示例", "新疆示例硅业有限公司")


def material(name: str, digit: str = "1") -> dict[str, object]:
    return {"name": name, "sha256": digit * 64, "masked": True}


async def identifying(handle, action: str, materials: list[dict[str, object]] | None) -> str:
    """Send `action` with `materials`; it must be refused as IdentifyingTitle. The message."""
    fields = {} if materials is None else {"materials": materials}
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await act(handle, action, "applicant", **fields)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "IdentifyingTitle"
    assert not any(value in cause.message for value in PERSONAL)  # the kind, not the value
    return cause.message


async def test_an_identifying_title_is_refused_at_submit_with_no_trace(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    # started as the command line or any client may start it: with the titles in its input
    handle = await start(
        time_env,
        time_worker,
        materials=[
            Material(name="学历证书.pdf", sha256="0" * 64, masked=True),
            Material(name="张 三 业绩证明.pdf", sha256="1" * 64, masked=True),
        ],
    )
    before = await settled_event_types(handle)
    message = await identifying(handle, "submit", None)
    assert message == "materials[1]: the title identifies the applicant (name)"
    tries = {
        "id_card": [material("身份证 110105 19491231 002x")],
        "mobile": [material("学历证书"), material("电话 +86 138-0013-8000", "2")],
        "employer": [material("示例硅业业绩证明")],
        "name": [material("Zhang San CV")],
    }
    for kind, materials in tries.items():
        message = await identifying(handle, "submit", materials)
        assert message.endswith(f"the title identifies the applicant ({kind})"), message
    assert no_trace_left(before, await settled_event_types(handle))
    assert (await state(handle)).stage is Stage.draft

    current = await act(handle, "submit", "applicant", materials=[material("业绩证明（专利）")])
    assert current.stage is Stage.employer_review


async def test_an_identifying_title_is_refused_at_resubmit(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await to_evaluation_review(time_env, handle)
    await act(handle, "return_for_correction", "evaluation_body", reason="业绩证明缺页")
    before = await settled_event_types(handle)
    message = await identifying(handle, "resubmit", [material("学历证书"), material("新疆示例")])
    assert message == "materials[1]: the title identifies the applicant (employer)"
    assert no_trace_left(before, await settled_event_types(handle))
    current = await act(handle, "resubmit", "applicant", materials=[material("业绩证明（补页）")])
    assert current.stage is Stage.evaluation_review


# --- a return because the masking is incomplete (R11, R15) ----------------------------------


async def masking_return(handle) -> DeclarationState:
    return await act(
        handle,
        "return_for_correction",
        "evaluation_body",
        reason="第2页单位公章未遮盖",
        masking_incomplete=True,
    )


async def test_a_masking_return_does_not_count_by_default(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await to_evaluation_review(time_env, handle)
    for n in range(1, 4):  # three counted returns: the limit
        current = await act(handle, "return_for_correction", "evaluation_body", reason=f"第{n}次")
        assert current.return_count == n
        await act(handle, "resubmit", "applicant")
    for n in range(1, 3):  # masking returns beyond it neither count nor lock
        current = await masking_return(handle)
        assert (current.stage, current.return_count) == (Stage.correction, 3)
        assert current.masking_return_count == n
        assert "correction_deadline" in current.deadlines  # the same 48 hours to correct
        await act(handle, "resubmit", "applicant")
    current = await act(handle, "return_for_correction", "evaluation_body", reason="第4次")
    assert (current.stage, current.return_count) == (Stage.locked, 4)

    async with get_engine().connect() as conn:
        audit = (
            await conn.execute(
                select(AuditEvent.details)
                .where(AuditEvent.workflow_id == handle.id)
                .where(AuditEvent.action == "return_for_correction")
                .order_by(AuditEvent.seq)
            )
        ).all()
        bodies = (
            await conn.execute(
                select(OutboxMessage.body)
                .where(OutboxMessage.workflow_id == handle.id)
                .where(OutboxMessage.event == "returned_for_correction")
                .order_by(OutboxMessage.created_at)
            )
        ).all()
    flags = [(d.get("masking_incomplete"), d.get("counted")) for (d,) in audit]
    assert flags == [(None, None)] * 3 + [(True, False)] * 2 + [(None, None)]
    assert "第1次退回" in bodies[0].body and "本次退回不计入退回次数" in bodies[3].body
    assert "重新遮盖" in bodies[3].body and "本次退回不计入" not in bodies[2].body


async def test_a_masking_return_counts_where_the_round_says_so(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    now = await time_env.get_current_time()
    handle = await start(time_env, time_worker, round_around(now, masking_return_counts=True))
    await to_evaluation_review(time_env, handle)
    for n in range(1, 4):
        current = await masking_return(handle)
        assert (current.return_count, current.masking_return_count) == (n, n)
        await act(handle, "resubmit", "applicant")
    current = await masking_return(handle)  # the 4th counted return locks (R15)
    assert (current.stage, current.return_count, current.masking_return_count) == (
        Stage.locked,
        4,
        4,
    )


async def test_only_the_evaluation_body_s_return_takes_the_masking_flag(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await act(handle, "submit", "applicant")
    with pytest.raises(WorkflowUpdateFailedError):  # not a field of the employer's return
        await act(handle, "employer_return", "employer", reason="x", masking_incomplete=True)
    assert (await state(handle)).stage is Stage.employer_review
