"""R11 on the Declaration workflow (time-skipping test server): a material whose title
identifies the applicant is refused at submit and resubmit, by the validator, leaving no
history event; the refusal names the material's position and the kind, never the value."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Stage
from models.declaration import Material
from tests.helpers.declaration_support import (
    act,
    no_trace_left,
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
