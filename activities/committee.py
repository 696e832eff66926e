"""The committee session's activities (workflows/committee.py, R20, R27): the pool snapshot
the draw is made from, the drawn experts' messages, the ballot box opened and closed, the
votes sent to the Round, and the meeting record archived.

Each is safe to retry: the messages have one outbox key each, the box is opened once and a
second close only counts again, the Round's updates carry ids from this activity's execution
(and a session the Round has recorded already is found, not recorded twice), the record is
written once under its name."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.coordination import SignPayload
from delivery.dispatch import StartDeliveries
from delivery.outbox import outbox_row, put_in_outbox
from documents.meeting_record import archive_meeting_record, meeting_record_pdf
from models.committee import (
    ARCHIVE_MEETING_RECORD,
    CLOSE_BALLOT_BOX,
    NOTIFY_EXPERTS,
    OPEN_BALLOT_BOX,
    POOL_SNAPSHOT,
    SEND_SESSION_VOTES,
    BallotRegister,
    BoxCounts,
    ExpertNotices,
    MeetingRecordRequest,
    PoolSnapshot,
    PoolSnapshotRequest,
    SessionVotes,
    SessionVotesSent,
)
from models.common import Actor, Role
from models.records import NotificationEvent, NotificationRequest
from models.round import RoundState
from rules.identity import round_workflow_id
from rules.update_ids import coordination_update_id
from settings import DEFAULT_PORTAL_URL, Settings
from store import ballots, experts
from store.tables import DeclarationRow

UPDATE_TIMEOUT_SECONDS = 60


class CommitteeActivities:
    """Built by worker.py with the record database's engine, the Temporal client and the
    worker's signer (the Round's updates), what starts deliveries, and the settings (the
    archive, the documents' fonts and authority)."""

    def __init__(
        self,
        engine: AsyncEngine,
        client: Client,
        sign: SignPayload,
        start_deliveries: StartDeliveries,
        settings: Settings,
        portal_url: str = DEFAULT_PORTAL_URL,
    ) -> None:
        self._engine = engine
        self._client = client
        self._sign = sign
        self._start_deliveries = start_deliveries
        self._settings = settings
        self._portal_url = portal_url

    @activity.defn(name=POOL_SNAPSHOT)
    async def pool_snapshot(self, request: PoolSnapshotRequest) -> PoolSnapshot:
        today = datetime.now(UTC).date()  # the 3 years of an earlier employer count to today
        return await experts.pool_snapshot(self._engine, request, today)

    @activity.defn(name=NOTIFY_EXPERTS)
    async def notify_experts(self, notices: ExpertNotices) -> None:
        """Each drawn expert's message, to the contacts the pool holds and their inbox (the
        outbox row's organisation is the expert's code, as their account is bound)."""
        keys: list[str] = []
        contacts = {
            n.code: await experts.expert_contact(self._engine, n.code) for n in notices.notices
        }
        async with self._engine.begin() as conn:
            for notice in notices.notices:
                contact = contacts[notice.code]
                request = NotificationRequest(
                    key=f"{notices.session}/{notice.code}/{notice.event}",
                    workflow_id=notices.session,
                    event=NotificationEvent(notice.event),
                    recipient_role=Role.expert,
                    recipient_name=contact.name if contact else notice.code,
                    organisation=notice.code,
                    mobile=contact.mobile if contact else None,
                    email=contact.email if contact else None,
                    context={
                        "round_year": notices.year,
                        "committee_name": notices.committee_name,
                        "alternate": notice.kind.value == "alternate",
                        "position": notice.position,
                        "held_at": notices.held_at.isoformat() if notices.held_at else None,
                        "place": notices.place,
                    },
                )
                row = outbox_row(request, self._portal_url)
                if await put_in_outbox(conn, row):
                    keys.append(row["key"])
        if keys:
            await self._start_deliveries(keys)

    @activity.defn(name=OPEN_BALLOT_BOX)
    async def open_ballot_box(self, register: BallotRegister) -> None:
        await ballots.open_box(self._engine, register)

    @activity.defn(name=CLOSE_BALLOT_BOX)
    async def close_ballot_box(self, session: str) -> BoxCounts:
        return await ballots.close_box(self._engine, session)

    @activity.defn(name=SEND_SESSION_VOTES)
    async def send_session_votes(self, votes: SessionVotes) -> SessionVotesSent:
        """The Round records the session (`open_session`, as the system, with the drawn
        composition) and takes one vote per voted declaration (`committee_votes`, in the
        secretary's name who closed the session, R26)."""
        round_id = round_workflow_id(votes.year)
        system = Actor(role=Role.system, id=votes.session)
        await self._round_update(
            round_id,
            "open_session",
            {
                "actor": system.model_dump(mode="json"),
                "session_id": votes.session_id,
                "attending": votes.attending,
                "drawn": {"committee_name": votes.committee_name, "members": votes.members},
            },
            already="session_recorded",
        )
        voted = [t for t in votes.tallies if t.voted]
        if not voted:
            return SessionVotesSent(operation_id=None)
        recorded = await self._recorded_votes(round_id, votes.session_id)
        if recorded is not None:  # a retry after the Round took them
            return SessionVotesSent(operation_id=recorded)
        accepted = await self._round_update(
            round_id,
            "committee_votes",
            {
                "actor": votes.closed_by.model_dump(mode="json"),
                "session_id": votes.session_id,
                "votes": [
                    {"workflow_id": t.workflow_id, "yes_votes": t.yes, "attending": t.eligible}
                    for t in voted
                ],
            },
        )
        return SessionVotesSent(operation_id=int(accepted["operation_id"]))

    async def _recorded_votes(self, round_id: str, session_id: str) -> int | None:
        state = await self._client.get_workflow_handle(round_id).query(
            "state", result_type=RoundState
        )
        session = next((s for s in state.progress.sessions if s.session_id == session_id), None)
        if session is None or not session.votes_operations:
            return None
        return session.votes_operations[0]

    async def _round_update(
        self, round_id: str, update: str, payload: dict[str, Any], already: str | None = None
    ) -> Any:
        info = activity.info()
        update_id = coordination_update_id(
            info.workflow_id or "", info.workflow_run_id or "", info.activity_id, round_id, update
        )
        handle = self._client.get_workflow_handle(round_id)
        try:
            async with asyncio.timeout(UPDATE_TIMEOUT_SECONDS):
                signed = await self._sign(round_id, update, payload)
                return await handle.execute_update(update, signed, id=update_id)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            details = cause.details if isinstance(cause, ApplicationError) else ()
            problem = (
                details[0].get("problem") if details and isinstance(details[0], dict) else None
            )
            if already is not None and problem == already:
                return None
            message = cause.message if isinstance(cause, ApplicationError) else str(cause)
            # a refusal stands however often it is asked again: the session shows it
            raise ApplicationError(
                f"{round_id}: {update} refused: {message}", type="RoundRefused", non_retryable=True
            ) from exc

    @activity.defn(name=ARCHIVE_MEETING_RECORD)
    async def archive_meeting_record(self, request: MeetingRecordRequest) -> str:
        """R27: the 评审会议记录 (names from the pool, 申报编号 from the record, who voted but
        never how), written once to the archive; its file name."""
        state = request.state
        codes = [seat.code for seat in state.seats]
        names = await experts.expert_names(self._engine, codes)
        voted = await ballots.participation(self._engine, state.workflow_id)
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(DeclarationRow.workflow_id, DeclarationRow.number).where(
                    DeclarationRow.workflow_id.in_(state.declarations)
                )
            )
            numbers = {workflow_id: number for workflow_id, number in rows}
        pdf = await meeting_record_pdf(state, names, numbers, voted, self._settings)
        return archive_meeting_record(self._settings.archive_dir, state.workflow_id, pdf)
