"""Declarations from the client side: open one (the one use case the command line and the
portal share), start one as it is (tests, benchmarks), act on one, read its state, list them by
search attributes; and the integrity archive's part in opening one (R8)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from client.errors import ActionTimeout, ArchiveUnavailable, DeclarationRefused
from client.masked_checks import MATERIAL_ACTIONS, with_check_verdicts
from client.rounds import running_round_config
from client.signing import ActorSigner
from models.common import Actor, Jurisdiction, Level, Role, Stage, Strict
from models.declaration import DeclarationInput, DeclarationState, WindowChangeAction
from models.round import WINDOW_FIELDS
from models.search_attributes import (
    DECLARATION_NUMBER,
    JURISDICTION,
    LEVEL,
    NEXT_DEADLINE,
    RECORD_FAILING,
    RETURN_COUNT,
    ROUND_YEAR,
    STAGE,
)
from rules.blind_review import first_identifying_title
from rules.eligibility import check_eligibility
from rules.identity import (
    declaration_number,
    declaration_workflow_id,
    parse_declaration_number,
    round_workflow_id,
)
from rules.timezone import SHANGHAI, shanghai_date, shanghai_iso
from rules.update_ids import request_update_id
from store.db import ensure_schema, get_engine
from store.declaration_numbers import allocate_declaration_number
from store.tables import IntegrityArchiveEntry
from workflows.declaration import DeclarationWorkflow

DECLARATION_WORKFLOW_TYPE = "Declaration"  # the name workflows/declaration.py registers

DeclarationHandle = WorkflowHandle[DeclarationWorkflow, DeclarationState]


# --- opening a declaration --------------------------------------------------------------------


async def open_declaration(
    client: Client,
    declaration: DeclarationInput,
    task_queue: str,
    *,
    signer: ActorSigner,
    engine: AsyncEngine | None = None,
    now: datetime | None = None,
    before_start: Callable[[DeclarationInput], Awaitable[None]] | None = None,
) -> DeclarationHandle:
    """Open the applicant's one declaration of the round `declaration.round.year`, checking
    everything that would only end it at once, before anything starts:

    1. the running round's windows win over `declaration.round` (a round file's or the
       notice's pattern): they include any change the round announced (R9);
    2. submission must not have closed (R10: it could only end as not_submitted);
    3. a record of the integrity archive in force counts over what the applicant declared (R8;
       the archive is read from `engine`, else DATABASE_URL's);
    4. the eligibility check (R1–R8, rules/eligibility.py), as the workflow would make it;
    5. no material's title may identify the applicant (R11, rules/blind_review.py: the
       workflow refuses to submit it);
    6. its 申报编号 (store/declaration_numbers.py): the round's next, or the one this
       workflow id got before (opened again: the same number), carried in the input.

    Then `before_start` (the portal binds the applicant to the account), and the start with
    the window catch-up of start_declaration_in_round (signed with `signer`). Refused:
    DeclarationRefused with reason SubmissionClosed, Ineligible, IdentifyingTitle or
    AlreadyDeclared (one declaration per applicant per round, ever); ArchiveUnavailable when
    the archive cannot be read or the number not allocated. Temporal's own failures pass
    through (client.errors.classify)."""
    year = declaration.round.year
    workflow_id = declaration_workflow_id(year, declaration.applicant_key)
    running = await running_round_config(client, year)
    if running is not None:
        declaration = declaration.model_copy(update={"round": running})
    now = now or datetime.now(SHANGHAI)
    closes = declaration.round.submission_closes_at
    if now >= closes:
        raise DeclarationRefused(
            "SubmissionClosed",
            f"round {year}'s submission closed at {shanghai_iso(closes)}; nothing started",
            workflow_id=workflow_id,
        )
    today = shanghai_date(now)
    try:
        engine = await record_engine(engine)
        until = await integrity_block(declaration.applicant_key, today, engine)
    except Exception as exc:  # never start without the R8 check
        raise ArchiveUnavailable(
            f"cannot read the integrity archive (DATABASE_URL): {exc}"
        ) from None
    declaration = with_integrity_block(declaration, until)
    refusals = check_eligibility(declaration, today)
    if refusals:
        rules = "; ".join(f"{r.rule}: {r.reason}" for r in refusals)
        raise DeclarationRefused(
            "Ineligible",
            f"not eligible ({rules}); nothing started",
            workflow_id=workflow_id,
            refusals=refusals,
        )
    found = first_identifying_title([m.name for m in declaration.materials], declaration.applicant)
    if found is not None:  # R11: the workflow refuses to submit it; said now instead
        index, kind = found
        raise DeclarationRefused(
            "IdentifyingTitle",
            f"materials[{index}]: the title identifies the applicant ({kind}); nothing started",
            workflow_id=workflow_id,
        )
    try:
        number = await allocate_declaration_number(engine, workflow_id, year)
    except Exception as exc:  # never start without its number
        raise ArchiveUnavailable(
            f"cannot allocate the declaration's number (DATABASE_URL): {exc}"
        ) from None
    declaration = declaration.model_copy(update={"number": number})
    if before_start is not None:
        await before_start(declaration)
    try:
        return await start_declaration_in_round(client, declaration, task_queue, signer=signer)
    except WorkflowAlreadyStartedError:
        raise DeclarationRefused(
            "AlreadyDeclared",
            f"{workflow_id} already exists: one declaration per applicant per round",
            workflow_id=workflow_id,
        ) from None


async def start_declaration(
    client: Client, declaration: DeclarationInput, task_queue: str
) -> DeclarationHandle:
    """Start the workflow as it is, nothing checked first (tests and benchmarks; people open
    declarations with open_declaration). One declaration per applicant per round, ever: a
    second start is refused even after the first has ended (WorkflowAlreadyStartedError).

    A declaration with its 申报编号 gets the DeclarationNumber search attribute from its start
    (the workflow itself sets none of it: no command of its history changes)."""
    number = declaration.number
    return await client.start_workflow(
        DeclarationWorkflow.run,
        declaration,
        id=declaration_workflow_id(declaration.round.year, declaration.applicant_key),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(DECLARATION_NUMBER, number)] if number else []
        ),
        static_summary=(
            f"{declaration.round.year} {declaration.level.value} declaration"
            f"{f' {number}' if number else ''}, {declaration.jurisdiction.value}"
        ),
    )


async def start_declaration_in_round(
    client: Client, declaration: DeclarationInput, task_queue: str, *, signer: ActorSigner
) -> DeclarationHandle:
    """Start a declaration with the running round's windows (`declaration.round` should be
    `running_round_config`'s), then close the gap of a window change announced while it
    started: the round's paged change may have listed the declarations before this one was
    visible. Reading the round's windows again after the start and applying any difference
    (idempotent on the declaration) means no declaration keeps the old windows (R9).

    The difference is sent as the round would send it (role `system`, id `round-{year}`),
    signed with `signer`: the portal's or the command line's, which hold the worker's key."""
    handle = await start_declaration(client, declaration, task_queue)
    latest = await running_round_config(client, declaration.round.year)
    if latest is None:
        return handle
    changes = {
        name: getattr(latest, name)
        for name in WINDOW_FIELDS
        if getattr(latest, name) != getattr(declaration.round, name)
    }
    if changes:
        payload = WindowChangeAction(
            actor=Actor(role=Role.system, id=round_workflow_id(declaration.round.year)),
            reason="申报创建期间本轮时间窗口已调整，按调整后的时间执行（R9）",
            **changes,
        )
        await act(
            client,
            handle.id,
            "change_windows",
            payload.model_dump(mode="json"),
            signer=signer,
            # one catch-up per run of the declaration: sent again, it is applied once
            update_id=request_update_id(
                "open",
                f"{Role.system.value}:{payload.actor.id}",
                handle.id,
                "change_windows",
                handle.result_run_id or "",
            ),
        )
    return handle


