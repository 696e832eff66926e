"""Record a declaration's transition: the audit event and the projection row, in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from delivery.dispatch import StartDeliveries
from delivery.outbox import outbox_row, put_in_outbox
from delivery.recipients import Recipients, addressed
from models.records import RECORD_REJECTED, RECORD_TRANSITION, TransitionRecord
from rules.overdue import current_deadline
from settings import DEFAULT_PORTAL_URL
from store.db import dialect_insert, insert_unless_exists
from store.tables import AuditEvent, DeclarationRow


def next_deadline(record: TransitionRecord) -> datetime | None:
    """The instant the declaration's stage after `record` waits for (the projection's
    `next_deadline`: the search sorts by it), None when it waits for none."""
    found = current_deadline(record.to_stage, record.deadlines)
    return found[1] if found else None


class RecordActivities:
    """The declaration's record (R16): built by worker.py with the record database's engine,
    what starts the deliveries of the messages it queues and the organisations' addresses
    (none: the organisations' messages are recorded without an address)."""

    def __init__(
        self,
        engine: AsyncEngine,
        start_deliveries: StartDeliveries,
        recipients: Recipients | None = None,
        portal_url: str = DEFAULT_PORTAL_URL,
    ) -> None:
        self._engine = engine
        self._start_deliveries = start_deliveries
        self._recipients = recipients
        self._portal_url = portal_url  # ZHICHENG_PORTAL_URL: what the messages link to

    @activity.defn(name=RECORD_TRANSITION)
    async def record_transition(self, record: TransitionRecord) -> None:
        """Idempotent: a retry writes nothing twice; an older seq never moves the projection
        back. The transition's notifications go into the outbox in the same transaction (R16),
        so a transition is never recorded without them, nor they without it."""
        if record.at.utcoffset() is None:  # retrying would not fix the input
            raise ApplicationError("TransitionRecord.at must be timezone-aware", non_retryable=True)
        messages = [  # rendered first; made at the transition's moment (the workflow's clock)
            outbox_row(addressed(request, self._recipients), self._portal_url)
            | {"created_at": record.at}
            for request in record.notifications
        ]
        try:
            audited, projected = await self._write(record, messages)
        except (DataError, IntegrityError, ProgrammingError) as exc:
            raise self._rejected(record, exc) from None
        # Committed: each message gets its Delivery workflow. On a retry of this activity the
        # starts are refused as duplicates (same workflow ids), so nothing is delivered twice.
        await self._start_deliveries([message["key"] for message in messages])
        activity.logger.info(
            "Recorded %s seq %d (%s -> %s): audit %s, projection %s",
            record.workflow_id,
            record.seq,
            record.from_stage.value,
            record.to_stage.value,
            "written" if audited else "already present",
            "updated" if projected else "kept (newer or same seq already recorded)",
            extra={"stage": record.to_stage.value, "seq": record.seq},
        )

    @staticmethod
    def _rejected(record: TransitionRecord, exc: DBAPIError) -> ApplicationError:
        """A write the database refuses is not transient (a lost connection is: OperationalError
        and InterfaceError are retried). Counted for the alert; the message names the error's
        class only: the statement's parameters carry personal data."""
        activity.metric_meter().create_counter(
            "zhicheng_record_rejections", "transitions the record database refused"
        ).add(1)
        cause = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
        message = (
            f"the record database refused {record.workflow_id} seq {record.seq} "
            f"({type(exc).__name__}: {cause}); it is retried once the cause is fixed"
        )
        activity.logger.error(message, extra={"stage": record.to_stage.value, "seq": record.seq})
        return ApplicationError(message, type=RECORD_REJECTED, non_retryable=True)

    async def _write(
        self, record: TransitionRecord, messages: list[dict[str, Any]]
    ) -> tuple[bool, bool]:
        """One transaction: the messages, the audit event and the projection. Returns whether
        the audit event was written and whether the projection moved."""
        data = record.model_dump(mode="json", include={"details", "deadlines"})
        audit = {
            "workflow_id": record.workflow_id,
            "seq": record.seq,
            "at": record.at,
            "actor_role": record.actor.role.value,
            "actor_id": record.actor.id,
            "action": record.action,
            "from_stage": record.from_stage.value,
            "to_stage": record.to_stage.value,
            "reason": record.reason,
            "details": data["details"],
        }
        projection: dict[str, Any] = {
            "workflow_id": record.workflow_id,
            "round_year": record.round_year,
            "applicant_key": record.applicant_key,
            "applicant_name": record.applicant_name,
            "employer_uscc": record.employer_uscc,
            "employer_name": record.employer_name,
            "level": record.level.value,
            "jurisdiction": record.jurisdiction.value,
            "stage": record.to_stage.value,
            "return_count": record.return_count,
            "deadlines": data["deadlines"],
            "last_seq": record.seq,
            "updated_at": record.at,
            "number": record.number,
            "competent_unit": record.competent_unit,
            "next_deadline": next_deadline(record),
            "assignee": record.assignee,
        }
        async with self._engine.begin() as conn:
            for message in messages:
                await put_in_outbox(conn, message)
            audited = await insert_unless_exists(conn, AuditEvent, audit, ["workflow_id", "seq"])
            upsert = dialect_insert(conn)(DeclarationRow).values(**projection)
            upsert = upsert.on_conflict_do_update(
                index_elements=["workflow_id"],
                set_={name: upsert.excluded[name] for name in projection if name != "workflow_id"},
                where=DeclarationRow.last_seq < upsert.excluded.last_seq,
            )
            projected = (await conn.execute(upsert)).rowcount == 1
        return audited, projected
