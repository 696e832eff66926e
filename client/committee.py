"""Committee sessions from the client side (workflows/committee.py, R20, R27): start one (the
draw follows), read it, send it an action, cast a ballot, list a round's sessions.

The portal and the command line both come through here. Ballots do not go to the workflow:
`cast_ballot` writes them to the record database's ballot box (store/ballots.py), which takes
one ballot per registered member while the session is open."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from client.inputs import SESSION_UPDATES
from client.signing import ActorSigner
from models.committee import Choice, SessionInput, SessionState
from models.search_attributes import ROUND_YEAR
from rules.identity import committee_session_workflow_id
from store import ballots
from workflows.committee import CommitteeSessionWorkflow

SESSION_WORKFLOW_TYPE = "CommitteeSession"  # the name workflows/committee.py registers


async def start_session(
    client: Client, engine: AsyncEngine, session: SessionInput, task_queue: str
) -> WorkflowHandle[CommitteeSessionWorkflow, SessionState]:
    """`committee-{year}-{session_id}`, registered first (the portal's lists), then started;
    a second start of the same session is refused (WorkflowAlreadyStartedError)."""
    workflow_id = committee_session_workflow_id(session.year, session.session_id)
    await ballots.register_session(engine, workflow_id, session.year, session.session_id)
    return await client.start_workflow(
        CommitteeSessionWorkflow.run,
        session,
        id=workflow_id,
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(ROUND_YEAR, session.year)]),
        static_summary=f"committee session {session.session_id} of round {session.year}",
    )


async def session_state(client: Client, workflow_id: str) -> SessionState:
    return await client.get_workflow_handle(workflow_id).query("state", result_type=SessionState)


async def round_sessions(client: Client, engine: AsyncEngine, year: int) -> list[SessionState]:
    """The round's sessions, oldest first (those whose workflow cannot be read are left out)."""
    found = []
    for workflow_id in await ballots.sessions_of_year(engine, year):
        try:
            found.append(await session_state(client, workflow_id))
        except RPCError:  # a session deleted from the server: not listed
            continue
    return found


async def session_act(
    client: Client,
    workflow_id: str,
    update: str,
    payload: Any,
    *,
    signer: ActorSigner,
    update_id: str,
) -> SessionState:
    """One session update, its actor signed for this session and update; `update_id`
    (rules/update_ids.py) applies a repeated request once."""
    if update not in SESSION_UPDATES:
        raise ValueError(f"{update}: not a session action ({', '.join(SESSION_UPDATES)})")
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else dict(payload)
    handle = client.get_workflow_handle(workflow_id)
    return await handle.execute_update(
        update,
        await signer.signed(client, workflow_id, update, data),
        id=update_id,
        result_type=SessionState,
    )


async def cast_ballot(
    engine: AsyncEngine, workflow_id: str, code: str, declaration: str, choice: Choice
) -> None:
    """A member's secret ballot (store.ballots.cast: BallotRefused says why not)."""
    await ballots.cast(engine, workflow_id, code, declaration, choice)
