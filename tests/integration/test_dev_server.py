"""On the real dev server: search attributes filter declarations by stage, and a refused
action leaves the history exactly as it was."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import VersioningBehavior
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.declarations import list_declarations, start_declaration, visibility_query
from models.common import Stage
from settings import Settings
from tests.helpers.declaration_support import act, round_around, settled_event_types, start
from tests.helpers.samples import sample_declaration_input
from worker import build_worker, deployment_config

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


async def test_next_deadline_is_searchable_and_sorts_listings(
    dev_env: WorkflowEnvironment, dev_worker: Worker
):
    """NextDeadline follows the stage: a declaration in publicity waits for the publicity's
    end, a draft for the close of submission; listings come soonest first."""
    now = await dev_env.get_current_time()
    year = 2080  # a year of its own on the session dev server (test_schedule has 2098)
    round_config = round_around(now, year=year)
    draft = await start(dev_env, dev_worker, round_config)
    in_publicity = await start(dev_env, dev_worker, round_config)
    await act(in_publicity, "submit", "applicant")
    publicity = await act(in_publicity, "start_publicity", "employer")
    publicity_ends_at = datetime.fromisoformat(publicity.deadlines["publicity_ends_at"])
    assert publicity_ends_at < round_config.submission_closes_at

    # Datetimes in visibility queries are compared in UTC: write them with Z.
    before = (publicity_ends_at + timedelta(hours=1)).astimezone(UTC)
    query = f"RoundYear = {year} AND NextDeadline < '{before:%Y-%m-%dT%H:%M:%SZ}'"
    assert await ids_where(dev_env, query, 1) == {in_publicity.id}
    await ids_where(dev_env, f"RoundYear = {year} AND Stage = 'publicity'", 1)
    listed = await list_declarations(dev_env.client, visibility_query(year=year), limit=10)
    assert [row.workflow_id for row in listed] == [in_publicity.id, draft.id]
    assert listed[0].next_deadline == publicity_ends_at
    assert listed[1].next_deadline == round_config.submission_closes_at


async def test_a_versioned_worker_runs_declarations_on_its_version(dev_env: WorkflowEnvironment):
    """Worker versioning from the settings (ZHICHENG_WORKER_DEPLOYMENT/_BUILD_ID): once the
    version is made current, a new declaration runs on it and auto-upgrades by default."""
    deployment = f"zhicheng-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        ZHICHENG_WORKER_DEPLOYMENT=deployment,
        ZHICHENG_WORKER_BUILD_ID="2025.09.1",
    )
    task_queue = f"versioned-{uuid.uuid4().hex[:8]}"
    async with build_worker(dev_env.client, task_queue, deployment_config(settings)):
        request = SetWorkerDeploymentCurrentVersionRequest(
            namespace=dev_env.client.namespace, deployment_name=deployment, build_id="2025.09.1"
        )
        for _ in range(100):  # the deployment exists once the worker's pollers reached it
            try:
                await dev_env.client.workflow_service.set_worker_deployment_current_version(request)
                break
            except RPCError:
                await asyncio.sleep(0.1)
        now = await dev_env.get_current_time()
        declaration = sample_declaration_input(
            round=round_around(now), applicant_key=uuid.uuid4().hex[:16]
        )
        handle = await start_declaration(dev_env.client, declaration, task_queue)
        await act(handle, "submit", "applicant")
        info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    assert info.behavior == VersioningBehavior.AUTO_UPGRADE.value
    assert info.deployment_version.deployment_name == deployment
    assert info.deployment_version.build_id == "2025.09.1"
