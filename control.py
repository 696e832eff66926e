"""Client-side operations on declarations, shared by the command line, the tests and the
benchmarks: start one, act on one, read its state, list them by search attributes; and the
operator-file side of it: a round's configuration for a year, a declaration from a JSON file,
an action's payload checked before it is sent."""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from pydantic import ValidationError, create_model
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from models.common import Actor, Jurisdiction, Level, Role, Stage, Strict
from models.declaration import Action, DeclarationInput, DeclarationState, WindowChangeAction
from models.round import (
    WINDOW_FIELDS,
    CommitteeVotes,
    DrawSpotCheck,
    ListingSource,
    OpenSession,
    Operation,
    OperationStatus,
    RoundAction,
    RoundConfig,
    RoundInput,
    RoundLaunch,
    RoundProgress,
    RoundState,
    SetCommittee,
    SpotCheckResult,
    WindowChange,
)
from models.search_attributes import (
    JURISDICTION,
    LEVEL,
    NEXT_DEADLINE,
    RETURN_COUNT,
    ROUND_YEAR,
    STAGE,
)
from models.validation import validation_summary
from rules.actions import ACTIONS
from rules.calendar import CalendarYearUnknown
from rules.identity import applicant_key, declaration_workflow_id, round_workflow_id
from rules.schedule import (
    DEFAULT_DAY,
    DEFAULT_HOUR,
    DEFAULT_MINUTE,
    DEFAULT_MONTH,
    SCHEDULE_ID,
    SCHEDULE_TIME_ZONE,
)
from rules.timezone import shanghai_iso
from store.config_files import (
    InputError,
)
from store.db import ensure_schema, get_engine
from store.tables import IntegrityArchiveEntry
from workflows.declaration import DeclarationWorkflow
from workflows.round import RoundLauncherWorkflow, RoundWorkflow, round_summary

DECLARATION_WORKFLOW_TYPE = "Declaration"  # DESIGN §3


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


async def start_declaration_in_round(
    client: Client, declaration: DeclarationInput, task_queue: str
) -> WorkflowHandle[DeclarationWorkflow, DeclarationState]:
    """Start a declaration with the running round's windows (`declaration.round` should be
    `running_round_config`'s), then close the gap of a window change announced while it
    started: the round's paged change may have listed the declarations before this one was
    visible. Reading the round's windows again after the start and applying any difference
    (idempotent on the declaration) means no declaration keeps the old windows (R9)."""
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
        await act(client, handle.id, "change_windows", payload.model_dump(mode="json"))
    return handle


class ActionTimeout(TimeoutError):
    """An action got no answer in time. `accepted` False: no worker took it (the server
    may still hand it to one later: admitted updates are not durable); True: taken, not
    yet recorded."""

    def __init__(self, workflow_id: str, action: str, accepted: bool, timeout: timedelta) -> None:
        self.workflow_id, self.action, self.accepted = workflow_id, action, accepted
        what = "accepted but not recorded" if accepted else "not accepted by any worker"
        super().__init__(f"{workflow_id}: {action} {what} within {timeout.total_seconds():g} s")