# --- the record database: R8's integrity archive, the numbers ----------------------------------


async def record_engine(engine: AsyncEngine | None = None) -> AsyncEngine:
    """`engine`, else DATABASE_URL's (its schema brought up to date first)."""
    if engine is None:
        await ensure_schema()
        engine = get_engine()
    return engine


async def integrity_block(
    applicant_key_value: str, today: date, engine: AsyncEngine | None = None
) -> date | None:
    """The end of the applicant's newest integrity-archive record still in force, if any
    (R8: no higher title until then). Reads the record database: `engine`'s, or
    DATABASE_URL's (its schema brought up to date first)."""
    async with (await record_engine(engine)).connect() as conn:
        until = (
            await conn.execute(
                select(func.max(IntegrityArchiveEntry.blocked_until)).where(
                    IntegrityArchiveEntry.applicant_key == applicant_key_value,
                    IntegrityArchiveEntry.blocked_until >= today,
                )
            )
        ).scalar_one_or_none()
    return until


def with_integrity_block(declaration: DeclarationInput, until: date | None) -> DeclarationInput:
    """R8 facts for the eligibility check: the archive's record wins over a later-ending one
    the applicant did not declare."""
    declared = declaration.eligibility.integrity_blocked_until
    if until is None or (declared is not None and declared >= until):
        return declaration
    eligibility = declaration.eligibility.model_copy(update={"integrity_blocked_until": until})
    return declaration.model_copy(update={"eligibility": eligibility})


# --- acting and reading -----------------------------------------------------------------------


