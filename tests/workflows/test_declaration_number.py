"""A declaration's 申报编号 on the time-skipping test server: carried in its input, it is in
the `state` query, the DeclarationNumber search attribute from the start, the static summary
and the projection row; one started without a number has none of them. No identity in any."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.search_attributes import DECLARATION_NUMBER
from store.db import get_engine
from store.tables import DeclarationRow
from tests.helpers.declaration_support import act, settled_event_types, start, state
from tests.helpers.samples import SAMPLE_ID_CARD

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def projection(workflow_id: str) -> Any:
    ours = DeclarationRow.workflow_id == workflow_id
    async with get_engine().connect() as conn:
        return (await conn.execute(select(DeclarationRow.__table__).where(ours))).one()


async def test_the_number_is_in_the_state_search_attribute_and_projection(
    time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    handle = await start(time_env, time_worker, number="2031-000417")
    assert (await act(handle, "submit", "applicant")).number == "2031-000417"
    await settled_event_types(handle)
    described = await handle.describe()
    assert described.typed_search_attributes.get(DECLARATION_NUMBER) == "2031-000417"
    assert "2031-000417" in (await described.static_summary() or "")
    row = await projection(handle.id)
    assert (row.number, row.stage, row.competent_unit) == ("2031-000417", "employer_review", "")
    assert row.next_deadline is not None  # the close of submission (R10)
    assert SAMPLE_ID_CARD not in str(described.typed_search_attributes)


async def test_a_declaration_started_without_a_number_has_none(
    time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    handle = await start(time_env, time_worker)
    assert (await state(handle)).number is None
    await settled_event_types(handle)
    described = await handle.describe()
    assert described.typed_search_attributes.get(DECLARATION_NUMBER) is None
    assert (await projection(handle.id)).number is None
