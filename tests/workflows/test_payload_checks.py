"""What a person types, or a client sends, is checked where it enters; nothing that cannot be
stored or that is of the wrong type reaches a transition (issue 13, items 1 and 2).

Here the worker's side, on the session's record database (PostgreSQL in CI): a payload sent
past the client's own checks (a raw Temporal client) with a NUL, a lone control character or
a wrong JSON type is refused before the update is accepted, names the field, leaves no event
in the history, and the declaration goes on."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.errors import classify
from models.common import Stage
from models.declaration import DeclarationState
from tests.helpers.declaration_support import (
    act,
    no_trace_left,
    settled_event_types,
    start,
    state,
)
from tests.helpers.signing import signed

# One of each kind of text an update carries: a note, a reason, a summary, a nested title,
# the actor's id; and where strictness matters: a boolean, a number.
MATERIAL = {"name": "证书\x00.pdf", "sha256": "0" * 64, "masked": True}
UNSTORABLE = [
    ("submit", "applicant", {"note": "已提交\x00"}, "note"),
    ("submit", "applicant", {"note": "line\x1bbreak"}, "note"),
    (
        "submit",
        "applicant",
        {"materials": [MATERIAL]},
        "materials[0].name",
    ),
    ("withdraw", "applicant\x00", {}, "actor.id"),
]


async def refused(handle: WorkflowHandle[Any, Any], action: str, payload: dict[str, Any]) -> str:
    """Send `payload` as it is, signed, and return the refusal's message. An actor the signer
    itself refuses (it checks the actor first) goes unsigned: the worker's decoder refuses it
    before the signature is looked at."""
    with contextlib.suppress(ValidationError):
        payload = await signed(handle, action, payload)
    with pytest.raises(WorkflowUpdateFailedError) as refusal:
        await handle.execute_update(action, payload, result_type=DeclarationState)
    return classify(refusal.value).message


@pytest.mark.parametrize(("action", "actor_id", "fields", "where"), UNSTORABLE)
async def test_unstorable_text_is_refused_and_the_declaration_goes_on(
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    action: str,
    actor_id: str,
    fields: dict[str, Any],
    where: str,
) -> None:
    handle = await start(time_env, time_worker)
    before = await settled_event_types(handle)
    payload = {"actor": {"role": "applicant", "id": actor_id}, **fields}

    message = await refused(handle, action, payload)

    assert where in message and "only line breaks and tabs are allowed" in message, message
    assert no_trace_left(before, await settled_event_types(handle))
    after = await act(handle, "submit", "applicant", note="第二次，正确")
    assert after.stage is Stage.employer_review
    assert [e.action for e in after.timeline][-1] == "submit"


STRICT = [
    ({"objection_id": 1, "upheld": "yes"}, "upheld"),
    ({"objection_id": 1, "upheld": 1}, "upheld"),
    ({"objection_id": "1", "upheld": True}, "objection_id"),
    ({"objection_id": True, "upheld": True}, "objection_id"),
]


@pytest.mark.parametrize(("fields", "where"), STRICT)
async def test_a_value_of_the_wrong_type_is_refused_not_coerced(
    time_env: WorkflowEnvironment, time_worker: Worker, fields: dict[str, Any], where: str
) -> None:
    """Lax validation turned "yes" into True and ended a declaration as `rejected`."""
    handle = await start(time_env, time_worker)
    await act(handle, "submit", "applicant")
    await act(handle, "start_publicity", "employer")
    await act(handle, "raise_objection", "employer", summary="群众反映业绩不实")
    before = await settled_event_types(handle)

    actor = {"role": "employer", "id": "employer-1"}
    message = await refused(
        handle, "resolve_objection", {"actor": actor, "resolution": "核实", **fields}
    )

    assert where in message, message
    assert no_trace_left(before, await settled_event_types(handle))
    current = await state(handle)
    assert current.stage is Stage.publicity
    assert [o.upheld for o in current.objections] == [None]  # still open, not decided
