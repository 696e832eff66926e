"""转办 (R26, `assign`): the organisation holding a declaration hands it to a colleague; the
assignee is in the state, the timeline, the audit trail and the projection; a colleague of
another organisation, or a stage the organisation does not hold, is refused without a trace."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Actor, Role, Stage
from models.declaration import Employer
from store.db import get_engine
from store.tables import AuditEvent, DeclarationRow
from tests.helpers.declaration_support import (
    RECOMMENDATION,
    SECOND,
    act,
    keep_history,
    no_trace_left,
    settled_event_types,
    sleep_until,
    start,
    state,
    to_publicity,
    to_review_open,
)
from tests.helpers.samples import SAMPLE_USCC, sample_declaration_input

pytestmark = pytest.mark.asyncio(loop_scope="session")

OTHER_USCC = "91310000MA1FL4UX7B"  # another employer's
UNIT = "甘泉堡经济技术开发区（工业区）管理委员会"


def colleague(role: str, username: str) -> dict[str, str]:
    """An account's actor, as the portal acts for it (`role:username`)."""
    return {"role": role, "id": f"{role}:{username}"}


async def refusal(handle, role: str, **fields) -> ApplicationError:
    """An `assign` its validator must refuse: the refusal (kind, message, facts)."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await act(handle, "assign", role, **fields)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def projection(workflow_id: str):
    async with get_engine().connect() as conn:
        query = select(DeclarationRow).filter_by(workflow_id=workflow_id)
        return (await conn.execute(query)).one()


async def test_the_employer_hands_it_to_a_colleague_on_the_record(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await act(handle, "submit", "applicant")
    current = await act(
        handle,
        "assign",
        "employer",
        assignee=colleague("employer", "hr-02"),
        assignee_unit=SAMPLE_USCC,
        note="请王科长审核",
    )
    assert current.stage is Stage.employer_review  # the stage stays
    assert current.assignees == {Role.employer: Actor(role=Role.employer, id="employer:hr-02")}
    entry = current.timeline[-1]
    assert (entry.action, entry.actor.id, entry.reason) == ("assign", "employer-1", "请王科长审核")
    assert entry.assignee == Actor(role=Role.employer, id="employer:hr-02")
    assert entry.from_stage is entry.to_stage is Stage.employer_review
    await settled_event_types(handle)
    async with get_engine().connect() as conn:
        query = select(AuditEvent).filter_by(workflow_id=handle.id, seq=entry.seq)
        audit = (await conn.execute(query)).one()
    assert (audit.action, audit.actor_role, audit.actor_id) == ("assign", "employer", "employer-1")
    assert audit.details == {"assignee": "employer:hr-02"} and audit.reason == "请王科长审核"
    assert (await projection(handle.id)).assignee == "employer:hr-02"

    # handed back (the undo); the employer still holds it in its publicity
    await act(
        handle,
        "assign",
        "employer",
        assignee=colleague("employer", "employer-1"),
        assignee_unit=SAMPLE_USCC,
    )
    await act(handle, "start_publicity", "employer")
    await settled_event_types(handle)
    assert (await projection(handle.id)).assignee == "employer:employer-1"
    bare = await refusal(  # not an account's actor id (role:username)
        handle, "employer", assignee={"role": "employer", "id": "hr-03"}, assignee_unit=SAMPLE_USCC
    )
    assert bare.details == ({"problem": "assignee_elsewhere"},)


async def test_refused_for_another_organisation_a_stage_not_held_and_no_change(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    hr02 = colleague("employer", "hr-02")
    assert (await refusal(handle, "employer", assignee=hr02, assignee_unit=SAMPLE_USCC)).type == (
        "WrongStage"  # draft: the applicant's own
    )
    await act(handle, "submit", "applicant")
    await act(handle, "assign", "employer", assignee=hr02, assignee_unit=SAMPLE_USCC)
    before = await settled_event_types(handle)

    elsewhere = await refusal(handle, "employer", assignee=hr02, assignee_unit=OTHER_USCC)
    assert elsewhere.type == "Invalid" and elsewhere.details == ({"problem": "assignee_elsewhere"},)
    other_role = await refusal(
        handle, "employer", assignee=colleague("evaluation_body", "pj-01"), assignee_unit=None
    )
    assert other_role.details == ({"problem": "assignee_elsewhere"},)
    again = await refusal(handle, "employer", assignee=hr02, assignee_unit=SAMPLE_USCC)
    assert again.details == ({"problem": "already_assigned"},)
    not_held = await refusal(
        handle, "evaluation_body", assignee=colleague("evaluation_body", "pj-01")
    )
    assert not_held.type == "WrongRole"

    assert no_trace_left(before, await settled_event_types(handle))
    assert (await state(handle)).assignees == {
        Role.employer: Actor(role=Role.employer, id="employer:hr-02")
    }


async def test_each_organisation_assigns_in_its_own_stages(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    employer = Employer(name="新疆示例硅业有限公司", uscc=SAMPLE_USCC, competent_unit=UNIT)
    applicant = sample_declaration_input().applicant.model_copy(update={"employer": employer})
    handle = await start(time_env, time_worker, applicant=applicant)
    await to_publicity(handle)
    await act(
        handle,
        "assign",
        "employer",
        assignee=colleague("employer", "hr-02"),
        assignee_unit=SAMPLE_USCC,
    )
    await through_publicity_from_publicity(time_env, handle)
    assert (await state(handle)).stage is Stage.competent_unit_review
    await settled_event_types(handle)
    assert (await projection(handle.id)).assignee is None  # the competent unit's: nobody yet

    other_unit = await refusal(
        handle,
        "competent_unit",
        assignee=colleague("competent_unit", "zg-02"),
        assignee_unit="另一个主管局",
    )
    assert other_unit.details == ({"problem": "assignee_elsewhere"},)
    current = await act(
        handle,
        "assign",
        "competent_unit",
        assignee=colleague("competent_unit", "zg-02"),
        assignee_unit=UNIT,
    )
    assert set(current.assignees) == {Role.employer, Role.competent_unit}
    await settled_event_types(handle)
    assert (await projection(handle.id)).assignee == "competent_unit:zg-02"


async def through_publicity_from_publicity(env: WorkflowEnvironment, handle) -> None:
    """From the publicity on: its end, then the employer's recommendation."""
    ends = datetime.fromisoformat((await state(handle)).deadlines["publicity_ends_at"])
    await sleep_until(env, ends, SECOND)
    await act(handle, "recommend", "employer", **RECOMMENDATION)


async def test_the_evaluation_body_assigns_through_its_stages(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await to_review_open(time_env, handle)
    current = await act(
        handle, "assign", "evaluation_body", assignee=colleague("evaluation_body", "pj-02")
    )
    assert current.assignees[Role.evaluation_body].id == "evaluation_body:pj-02"
    await act(handle, "accept_materials", "evaluation_body")
    await settled_event_types(handle)
    assert (await projection(handle.id)).assignee == "evaluation_body:pj-02"  # still its own
    await keep_history(handle, "documents_assigned_then_accepted")  # for tests/replay
