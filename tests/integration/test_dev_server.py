"""On the real dev server: search attributes filter declarations by stage, a refused action
leaves the history exactly as it was, and an update sent again with its id (a reviewer's call
that timed out while no worker was up, a retried page of a round operation) is applied once."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import VersioningBehavior
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.coordination import CoordinationActivities
from client import declarations
from client.declarations import list_declarations, start_declaration, visibility_query
from client.errors import ActionTimeout
from models.common import Stage
from models.coordination import DeclarationBatch, Target
from rules.identity import round_workflow_id
from rules.update_ids import cli_update_id, coordination_update_id
from settings import Settings
from store.db import get_engine
from tests.helpers.declaration_support import (
    act,
    outbox_events,
    round_around,
    settled_event_types,
    start,
    state,
    to_defense,
)
from tests.helpers.samples import sample_declaration_input
from tests.helpers.signing import TEST_SIGNER
from tests.helpers.worker_process import WorkerProcess, reset_sticky
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


async def accepted_update_ids(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The id of every update the workflow's history accepted, in order."""
    return [
        event.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
        for event in (await handle.fetch_history()).events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]


async def test_an_update_sent_again_while_no_worker_runs_is_applied_once(
    dev_env: WorkflowEnvironment, session_settings: Settings, database_url: str, tmp_path: Path
):
    """Issue 13's measured bug: a reviewer's `arrange_defense` timed out while no worker was
    up (the worker process was killed, SIGKILL), and was sent again. With one update id both
    sends are one update: once a worker is up, one transition in the timeline, one defense
    notice in the outbox, and every call with that id sees the same result."""
    queue = f"retry-{uuid.uuid4().hex[:8]}"
    config = round_around(await dev_env.get_current_time(), drill_publicity_seconds=1)
    worker = WorkerProcess.start(dev_env, queue, tmp_path / "worker.log")
    try:
        declaration = sample_declaration_input(round=config, applicant_key=uuid.uuid4().hex[:16])
        handle = await start_declaration(dev_env.client, declaration, queue)
        async with asyncio.timeout(120):
            await to_defense(dev_env, handle)
        assert (await state(handle)).stage is Stage.defense
        worker.kill()
    finally:
        worker.stop()
    await reset_sticky(dev_env, handle.id)  # no worker: the next task waits on the queue

    actor = {"role": "evaluation_body", "id": "pj-01"}
    starts_at = (await dev_env.get_current_time() + timedelta(days=3)).isoformat()
    payload = {"actor": actor, "starts_at": starts_at, "place": "三楼会议室", "form": "现场答辩"}
    update_id = cli_update_id("evaluation_body:pj-01", handle.id, "arrange_defense", "r-1")

    def arrange(timeout: timedelta) -> Any:
        return declarations.act(
            dev_env.client,
            handle.id,
            "arrange_defense",
            payload,
            signer=TEST_SIGNER,  # signed afresh each time; the server keeps the first
            update_id=update_id,
            timeout=timeout,
        )

    with pytest.raises(ActionTimeout) as gave_up:
        await arrange(timedelta(seconds=1))
    assert gave_up.value.accepted is False
    again = asyncio.create_task(arrange(timedelta(seconds=60)))
    await asyncio.sleep(1)
    assert not again.done()  # still no worker

    async with build_worker(dev_env.client, queue, settings=session_settings):
        retried = await again
        repeated = await arrange(timedelta(seconds=30))
        current = await state(handle)
        assert [entry.action for entry in current.timeline].count("arrange_defense") == 1
        assert (await outbox_events(handle.id, database_url)).count("defense_arranged") == 1
        assert retried == repeated and retried.stage is Stage.defense
        stored = dev_env.client.get_workflow_handle(handle.id).get_update_handle(
            update_id, result_type=type(retried)
        )
        assert await stored.result() == retried
    assert (await accepted_update_ids(handle)).count(update_id) == 1


async def test_a_retried_page_of_a_round_operation_applies_nothing_twice(
    dev_env: WorkflowEnvironment, dev_worker: Worker, database_url: str
):
    """activities/coordination.py names each update by its page (the round's run and the
    activity's id, which a retry keeps) and the declaration: the page run again as a retry is
    the same update, counted done again, not sent twice; another page is a new one."""
    now = await dev_env.get_current_time()
    handle = await start(dev_env, dev_worker, round_around(now))
    year = now.year
    batch = DeclarationBatch(
        year=year,
        update="change_windows",
        payload={
            "actor": {"role": "system", "id": round_workflow_id(year)},
            "reason": "提前截止申报",
            "submission_closes_at": (now + timedelta(days=10)).isoformat(),
        },
        targets=[Target(workflow_id=handle.id)],
    )
    page = ActivityEnvironment()
    page.info = dataclasses.replace(
        page.info, workflow_id=round_workflow_id(year), workflow_run_id="run-1", activity_id="7"
    )
    coordination = CoordinationActivities(
        dev_env.client, get_engine(database_url), partial(TEST_SIGNER.signed, dev_env.client)
    )
    first = await page.run(coordination.act_on_declarations, batch)
    retried = await page.run(coordination.act_on_declarations, batch)  # attempt 2
    assert (first.done, retried.done, retried.skipped) == (1, 1, 0)
    assert retried.outcomes == first.outcomes
    update_id = coordination_update_id(
        round_workflow_id(year), "run-1", "7", handle.id, "change_windows"
    )
    assert await accepted_update_ids(handle) == [update_id]

    page.info = dataclasses.replace(page.info, activity_id="8")  # the next page or operation
    await page.run(coordination.act_on_declarations, batch)
    assert len(await accepted_update_ids(handle)) == 2
