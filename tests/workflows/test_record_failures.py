"""A transition the record database refuses (bad data, a broken constraint) does not stall the
declaration silently: the refusal is not retried by Temporal, the declaration's state and its
RecordFailing search attribute say so, the transition is written again on a timer, and once
the cause is fixed it is written and the deadlines that passed meanwhile are acted on."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, text
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Stage
from models.search_attributes import RECORD_FAILING
from store.db import get_engine
from store.tables import AuditEvent
from tests.helpers.declaration_support import act, round_around, sleep_until, start, state
from workflows.records import RECORD_RETRY_LONGEST, record_retry_delay

TRIGGER = "refuse_for_test"


async def refuse_audit_rows(database_url: str, workflow_id: str) -> None:
    """The database refuses this declaration's audit rows, as it would bad data."""
    engine = get_engine(database_url)
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(
                text(
                    f"CREATE FUNCTION {TRIGGER}() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.workflow_id = '{workflow_id}' THEN "
                    "RAISE EXCEPTION 'refused for the test' USING ERRCODE = '22000'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            await conn.execute(
                text(
                    f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON audit_events "
                    f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()"
                )
            )
        else:
            await conn.execute(
                text(
                    f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON audit_events "
                    f"WHEN NEW.workflow_id = '{workflow_id}' "
                    "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
                )
            )


async def accept_audit_rows(database_url: str) -> None:
    engine = get_engine(database_url)
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"DROP TRIGGER {TRIGGER} ON audit_events"))
            await conn.execute(text(f"DROP FUNCTION {TRIGGER}()"))
        else:
            await conn.execute(text(f"DROP TRIGGER {TRIGGER}"))


async def audited_actions(database_url: str, workflow_id: str) -> list[str]:
    async with get_engine(database_url).connect() as conn:
        rows = await conn.execute(
            select(AuditEvent.action)
            .where(AuditEvent.workflow_id == workflow_id)
            .order_by(AuditEvent.seq)
        )
        return [action for (action,) in rows]


def test_the_retry_backs_off_to_hourly() -> None:
    delays = [record_retry_delay(n) for n in range(1, 10)]
    assert delays[:3] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert delays == sorted(delays) and delays[-1] == RECORD_RETRY_LONGEST


async def test_a_refused_record_shows_and_is_written_once_fixed(
    time_env: WorkflowEnvironment, time_worker: Worker, database_url: str
) -> None:
    now = await time_env.get_current_time()
    drill = round_around(now, drill_publicity_seconds=1800)  # a 30-minute publicity
    handle = await start(time_env, time_worker, drill)
    await act(handle, "submit", "applicant")
    await refuse_audit_rows(database_url, handle.id)
    try:
        during = await act(handle, "start_publicity", "employer")
        # The transition stands in the workflow; the state says it is not recorded, and why.
        assert during.stage is Stage.publicity
        assert during.record_failure and "refused" in during.record_failure
        assert "IntegrityError" in during.record_failure or "DataError" in during.record_failure
        described = await handle.describe()
        assert described.typed_search_attributes.get(RECORD_FAILING) is True
        # Past the publicity's end while the database still refuses: nothing moves on.
        ends = datetime.fromisoformat(during.deadlines["publicity_ends_at"])
        await sleep_until(time_env, ends, slack=timedelta(minutes=10))
        stuck = await state(handle)
        assert stuck.stage is Stage.publicity and stuck.record_failure
        assert await audited_actions(database_url, handle.id) == ["start", "submit"]
    finally:
        await accept_audit_rows(database_url)

    # Fixed: within the longest wait the transition is written, then the publicity's end
    # (long passed) is acted on at once.
    await time_env.sleep(RECORD_RETRY_LONGEST + timedelta(minutes=1))
    after = await state(handle)
    assert after.record_failure is None
    assert after.stage is not Stage.publicity
    assert (await audited_actions(database_url, handle.id))[:4] == [
        "start",
        "submit",
        "start_publicity",
        "publicity_ended",
    ]
    described = await handle.describe()
    assert described.typed_search_attributes.get(RECORD_FAILING) is None
