"""The Round workflow `round-{year}` from the client side: start it, read it, send it an
action, wait for an operation it started, and the running round's configuration (its windows
after any change, R9)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from client.signing import ActorSigner
from models.round import (
    Operation,
    OperationStatus,
    RoundConfig,
    RoundInput,
    RoundProgress,
    RoundState,
)
from rules.calendar import CalendarYearUnknown
from rules.identity import round_workflow_id
from workflows.round import RoundWorkflow, round_summary

ROUND_WORKFLOW_TYPE = "Round"  # the name workflows/round.py registers


async def start_round(
    client: Client, round_input: RoundInput, task_queue: str
) -> WorkflowHandle[RoundWorkflow, RoundProgress]:
    """`round-{year}`; a second start while it exists is refused (WorkflowAlreadyStartedError),
    a failed one (e.g. an unknown calendar) may be started again."""
    if round_input.year not in round_input.config.calendar.years:
        raise CalendarYearUnknown(round_input.year)
    return await client.start_workflow(
        RoundWorkflow.run,
        round_input,
        id=round_workflow_id(round_input.year),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        static_summary=round_summary(round_input),
    )


async def round_state(
    client: Client, year_or_id: int | str, *, rpc_timeout: timedelta | None = None
) -> RoundState:
    workflow_id = round_workflow_id(year_or_id) if isinstance(year_or_id, int) else year_or_id
    handle = client.get_workflow_handle(workflow_id)
    return await handle.query("state", result_type=RoundState, rpc_timeout=rpc_timeout)


async def round_act(
    client: Client,
    year: int,
    action: str,
    payload: Any,
    *,
    signer: ActorSigner,
    update_id: str,
) -> Any:
    """Send one round update; returns its JSON result (an accepted operation, a session...).
    The payload: client.inputs.round_action_payload (or its JSON); `signer` signs its actor
    for round-{year} and this action (client/signing.py) just before it is sent.
    `update_id` (rules/update_ids.py): the same request sent again is applied once and
    answered with the first one's result (client.declarations.act)."""
    workflow_id = round_workflow_id(year)
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else dict(payload)
    handle = client.get_workflow_handle(workflow_id)
    return await handle.execute_update(
        action, await signer.signed(client, workflow_id, action, data), id=update_id
    )


async def wait_for_operation(
    client: Client,
    year_or_id: int | str,
    operation_id: int,
    *,
    timeout: timedelta = timedelta(minutes=10),
    poll: timedelta = timedelta(milliseconds=200),
) -> Operation:
    """Poll the round's state until the operation is done or failed (it may span several
    runs of the round: the query always reaches the newest)."""
    async with asyncio.timeout(timeout.total_seconds()):
        while True:
            state = await round_state(client, year_or_id)
            operation = next(
                (op for op in state.progress.operations if op.id == operation_id), None
            )
            if operation is not None and operation.status in (
                OperationStatus.done,
                OperationStatus.failed,
            ):
                return operation
            await asyncio.sleep(poll.total_seconds())


async def running_round_config(client: Client, year: int) -> RoundConfig | None:
    """The running round's configuration (its windows after any change), if it runs."""
    try:
        handle = client.get_workflow_handle(round_workflow_id(year))
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return None  # an ended round's windows say nothing about a new declaration
        state = await round_state(client, year, rpc_timeout=timedelta(seconds=10))
    except (RPCError, WorkflowQueryFailedError):
        return None
    return state.config