async def act(
    client: Client,
    workflow_id: str,
    action: str,
    payload: dict[str, Any],
    *,
    signer: ActorSigner,
    update_id: str,
    timeout: timedelta | None = None,
    engine: AsyncEngine | None = None,
) -> DeclarationState:
    """Send one reviewer or applicant action (a Temporal Update) and wait for its result.
    The payload: client.inputs.action_payload's JSON; `signer` signs its actor for this
    workflow and action (client/signing.py) just before it is sent. A submission's
    materials get their masked copies' checks from the record database (`engine`, else
    DATABASE_URL's; client/masked_checks.py), whatever the payload said (R11).

    `update_id` (rules/update_ids.py) makes a retry safe: the server keeps one update per id
    in the workflow's run, so the same request sent again (after a time-out, a lost answer,
    a double-submitted form) is applied once, and every call gets the first one's result
    (its validator is not run again; the new signature is not looked at).

    With `timeout`, each phase (accepted by the worker, then recorded) gets that long and
    ActionTimeout says which did not finish. An RPC timeout alone would not do: the client
    re-polls an update that the server answers "not yet" forever."""
    handle = client.get_workflow_handle(workflow_id)
    if action in MATERIAL_ACTIONS and payload.get("materials"):
        payload = await with_check_verdicts(await record_engine(engine), workflow_id, payload)
    payload = await signer.signed(client, workflow_id, action, payload)
    if timeout is None:
        return await handle.execute_update(
            action, payload, id=update_id, result_type=DeclarationState
        )
    try:
        async with asyncio.timeout(timeout.total_seconds()):
            update = await handle.start_update(
                action,
                payload,
                id=update_id,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                result_type=DeclarationState,
            )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # the client turns the cancelled poll into its own error, or not, by timing
        raise ActionTimeout(workflow_id, action, False, timeout) from None
    try:
        async with asyncio.timeout(timeout.total_seconds()):
            return await update.result()
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        raise ActionTimeout(workflow_id, action, True, timeout) from None


async def declaration_state(
    client: Client, workflow_id: str, *, rpc_timeout: timedelta | None = None
) -> DeclarationState:
    handle = client.get_workflow_handle(workflow_id)
    return await handle.query("state", result_type=DeclarationState, rpc_timeout=rpc_timeout)


# --- listing ----------------------------------------------------------------------------------


def visibility_query(
    *,
    year: int | None = None,
    stage: Stage | None = None,
    level: Level | None = None,
    jurisdiction: Jurisdiction | None = None,
    record_failing: bool = False,
    number: str | None = None,
    query: str | None = None,
) -> str:
    """A visibility query over the declarations' search attributes. Values are enum members,
    an int or a 申报编号 rebuilt from its parsed digits, so nothing needs escaping. A `number`
    that is not one (rules/identity.py parse_declaration_number) is a ValueError. `query`: the
    operator's own visibility query (the Web UI's language), in parentheses after the rest, so
    it narrows the declarations and never widens the listing beyond them."""
    clauses = [f"WorkflowType = '{DECLARATION_WORKFLOW_TYPE}'"]
    if number is not None:
        parsed = parse_declaration_number(number)
        if parsed is None:
            raise ValueError("not a declaration number (like 2026-000123)")
        clauses.append(f"{DECLARATION_NUMBER.name} = '{declaration_number(*parsed)}'")
    if year is not None:
        clauses.append(f"{ROUND_YEAR.name} = {int(year)}")
    if stage is not None:
        clauses.append(f"{STAGE.name} = '{Stage(stage).value}'")
    if level is not None:
        # `Level` is a keyword of the visibility grammar: unquoted, the server rejects it.
        clauses.append(f"`{LEVEL.name}` = '{Level(level).value}'")
    if jurisdiction is not None:
        clauses.append(f"{JURISDICTION.name} = '{Jurisdiction(jurisdiction).value}'")
    if record_failing:
        clauses.append(f"{RECORD_FAILING.name} = true")
    if query is not None and query.strip():
        clauses.append(f"({query.strip()})")
    return " AND ".join(clauses)


class DeclarationListing(Strict):
    """One row of a listing, from the execution's search attributes (no query to the worker)."""

    workflow_id: str
    status: str
    number: str | None  # 申报编号; absent on declarations started without one
    round_year: int | None
    stage: str | None
    level: str | None
    jurisdiction: str | None
    return_count: int | None
    next_deadline: datetime | None  # absent once ended, and on declarations started before it
    started_at: datetime


async def list_declarations(client: Client, query: str, limit: int) -> list[DeclarationListing]:
    """Sorted by next deadline, soonest first (then the ones without): the SQL visibility
    store of the dev server and of PostgreSQL-backed clusters has no ORDER BY."""
    rows: list[DeclarationListing] = []
    async for execution in client.list_workflows(query, limit=limit):
        attributes = execution.typed_search_attributes
        rows.append(
            DeclarationListing(
                workflow_id=execution.id,
                status=execution.status.name.lower() if execution.status else "unknown",
                number=attributes.get(DECLARATION_NUMBER),
                round_year=attributes.get(ROUND_YEAR),
                stage=attributes.get(STAGE),
                level=attributes.get(LEVEL),
                jurisdiction=attributes.get(JURISDICTION),
                return_count=attributes.get(RETURN_COUNT),
                next_deadline=attributes.get(NEXT_DEADLINE),
                started_at=execution.start_time,
            )
        )
    rows.sort(key=lambda row: (row.next_deadline is None, row.next_deadline or row.started_at))
    return rows
