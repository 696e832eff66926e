"""On the real dev server: search attributes filter declarations by stage, and a refused
action leaves the history exactly as it was."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Stage
from tests.declaration_support import act, round_around, settled_event_types, start

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def ids_where(env: WorkflowEnvironment, query: str, expected: int) -> set[str]:
    """Visibility is eventually consistent: poll briefly until the expected count shows."""
    found: set[str] = set()
    for _ in range(100):
        found = {w.id async for w in env.client.list_workflows(query)}
        if len(found) >= expected:
            return found
        await asyncio.sleep(0.1)
    return found


async def test_search_attributes_filter_by_stage(dev_env: WorkflowEnvironment, dev_worker: Worker):
    now = await dev_env.get_current_time()
    # A year of its own (the dev server is new each session) so other tests' declarations
    # do not show up in these lists.
    year = 2099
    round_config = round_around(now, year=year)
    drafts = [await start(dev_env, dev_worker, round_config) for _ in range(2)]
    submitted = [await start(dev_env, dev_worker, round_config) for _ in range(3)]
    for handle in submitted:
        await act(handle, "submit", "applicant")

    in_review = await ids_where(
        dev_env, f"RoundYear = {year} AND Stage = '{Stage.employer_review.value}'", 3
    )
    in_draft = await ids_where(dev_env, f"RoundYear = {year} AND Stage = 'draft'", 2)
    assert in_review == {h.id for h in submitted}
    assert in_draft == {h.id for h in drafts}
    everything = await ids_where(dev_env, f"RoundYear = {year} AND `Level` = 'intermediate'", 5)
    assert len(everything) == 5


async def test_refused_action_leaves_history_unchanged(
    dev_env: WorkflowEnvironment, dev_worker: Worker
):
    handle = await start(dev_env, dev_worker)
    before = await settled_event_types(handle)
    for action, role in [("start_publicity", "applicant"), ("submit", "employer")]:
        with pytest.raises(WorkflowUpdateFailedError):
            await act(handle, action, role)
    assert await settled_event_types(handle) == before