async def act(
    client: Client,
    workflow_id: str,
    action: str,
    payload: dict[str, Any],
    *,
    timeout: timedelta | None = None,
) -> DeclarationState:
    """Send one reviewer or applicant action (a Temporal Update) and wait for its result.

    With `timeout`, each phase (accepted by the worker, then recorded) gets that long and
    ActionTimeout says which did not finish. An RPC timeout alone would not do: the client
    re-polls an update that the server answers "not yet" forever."""
    handle = client.get_workflow_handle(workflow_id)
    if timeout is None:
        return await handle.execute_update(action, payload, result_type=DeclarationState)
    try:
        async with asyncio.timeout(timeout.total_seconds()):
            update = await handle.start_update(
                action,
                payload,
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


# --- operator input: files and payloads ----------------------------------------------------


# What an operator's declaration file holds: DeclarationInput without what the system adds.
SYSTEM_FIELDS = {
    "round": "the round comes from --year and config/rounds/{year}.json",
    "applicant_key": "the key is derived from applicant.id_card",
}
DeclarationFile: type[Strict] = create_model(  # derived, so the two shapes never drift apart
    "DeclarationFile",
    __base__=Strict,
    **{
        name: (info.annotation, info)
        for name, info in DeclarationInput.model_fields.items()
        if name not in SYSTEM_FIELDS
    },
)


def declaration_input(
    data: Mapping[str, Any], round_config: RoundConfig, where: str, key_secret: str
) -> DeclarationInput:
    """The workflow's input from the applicant's part (a declaration file) and the round."""
    for name, why in SYSTEM_FIELDS.items():
        if name in data:
            raise InputError(f"{where}: {name}: leave it out of the file ({why})")
    try:
        part = DeclarationFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{where}: {validation_summary(exc)}") from None
    fields = dict(part)
    key = applicant_key(fields["applicant"].id_card, key_secret)
    return DeclarationInput.model_validate(fields | {"round": round_config, "applicant_key": key})


@cache
def action_models() -> dict[str, type[Action]]:
    """Each action's payload model, read from the type hint of the workflow's update handler
    of the same name: the workflow is the one source of truth for what an action carries."""
    models: dict[str, type[Action]] = {}
    for action in ACTIONS:
        handler = getattr(DeclarationWorkflow, action, None)
        hints = typing.get_type_hints(handler) if callable(handler) else {}
        hints.pop("return", None)
        model = next(iter(hints.values()), None)
        if len(hints) != 1 or not (isinstance(model, type) and issubclass(model, Action)):
            raise RuntimeError(
                f"action {action!r}: DeclarationWorkflow has no update handler of that name "
                "taking one Action model"
            )
        models[action] = model
    return models


def action_payload(action: str, role: Role, actor_id: str, data: Mapping[str, Any]) -> Action:
    """The update's argument, checked here so a mistake is named before anything is sent
    (the worker could only say 'Failed decoding arguments')."""
    return _validated_payload(action_models(), "action", action, role, actor_id, data)


def _validated_payload(
    models: Mapping[str, type[Any]],
    kind: str,
    action: str,
    role: Role,
    actor_id: str,
    data: Mapping[str, Any],
) -> Any:
    """`data` plus the actor, validated by the action's model; every mistake is named."""
    model = models.get(action)
    if model is None:
        raise InputError(f"unknown {kind} {action!r}; known: {', '.join(models)}")
    if "actor" in data:
        raise InputError("actor: give it with --role and --actor-id, not in the data")
    try:
        return model.model_validate({**data, "actor": {"role": role, "id": actor_id}})
    except ValidationError as exc:
        raise InputError(validation_summary(exc)) from None


# --- rounds ---------------------------------------------------------------------------------


# --- listing --------------------------------------------------------------------------------


def visibility_query(
    *,
    year: int | None = None,
    stage: Stage | None = None,
    level: Level | None = None,
    jurisdiction: Jurisdiction | None = None,
) -> str:
    """A visibility query over the declarations' search attributes. Values are enum members
    (or an int), so nothing needs escaping."""
    clauses = [f"WorkflowType = '{DECLARATION_WORKFLOW_TYPE}'"]
    if year is not None:
        clauses.append(f"{ROUND_YEAR.name} = {int(year)}")
    if stage is not None:
        clauses.append(f"{STAGE.name} = '{Stage(stage).value}'")
    if level is not None:
        # `Level` is a keyword of the visibility grammar: unquoted, the server rejects it.
        clauses.append(f"`{LEVEL.name}` = '{Level(level).value}'")
    if jurisdiction is not None:
        clauses.append(f"{JURISDICTION.name} = '{Jurisdiction(jurisdiction).value}'")
    return " AND ".join(clauses)


class DeclarationListing(Strict):
    """One row of a listing, from the execution's search attributes (no query to the worker)."""

    workflow_id: str
    status: str
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


# --- rounds: the Round workflow, its Schedule, the integrity archive (issue 4) ---------------

ROUND_WORKFLOW_TYPE = "Round"  # DESIGN §3


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


ROUND_UPDATES: dict[str, type[RoundAction]] = {
    "change_windows": WindowChange,
    "supply_defense_averages": RoundAction,
    "set_committee": SetCommittee,
    "open_session": OpenSession,
    "committee_votes": CommitteeVotes,
    "draw_spot_check": DrawSpotCheck,
    "record_spot_check_result": SpotCheckResult,
    "refresh_statistics": RoundAction,
    "close": RoundAction,
}


def round_action_payload(action: str, role: Role, actor_id: str, data: Mapping[str, Any]) -> Any:
    return _validated_payload(ROUND_UPDATES, "round action", action, role, actor_id, data)


async def round_act(client: Client, year: int, action: str, payload: Any) -> Any:
    """Send one round update; returns its JSON result (an accepted operation, a session...)."""
    handle = client.get_workflow_handle(round_workflow_id(year))
    return await handle.execute_update(action, payload)


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


def round_schedule(
    task_queue: str,
    *,
    month: int = DEFAULT_MONTH,
    day: int = DEFAULT_DAY,
    hour: int = DEFAULT_HOUR,
    minute: int = DEFAULT_MINUTE,
    listing: ListingSource = ListingSource.visibility,
    paused: bool = False,
) -> Schedule:
    """Every year on month/day hour:minute Asia/Shanghai, start a `RoundLauncher`, which
    starts `round-{year}` for the scheduled time's year. Overlap SKIP: a launcher still
    running is never doubled."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RoundLauncherWorkflow.run,
            RoundLaunch(listing=listing),
            id="round-launcher",  # the server appends the scheduled time
            task_queue=task_queue,
            static_summary="starts round-{year} for the scheduled year",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    month=[ScheduleRange(month)],
                    day_of_month=[ScheduleRange(day)],
                    hour=[ScheduleRange(hour)],
                    minute=[ScheduleRange(minute)],
                    comment="the yearly 职称评审 round",
                )
            ],
            time_zone_name=SCHEDULE_TIME_ZONE,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=7)),
        state=ScheduleState(
            paused=paused,
            note="zhicheng: the yearly round (starter.py schedule ...)",
        ),
    )


async def create_round_schedule(
    client: Client, task_queue: str, schedule_id: str = SCHEDULE_ID, **spec: Any
) -> ScheduleHandle:
    """Raises ScheduleAlreadyRunningError when it exists."""
    return await client.create_schedule(schedule_id, round_schedule(task_queue, **spec))


class ScheduleView(Strict):
    schedule_id: str
    paused: bool
    note: str | None
    calendar: str
    time_zone: str | None
    overlap: str
    workflow_type: str
    task_queue: str | None
    next_runs: list[str]
    recent_runs: list[dict[str, str]]
    runs_total: int


async def describe_round_schedule(client: Client, schedule_id: str = SCHEDULE_ID) -> ScheduleView:
    description = await client.get_schedule_handle(schedule_id).describe()
    schedule, info = description.schedule, description.info
    action = schedule.action
    calendars = schedule.spec.calendars
    calendar = "; ".join(
        f"{c.month[0].start:02d}-{c.day_of_month[0].start:02d} "
        f"{c.hour[0].start:02d}:{c.minute[0].start:02d}"
        for c in calendars
    )
    return ScheduleView(
        schedule_id=schedule_id,
        paused=schedule.state.paused,
        note=schedule.state.note,
        calendar=calendar or "(none)",
        time_zone=schedule.spec.time_zone_name,
        overlap=schedule.policy.overlap.name,
        workflow_type=getattr(action, "workflow", "?"),
        task_queue=getattr(action, "task_queue", None),
        next_runs=[shanghai_iso(at) for at in info.next_action_times[:3]],
        recent_runs=[
            {
                "scheduled_at": shanghai_iso(run.scheduled_at),
                "workflow_id": getattr(run.action, "workflow_id", "?"),
            }
            for run in info.recent_actions
        ],
        runs_total=info.num_actions,
    )


# --- R8: the integrity archive -----------------------------------------------------------------


async def integrity_block(
    applicant_key_value: str, today: date, engine: AsyncEngine | None = None
) -> date | None:
    """The end of the applicant's newest integrity-archive record still in force, if any
    (R8: no higher title until then). Reads the record database: `engine`'s, or
    DATABASE_URL's (its schema brought up to date first)."""
    if engine is None:
        await ensure_schema()
        engine = get_engine()
    async with engine.connect() as conn:
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
