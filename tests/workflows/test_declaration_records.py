"""What the workflow writes: an audit event per transition, the projection row, and one
rendered Chinese message per notified event in the outbox."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store.db import get_engine
from store.tables import AuditEvent, DeclarationRow, OutboxMessage
from tests.helpers.declaration_support import act, settled_event_types, start, to_publicity
from tests.helpers.samples import SAMPLE_ID_CARD

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_every_transition_is_recorded_once(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await act(handle, "submit", "applicant")
    await act(handle, "employer_return", "employer", reason="请补充继续教育证明")
    current = await to_publicity(handle)
    await settled_event_types(handle)

    async with get_engine().connect() as conn:
        ours = AuditEvent.workflow_id == handle.id
        audit = (await conn.execute(select(AuditEvent).where(ours).order_by(AuditEvent.seq))).all()
        row = (await conn.execute(select(DeclarationRow).filter_by(workflow_id=handle.id))).one()
        outbox = (
            await conn.execute(
                select(OutboxMessage)
                .where(OutboxMessage.workflow_id == handle.id)
                .order_by(OutboxMessage.created_at)
            )
        ).all()

    assert [(e.seq, e.action, e.to_stage) for e in audit] == [
        (t.seq, t.action, t.to_stage.value) for t in current.timeline
    ]
    assert audit[2].reason == "请补充继续教育证明"
    assert (audit[2].actor_role, audit[2].actor_id) == ("employer", "employer-1")
    assert (row.stage, row.last_seq, row.return_count) == ("publicity", len(current.timeline), 0)
    assert row.deadlines["publicity_ends_at"] == current.deadlines["publicity_ends_at"]
    assert SAMPLE_ID_CARD not in row.workflow_id

    outbox = sorted(outbox, key=lambda m: int(m.key.split("/")[1]))  # by transition
    assert [(m.event, m.recipient_role) for m in outbox] == [
        ("submitted", "applicant"),  # the receipt
        ("declaration_submitted", "employer"),
        ("employer_returned", "applicant"),
        ("submitted", "applicant"),
        ("declaration_submitted", "employer"),
        ("publicity_started", "applicant"),
    ]
    returned, publicity = outbox[2], outbox[5]
    assert "重新提交" in outbox[4].body  # the employer is told it is a resubmission
    assert returned.mobile == "+8613800138000" and returned.status == "pending"
    assert "请补充继续教育证明" in returned.body and "张三" in returned.body
    assert "（北京时间 UTC+08:00）" in publicity.body


async def test_logs_name_the_workflow_and_its_stage(
    time_env: WorkflowEnvironment, time_worker: Worker, caplog: pytest.LogCaptureFixture
):
    """The workflow's and the record activity's log records carry the declaration's id and
    the stage it moved to (JSON logs show them as fields: worker.JsonFormatter)."""
    caplog.set_level(logging.INFO)
    handle = await start(time_env, time_worker)
    await act(handle, "submit", "applicant")
    await settled_event_types(handle)

    def stages(logger: str, info_key: str) -> list[str]:
        return [
            record.stage
            for record in caplog.records
            if record.name == logger
            and getattr(record, info_key, {}).get("workflow_id") == handle.id
            and hasattr(record, "stage")
        ]

    assert stages("temporalio.workflow", "temporal_workflow") == ["draft", "employer_review"]
    assert stages("temporalio.activity", "temporal_activity") == ["draft", "employer_review"]
