"""The Declaration workflow against fake activities registered under the real names: no
database, no publication store, no renderer. The workflow calls its activities by name
(workflows/calls.py), so a fake defined with `@activity.defn(name=...)` stands in for each;
the fakes note what the workflow hands them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Level, Stage
from models.declaration import EligibilityFacts
from models.documents import (
    PUBLICATION_CONFLICT,
    PUBLISH_DOCUMENT,
    Column,
    DocumentKind,
    DocumentStatus,
    PublishedDocument,
    PublishRequest,
)
from models.records import RECORD_TRANSITION, NotificationEvent, TransitionRecord
from tests.helpers.declaration_support import act, outcome, start, state
from worker import workflow_runner
from workflows.declaration import DeclarationWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

VILLAGE = EligibilityFacts(
    continuing_education_completed=False,  # R4: exempt, stationed 8 months this year
    village_stationed_months_this_year=8,
    current_level=Level.junior,
    years_at_current_level=5,
)


@dataclass
class Fakes:
    """The record and the publication, as the workflow sees them: each call noted."""

    records: list[TransitionRecord] = field(default_factory=list)
    requests: list[PublishRequest] = field(default_factory=list)
    refuse_publishing: bool = False

    @activity.defn(name=RECORD_TRANSITION)
    async def record_transition(self, record: TransitionRecord) -> None:
        self.records.append(record)

    @activity.defn(name=PUBLISH_DOCUMENT)
    async def publish_document(self, request: PublishRequest) -> PublishedDocument:
        self.requests.append(request)
        if self.refuse_publishing:
            raise ApplicationError(
                "another document is published under the name",
                type=PUBLICATION_CONFLICT,
                non_retryable=True,
            )
        stem = f"{request.document.round_year}/{request.document.kind.value}-{request.scope}"
        return PublishedDocument(
            key=request.key,
            kind=request.document.kind,
            column=Column.declaration_documents,
            title="继续教育免试表",
            date="2025-09-03",
            file_name=f"{stem}.pdf",
            sha256="0" * 64,
            html_file_name=f"{stem}.html",
            html_sha256="1" * 64,
            published_at=datetime.now(UTC),
        )


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest_asyncio.fixture
async def fake_worker(time_env: WorkflowEnvironment, fakes: Fakes) -> AsyncIterator[Worker]:
    async with Worker(
        time_env.client,
        task_queue=f"fakes-{uuid.uuid4().hex[:8]}",
        workflows=[DeclarationWorkflow],
        activities=[fakes.record_transition, fakes.publish_document],
        workflow_runner=workflow_runner(),
    ) as worker:
        yield worker


async def test_start_and_submit_are_recorded_in_order_with_their_document(
    time_env: WorkflowEnvironment, fake_worker: Worker, fakes: Fakes
):
    handle = await start(time_env, fake_worker, eligibility=VILLAGE)
    current = await act(handle, "submit", "applicant")
    assert current.stage is Stage.employer_review

    start_record, submit = fakes.records
    assert (start_record.seq, start_record.action) == (1, "start")
    assert (start_record.from_stage, start_record.to_stage) == (Stage.draft, Stage.draft)
    assert (submit.seq, submit.action, submit.actor.role.value) == (2, "submit", "applicant")
    assert (submit.from_stage, submit.to_stage) == (Stage.draft, Stage.employer_review)
    assert submit.workflow_id == handle.id and submit.applicant_name == "张三"
    assert submit.deadlines["submission_closes_at"] == current.deadlines["submission_closes_at"]
    assert start_record.notifications == []  # nobody is told of the start
    assert [(n.event, n.recipient_role.value) for n in submit.notifications] == [
        (NotificationEvent.submitted, "applicant"),  # the receipt (R16)
        (NotificationEvent.declaration_submitted, "employer"),  # its work arrived (R12)
    ]

    # Attachment 5 for the village-stationed applicant (R4), published in the background.
    for _ in range(100):
        documents = (await state(handle)).documents
        if documents and documents[0].status is not DocumentStatus.publishing:
            break
        await asyncio.sleep(0.05)
    [exemption] = documents
    assert (exemption.kind, exemption.status) == (
        DocumentKind.continuing_education_exemption,
        DocumentStatus.published,
    )
    [request] = fakes.requests
    assert (request.scope, request.key) == (
        handle.id,
        f"continuing_education_exemption/{handle.id}",
    )

    # The record is a local activity (patched record-locally-v1): markers, no activity tasks
    # for it; the document is an activity of its own.
    events = (await handle.fetch_history()).events
    markers = [e for e in events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == ["publish_document"]
    assert len([m for m in markers if m.marker_recorded_event_attributes.marker_name
                == "core_local_activity"]) == 2  # fmt: skip

    final = await act(handle, "withdraw", "applicant")
    assert final.stage is Stage.withdrawn
    assert (await outcome(time_env, handle)).stage is Stage.withdrawn
    withdrawn = fakes.records[-1]
    assert (withdrawn.seq, withdrawn.to_stage) == (3, Stage.withdrawn)
    [notice] = withdrawn.notifications
    assert (notice.event, notice.key) == (
        NotificationEvent.withdrawn,
        f"{handle.id}/3/withdrawn/applicant",
    )


async def test_a_refused_publication_shows_and_the_declaration_goes_on(
    time_env: WorkflowEnvironment, fake_worker: Worker, fakes: Fakes
):
    fakes.refuse_publishing = True
    handle = await start(time_env, fake_worker, eligibility=VILLAGE)
    await act(handle, "submit", "applicant")
    for _ in range(100):
        [document] = (await state(handle)).documents
        if document.status is not DocumentStatus.publishing:
            break
        await asyncio.sleep(0.05)
    assert document.status is DocumentStatus.failed
    assert document.error and "another document is published under the name" in document.error
    assert len(fakes.requests) == 1  # non-retryable: tried once (workflows/calls.py)

    current = await act(handle, "start_publicity", "employer")
    assert current.stage is Stage.publicity
    await act(handle, "withdraw", "applicant")
    assert (await outcome(time_env, handle)).stage is Stage.withdrawn
    assert [r.action for r in fakes.records] == ["start", "submit", "start_publicity", "withdraw"]
