"""Client-side operations on declarations, shared by the command line, the tests and the
benchmarks: start one, act on one, read its state, list them by search attributes."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy

from models.declaration import DeclarationInput, DeclarationState
from rules.identity import declaration_workflow_id
from workflows.declaration import DeclarationWorkflow


async def start_declaration(
    client: Client, declaration: DeclarationInput, task_queue: str
) -> WorkflowHandle[DeclarationWorkflow, DeclarationState]:
    """One declaration per applicant per round, ever: a second start is refused even after
    the first has ended (WorkflowAlreadyStartedError)."""
    return await client.start_workflow(
        DeclarationWorkflow.run,
        declaration,
        id=declaration_workflow_id(declaration.round.year, declaration.applicant_key),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        static_summary=(
            f"{declaration.round.year} {declaration.level.value} declaration, "
            f"{declaration.jurisdiction.value}"
        ),
    )


async def act(
    client: Client, workflow_id: str, action: str, payload: dict[str, Any]
) -> DeclarationState:
    """Send one reviewer or applicant action (a Temporal Update) and wait for its result."""
    handle = client.get_workflow_handle(workflow_id)
    return await handle.execute_update(action, payload, result_type=DeclarationState)


async def declaration_state(client: Client, workflow_id: str) -> DeclarationState:
    handle = client.get_workflow_handle(workflow_id)
    return await handle.query("state", result_type=DeclarationState)
