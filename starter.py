"""zhicheng command line: start declarations, act on them, read them, plan a round.

Configuration comes from the environment (settings.py): TEMPORAL_ADDRESS (localhost:7233),
TEMPORAL_NAMESPACE (default), ZHICHENG_TASK_QUEUE (zhicheng), ZHICHENG_ROUNDS_DIR
(config/rounds: {year}.json overrides a round's dates) and ZHICHENG_CALENDAR_OVERRIDES
(config/calendar_overrides.json: holidays of years chinesecalendar does not know).

A session (start the worker first: python worker.py):

    python starter.py round plan 2025                 # key dates; needs no Temporal server
    python starter.py actions                         # who may do what, with which data
    python starter.py declaration start examples/declaration.json --year 2026
    python starter.py declaration act decl-2026-eaabaf4afca1764a submit \\
        --role applicant --actor-id liming
    python starter.py declaration act decl-2026-eaabaf4afca1764a employer_return \\
        --role employer --actor-id hr-01 --data '{"reason": "学历证书扫描件不清晰"}'
    python starter.py declaration state decl-2026-eaabaf4afca1764a
    python starter.py declaration history decl-2026-eaabaf4afca1764a --json
    python starter.py declaration list --year 2026 --stage draft --level intermediate

The workflow id is decl-{year}-{applicant key}; `start` prints it. An action outside its
window is refused (exit 3) and the message gives the window: the notice's round runs
submission Sept 1-29. To try the flow at other dates, copy examples/rounds/2025.json to
config/rounds/{year}.json and set its year and dates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import (
    Client,
    ScheduleAlreadyRunningError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

import control
from delivery.dispatch import delivery_input, start_delivery
from delivery.ledger import ResendRefused, UnknownMessage, list_outbox, pending_keys, prepare_resend
from models.common import (
    JURISDICTION_NAMES_ZH,
    LEVEL_NAMES_ZH,
    STAGE_NAMES_ZH,
    Jurisdiction,
    Level,
    Role,
    Stage,
)
from models.declaration import DeclarationState
from models.delivery import Channel, DeliveryResult, DeliveryStatus, delivery_workflow_id
from models.round import ListingSource, OperationStatus, RoundState
from rules.actions import ACTIONS
from rules.calendar import CalendarYearUnknown
from rules.identity import declaration_workflow_id, round_workflow_id
from rules.round_plan import plan_round, try_out_round_dates
from rules.schedule import DEFAULT_DAY, DEFAULT_HOUR, DEFAULT_MINUTE, DEFAULT_MONTH, SCHEDULE_ID
from rules.timezone import SHANGHAI, shanghai_iso, to_shanghai
from settings import Settings, SettingsError, load_settings
from store.config_files import (
    InputError,
    parse_json_object,
    read_json_object,
    round_config_for,
    round_config_path,
    round_input_for,
)
from store.tables import OutboxStatus
from worker import connect, exit_without_finalizing
from workflows.round import round_summary

PROG = "starter.py"

EXIT_OK = 0
EXIT_FAILED = 1  # anything unexpected
EXIT_BAD_INPUT = 2  # a file, a field, an argument (argparse uses 2 too)
EXIT_REFUSED = 3  # the workflow refused: wrong stage, role, window; a duplicate declaration
EXIT_UNAVAILABLE = 4  # Temporal unreachable, no such declaration, no worker answering

EPILOG = """\
exit codes:
  0  done
  1  unexpected failure
  2  bad input: a missing or malformed file, an invalid field, an unknown action or role,
     a year the working-day calendar does not know
  3  refused by the declaration: wrong stage, wrong role, outside a window, already declared
  4  unavailable: Temporal unreachable, no such declaration, no worker answering

environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ZHICHENG_TASK_QUEUE, ZHICHENG_ROUNDS_DIR,
ZHICHENG_CALENDAR_OVERRIDES (see settings.py)"""

QUERY_TIMEOUT = timedelta(seconds=10)  # a query needs a worker; don't hang without one
UPDATE_TIMEOUT = timedelta(seconds=30)  # an update waits for its transition to be recorded


class CliError(Exception):
    """One line for stderr and the exit code that goes with it."""

    def __init__(self, line: str, code: int) -> None:
        super().__init__(line)
        self.line = line
        self.code = code


def bad_input(message: str) -> CliError:
    return CliError(f"error: {message}", EXIT_BAD_INPUT)


def unavailable(message: str) -> CliError:
    return CliError(f"error: {message}", EXIT_UNAVAILABLE)


def refused(kind: str, message: str) -> CliError:
    return CliError(f"refused ({kind}): {message}", EXIT_REFUSED)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (its default prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message} (see --help)\n")


# --- output helpers -------------------------------------------------------------------------


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    print(json.dumps(value, ensure_ascii=False, indent=2))


def table(rows: Sequence[Sequence[str]], indent: str = "") -> Iterator[str]:
    """Left-aligned columns; the last column is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)] if rows else []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        yield (indent + "  ".join([*cells, row[-1]])).rstrip()


def relative(instant: datetime, now: datetime) -> str:
    """'in 2 d 3 h' / '5 h 10 min ago': how far a deadline is from now."""
    delta = instant - now
    seconds = abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    span = (
        f"{days} d {hours} h"
        if days
        else f"{hours} h {rest // 60} min"
        if hours
        else f"{rest // 60} min"
    )
    return f"in {span}" if delta.total_seconds() >= 0 else f"{span} ago"


def deadline_rows(state: DeclarationState) -> list[list[str]]:
    now = datetime.now(SHANGHAI)
    return [
        [name, at, f"({relative(datetime.fromisoformat(at), now)})"]
        for name, at in state.deadlines.items()
    ]


def stage_text(stage: Stage) -> str:
    return f"{stage.value} ({STAGE_NAMES_ZH[stage]})"


def seconds_iso(instant: datetime) -> str:
    return to_shanghai(instant).isoformat(timespec="seconds")


def type_text(annotation: Any) -> str:
    """`list[models.declaration.Material] | None` -> `list[Material] | None`."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", str(annotation))


# --- Temporal errors to one line ------------------------------------------------------------


@asynccontextmanager
async def temporal_errors(
    client: Client, settings: Settings, workflow_id: str | None = None
) -> AsyncIterator[None]:
    """Turn what the client raises into one line and an exit code."""
    try:
        yield
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise refused(cause.type or "Refused", cause.message) from None
        raise CliError(f"error: {workflow_id}: the update failed: {cause}", EXIT_FAILED) from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise await no_worker(client, settings, workflow_id) from None
    except WorkflowQueryFailedError as exc:
        raise CliError(
            f"error: {workflow_id}: the state query failed: {exc}", EXIT_FAILED
        ) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and "namespace" in exc.message.lower():
            raise unavailable(
                f"namespace {settings.temporal_namespace!r} not found at "
                f"{settings.temporal_address} (TEMPORAL_NAMESPACE)"
            ) from None
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise unavailable(
                f"no declaration {workflow_id!r} in namespace {settings.temporal_namespace!r}"
            ) from None
        if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            raise await no_worker(client, settings, workflow_id) from None
        if exc.status == RPCStatusCode.UNAVAILABLE:
            raise unavailable(
                f"lost Temporal at {settings.temporal_address}: {exc.message}"
            ) from None
        raise CliError(
            f"error: Temporal said {exc.status.name}: {exc.message}", EXIT_FAILED
        ) from None


async def no_worker(
    client: Client, settings: Settings, workflow_id: str | None, what: str | None = None
) -> CliError:
    """Name the task queue the declaration actually runs on, which may not be ours."""
    what = what or f"{workflow_id}: no worker answered"
    task_queue = settings.task_queue
    if workflow_id is not None:
        with suppress(RPCError):
            task_queue = (await client.get_workflow_handle(workflow_id).describe()).task_queue
    return unavailable(
        f"{what}: is worker.py running on task queue {task_queue!r} at {settings.temporal_address}?"
    )


async def client_for(settings: Settings) -> Client:
    try:
        return await connect(settings)
    except RuntimeError as exc:  # the Rust bridge reports every connect failure this way
        found = re.search(r'message: "([^"]+)"', str(exc))
        reason = found.group(1) if found else str(exc).removeprefix("Failed client connect: ")
        raise unavailable(
            f"cannot reach Temporal at {settings.temporal_address} ({reason}); "
            "is the server running? (TEMPORAL_ADDRESS)"
        ) from None


async def ended_or(client: Client, settings: Settings, workflow_id: str) -> CliError:
    """An update to a closed workflow: say how the declaration ended."""
    try:
        state = await control.declaration_state(client, workflow_id, rpc_timeout=QUERY_TIMEOUT)
    except Exception:  # the refusal stands even if the stage cannot be read
        return refused("Ended", f"{workflow_id} has ended; it takes no more actions")
    reason = f": {state.ending_reason}" if state.ending_reason else ""
    return refused(
        "Ended", f"{workflow_id} has ended in {stage_text(state.stage)}{reason}; no more actions"
    )


# --- commands -------------------------------------------------------------------------------


async def cmd_start(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    data = read_json_object(path, args.file)
    year = args.year or datetime.now(SHANGHAI).year
    round_config = round_config_for(year, settings)
    declaration = control.declaration_input(
        data, round_config, args.file, settings.applicant_key_secret
    )
    client = await client_for(settings)
    # A running round's windows win over the file: they include any change it announced (R9).
    running = await control.running_round_config(client, year)
    if running is not None:
        declaration = declaration.model_copy(update={"round": running})
        round_config = running
    # R8: an integrity-archive record in force blocks a higher title (the eligibility check
    # at start refuses it and names the rule).
    try:
        until = await control.integrity_block(
            declaration.applicant_key, datetime.now(SHANGHAI).date()
        )
    except Exception as exc:  # never start without the R8 check
        raise unavailable(f"cannot read the integrity archive (DATABASE_URL): {exc}") from None
    declaration = control.with_integrity_block(declaration, until)
    closes = round_config.submission_closes_at
    if datetime.now(SHANGHAI) >= closes:
        # The workflow would end it at once as not_submitted (R10) and use up the
        # applicant's one declaration of the round: refuse before starting anything.
        raise refused(
            "SubmissionClosed",
            f"round {year}'s submission closed at {shanghai_iso(closes)}; nothing started "
            f"(to try the system now: {PROG} round try-out {year})",
        )
    workflow_id = declaration_workflow_id(year, declaration.applicant_key)
    async with temporal_errors(client, settings, workflow_id):
        try:
            handle = await control.start_declaration_in_round(
                client, declaration, settings.task_queue
            )
        except WorkflowAlreadyStartedError:
            raise refused(
                "AlreadyDeclared",
                f"{workflow_id} already exists: one declaration per applicant per round "
                f"(see: {PROG} declaration state {workflow_id})",
            ) from None
    try:
        state = await control.declaration_state(client, handle.id, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError):
        state = None  # started all the same; say so and point at the worker
    if args.json:
        print_json({"workflow_id": handle.id, "state": state and state.model_dump(mode="json")})
    else:
        print(handle.id)
        if state is not None:
            reason = f": {state.ending_reason}" if state.ending_reason else ""
            print(f"stage: {stage_text(state.stage)}{reason}")
    if state is None:
        warning = await no_worker(
            client, settings, handle.id, f"{handle.id}: started, but no state"
        )
        print(f"warning: {warning.line.removeprefix('error: ')}", file=sys.stderr)
    return EXIT_OK


def read_action_data(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    if args.data_file is not None:
        return read_json_object(Path(args.data_file), args.data_file), args.data_file
    if args.data is not None:
        return parse_json_object(args.data, "--data"), "--data"
    return {}, f"{args.action} needs data (give it with --data or --data-file)"


async def cmd_act(args: argparse.Namespace, settings: Settings) -> int:
    if args.action not in ACTIONS:
        raise bad_input(
            f"unknown action {args.action!r}; known: {', '.join(ACTIONS)} (see: {PROG} actions)"
        )
    data, where = read_action_data(args)
    try:
        payload = control.action_payload(args.action, Role(args.role), args.actor_id, data)
    except InputError as exc:
        raise bad_input(f"{where}: {exc}") from None
    client = await client_for(settings)
    async with temporal_errors(client, settings, args.workflow_id):
        try:
            state = await control.act(
                client,
                args.workflow_id,
                args.action,
                payload.model_dump(mode="json"),
                timeout=UPDATE_TIMEOUT,
            )
        except control.ActionTimeout as exc:
            if exc.accepted:
                raise unavailable(
                    f"{exc}: it will complete once recorded (is the database up?); "
                    f"check with: {PROG} declaration state {args.workflow_id}"
                ) from None
            pending = f"{exc} (it may still be applied when one picks it up)"
            raise await no_worker(client, settings, args.workflow_id, pending) from None
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND and "completed" in exc.message:
                raise await ended_or(client, settings, args.workflow_id) from None
            raise
    if args.json:
        print_json(state)
        return EXIT_OK
    print(f"{args.action}: now {stage_text(state.stage)}")
    print(f"return count: {state.return_count}")
    rows = deadline_rows(state)
    print("deadlines:" if rows else "deadlines: none")
    for line in table(rows, "  "):
        print(line)
    return EXIT_OK


async def query_state(args: argparse.Namespace, settings: Settings) -> DeclarationState:
    client = await client_for(settings)
    async with temporal_errors(client, settings, args.workflow_id):
        return await control.declaration_state(client, args.workflow_id, rpc_timeout=QUERY_TIMEOUT)


async def cmd_state(args: argparse.Namespace, settings: Settings) -> int:
    state = await query_state(args, settings)
    if args.json:
        print_json(state)
        return EXIT_OK
    level, jurisdiction = Level(state.level), Jurisdiction(state.jurisdiction)
    print(f"{state.workflow_id}  (round {state.round_year})")
    print(f"stage:        {stage_text(state.stage)}")
    print(f"level:        {level.value} ({LEVEL_NAMES_ZH[level]})")
    print(f"jurisdiction: {jurisdiction.value} ({JURISDICTION_NAMES_ZH[jurisdiction]})")
    print(
        f"returns:      {state.return_count} by the evaluation body (R15), "
        f"{state.employer_return_count} by the employer (R12)"
    )
    rows = deadline_rows(state)
    print("deadlines:" if rows else "deadlines:    none")
    for line in table(rows, "  "):
        print(line)
    allowed = [[a.action, ", ".join(r.value for r in a.roles)] for a in state.allowed_actions]
    print("allowed actions:" if allowed else "allowed actions: none (ended)")
    for line in table(allowed, "  "):
        print(line)
    print("objections:" if state.objections else "objections:   none")
    for o in state.objections:
        status = "open" if o.upheld is None else "upheld" if o.upheld else "dismissed"
        resolution = f" → {o.resolution}" if o.resolution else ""
        print(
            f"  #{o.id} during {o.during.value}, {status}, raised {seconds_iso(o.raised_at)} "
            f"by {o.raised_by.role.value}:{o.raised_by.id}: {o.summary}{resolution}"
        )
    notes = []
    if state.review_overdue:
        notes.append("the evaluation body's review is overdue (R9)")
    if state.defense_exempt:
        notes.append("exempt from the on-site defense (R19)")
    if state.defense_score is not None:
        notes.append(f"defense score {state.defense_score:g}")
    if state.committee_result is not None:
        result = state.committee_result
        notes.append(
            f"committee: {result.get('yes_votes')} yes of {result.get('attending')} attending, "
            f"{'passed' if result.get('passed') else 'not passed'}"
        )
    for note in notes:
        print(f"note:         {note}")
    if state.stage.is_ending:
        print(f"ended:        {state.ending_reason or STAGE_NAMES_ZH[state.stage]}")
    return EXIT_OK


async def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    state = await query_state(args, settings)
    if args.json:
        print_json(
            [
                entry.model_dump(mode="json") | {"at": shanghai_iso(entry.at)}
                for entry in state.timeline
            ]
        )
        return EXIT_OK
    rows = [["seq", "at (+08:00)", "actor", "action", "from → to", "reason"]]
    for entry in state.timeline:
        rows.append(
            [
                str(entry.seq),
                seconds_iso(entry.at),
                f"{entry.actor.role.value}:{entry.actor.id}",
                entry.action,
                f"{entry.from_stage.value} → {entry.to_stage.value}",
                entry.reason or "",
            ]
        )
    print(f"{state.workflow_id}: {len(state.timeline)} entries, now {stage_text(state.stage)}")
    for line in table(rows):
        print(line)
    return EXIT_OK


async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    query = control.visibility_query(
        year=args.year,
        stage=args.stage and Stage(args.stage),
        level=args.level and Level(args.level),
        jurisdiction=args.jurisdiction and Jurisdiction(args.jurisdiction),
    )
    client = await client_for(settings)
    async with temporal_errors(client, settings):
        rows = await control.list_declarations(client, query, args.limit)
    if args.json:
        print_json({"query": query, "declarations": [row.model_dump(mode="json") for row in rows]})
        return EXIT_OK
    header = [
        "workflow id",
        "stage",
        "next deadline (+08:00)",
        "level",
        "jurisdiction",
        "returns",
        "status",
    ]
    lines = [
        [
            row.workflow_id,
            row.stage or "?",
            shanghai_iso(row.next_deadline) if row.next_deadline else "-",
            row.level or "?",
            row.jurisdiction or "?",
            "?" if row.return_count is None else str(row.return_count),
            row.status,
        ]
        for row in rows
    ]
    if lines:
        for line in table([header, *lines]):
            print(line)
    more = " (limit reached)" if len(rows) == args.limit else ""
    print(f"{len(rows)} declaration(s){more}: {query}")
    return EXIT_OK


async def cmd_round_plan(args: argparse.Namespace, settings: Settings) -> int:
    config = round_config_for(args.year, settings)
    plan = plan_round(config)
    if args.json:
        print_json(plan)
        return EXIT_OK
    path = round_config_path(args.year, settings)
    source = (
        str(path) if path.exists() else f"the notice's pattern (no {path.name} in {path.parent})"
    )
    days = plan.publicity_working_days
    lead = config.recommendation_lead_days
    rows = [
        ["submission opens (R9)", plan.submission_opens_at, ""],
        [
            "latest publicity start (R13)",
            plan.latest_publicity_start.isoformat(),
            f"{days} working days, ending {plan.publicity_ends_if_started_latest}",
        ],
        [
            "publicity must end by",
            plan.publicity_must_end_by,
            f"{lead} day{'s' if lead != 1 else ''} before submission closes, to recommend (R14)",
        ],
        ["submission closes (R9, R10)", plan.submission_closes_at, ""],
        ["review opens (R9)", plan.review_opens_at, ""],
        ["review closes (R9)", plan.review_closes_at, ""],
        ["payment closes (R17)", plan.payment_closes_at, ""],
    ]
    print(f"round {plan.year}: key dates (Asia/Shanghai, +08:00)")
    for line in table(rows, "  "):
        print(line)
    print(
        f"correction: {plan.correction_hours} h after each return; at most {plan.max_returns} "
        f"returns, the next one locks (R15)"
    )
    print(f"configuration: {source}")
    years = ", ".join(str(year) for year in config.calendar.years)
    print(f"working-day calendar: {years} (chinesecalendar, {settings.calendar_overrides.name})")
    return EXIT_OK


async def cmd_round_try_out(args: argparse.Namespace, settings: Settings) -> int:
    year = args.year or datetime.now(SHANGHAI).year
    path = round_config_path(year, settings)
    if path.exists() and not args.force:
        raise bad_input(f"{path} exists; --force replaces it")
    dates = try_out_round_dates(datetime.now(SHANGHAI))
    round_config_for(year, settings)  # the year's calendar must be known first
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"year": year, **dates}, indent=2) + "\n", encoding="utf-8")
    print(
        f"wrote {path}: submission {dates['submission_opens_at']} – "
        f"{dates['submission_closes_at']}, review until {dates['review_closes_at']}"
    )
    print(f"see: {PROG} round plan {year}; delete the file to return to the notice's dates")
    return EXIT_OK


# --- rounds: the Round workflow (issue 4) ---------------------------------------------------


def print_round(state: RoundState) -> None:
    progress, plan = state.progress, state.plan
    print(
        f"{state.workflow_id}  ({state.specialty}, run {progress.runs}, "
        f"history {state.history_length} events)"
    )
    rows = [
        ["submission", f"{plan['submission_opens_at']} – {plan['submission_closes_at']}"],
        ["review", f"{plan['review_opens_at']} – {plan['review_closes_at']}"],
        ["payment closes", plan["payment_closes_at"]],
        ["latest publicity start", str(plan["latest_publicity_start"])],
    ]
    for line in table(rows, "  "):
        print(line)
    statistics = progress.statistics
    if statistics is None:
        print("declarations: not counted yet")
    else:
        print(f"declarations: {statistics.total} (as of {seconds_iso(statistics.as_of)})")
        for name, counts in (
            ("stage", statistics.by_stage),
            ("level", statistics.by_level),
            ("jurisdiction", statistics.by_jurisdiction),
        ):
            shown = ", ".join(f"{key} {count}" for key, count in counts.items()) or "none"
            print(f"  by {name}: {shown}")
    committee = progress.committee
    print(
        f"committee: {committee.name}, {len(committee.members)} members"
        if committee
        else "committee: not set (round act YEAR set_committee)"
    )
    for session in progress.sessions:
        validity = "valid" if session.valid else "NOT valid (R20 quorum)"
        print(
            f"  session {session.session_id}: {len(session.attending)} of "
            f"{len(session.members)} attending, {session.required_attendance} needed: {validity}"
        )
    for batch in progress.batches:
        ends = seconds_iso(batch.ends_at) if batch.ends_at else "-"
        print(
            f"result publicity of {batch.session_id}: {batch.passed} passed, "
            f"{batch.not_passed} not passed, ends {ends}{' (ended)' if batch.ended else ''}"
        )
    for check in progress.spot_checks:
        frauds = sum(f.fraud for f in check.findings)
        print(
            f"spot check {check.check_id}: seed {check.seed}, {len(check.sample)} of "
            f"{check.population if check.population is not None else '?'}, "
            f"{len(check.findings)} findings ({frauds} fraud)"
        )
    for revocation in progress.revocations:
        print(
            f"revoked {revocation.workflow_id}: integrity archive until "
            f"{revocation.blocked_until.isoformat()} (R8)"
        )
    print("operations:" if progress.operations else "operations: none")
    for op in progress.operations[-10:]:
        error = f": {op.error}" if op.error else ""
        print(
            f"  #{op.id} {op.kind.value} {op.status.value}: {op.done} done, {op.skipped} "
            f"skipped, {op.failed} failed in {op.pages} pages{error}"
        )


async def cmd_round_start(args: argparse.Namespace, settings: Settings) -> int:
    # The calendar check comes first: an unknown year names itself and the override file.
    round_input = round_input_for(
        args.year,
        settings,
        listing=ListingSource(args.listing),
        committee_file=Path(args.committee) if args.committee else None,
    )
    client = await client_for(settings)
    workflow_id = round_workflow_id(args.year)
    async with temporal_errors(client, settings, workflow_id):
        try:
            handle = await control.start_round(client, round_input, settings.task_queue)
        except WorkflowAlreadyStartedError:
            raise refused(
                "AlreadyStarted",
                f"{workflow_id} already exists (see: {PROG} round state {args.year})",
            ) from None
    if args.json:
        print_json({"workflow_id": handle.id, "input": round_input.model_dump(mode="json")})
    else:
        print(handle.id)
        print(round_summary(round_input))
    return EXIT_OK


async def cmd_round_state(args: argparse.Namespace, settings: Settings) -> int:
    client = await client_for(settings)
    workflow_id = round_workflow_id(args.year)
    async with temporal_errors(client, settings, workflow_id):
        state = await control.round_state(client, args.year, rpc_timeout=QUERY_TIMEOUT)
    if args.json:
        print_json(state)
    else:
        print_round(state)
    return EXIT_OK


async def cmd_round_act(args: argparse.Namespace, settings: Settings) -> int:
    if args.action not in control.ROUND_UPDATES:
        raise bad_input(
            f"unknown round action {args.action!r}; known: {', '.join(control.ROUND_UPDATES)}"
        )
    data, where = read_action_data(args)
    if not data and where.endswith("(give it with --data or --data-file)"):
        where = "--data"
    try:
        payload = control.round_action_payload(args.action, Role(args.role), args.actor_id, data)
    except InputError as exc:
        raise bad_input(f"{where}: {exc}") from None
    client = await client_for(settings)
    workflow_id = round_workflow_id(args.year)
    async with temporal_errors(client, settings, workflow_id):
        result = await control.round_act(client, args.year, args.action, payload)
        operation_id = result.get("operation_id") if isinstance(result, dict) else None
        if args.wait and operation_id is not None:
            operation = await control.wait_for_operation(client, args.year, operation_id)
            result = operation.model_dump(mode="json")
    print_json(result)
    status = result.get("status") if isinstance(result, dict) else None
    return EXIT_FAILED if status == OperationStatus.failed.value else EXIT_OK


# --- the yearly Schedule ------------------------------------------------------------------


async def cmd_schedule_create(args: argparse.Namespace, settings: Settings) -> int:
    client = await client_for(settings)
    async with temporal_errors(client, settings):
        try:
            await control.create_round_schedule(
                client,
                settings.task_queue,
                args.id,
                month=args.month,
                day=args.day,
                hour=args.hour,
                minute=args.minute,
                listing=ListingSource(args.listing),
                paused=args.paused,
            )
        except ScheduleAlreadyRunningError:
            raise refused(
                "AlreadyExists", f"schedule {args.id} exists (see: {PROG} schedule describe)"
            ) from None
        view = await control.describe_round_schedule(client, args.id)
    print(f"created schedule {args.id}")
    print_schedule(view)
    return EXIT_OK


def print_schedule(view: control.ScheduleView) -> None:
    print(f"schedule {view.schedule_id}: {'PAUSED' if view.paused else 'active'}")
    print(f"  every year at {view.calendar} ({view.time_zone}), overlap {view.overlap}")
    print(f"  starts {view.workflow_type} on task queue {view.task_queue}")
    print(f"  next: {', '.join(view.next_runs) or 'none'}")
    print(f"  runs so far: {view.runs_total}")
    for run in view.recent_runs:
        print(f"    {run['scheduled_at']}  {run['workflow_id']}")
    if view.note:
        print(f"  note: {view.note}")


async def schedule_call(
    args: argparse.Namespace, settings: Settings, action: str
) -> control.ScheduleView | None:
    client = await client_for(settings)
    async with temporal_errors(client, settings):
        handle = client.get_schedule_handle(args.id)
        try:
            if action == "trigger":
                await handle.trigger()
            elif action == "pause":
                await handle.pause(note=args.note)
            elif action == "unpause":
                await handle.unpause(note=args.note)
            elif action == "delete":
                await handle.delete()
                return None
            return await control.describe_round_schedule(client, args.id)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise unavailable(
                    f"no schedule {args.id!r} (create it: {PROG} schedule create)"
                ) from None
            raise


async def cmd_schedule_describe(args: argparse.Namespace, settings: Settings) -> int:
    view = await schedule_call(args, settings, "describe")
    assert view is not None
    if args.json:
        print_json(view)
    else:
        print_schedule(view)
    return EXIT_OK


def schedule_command(action: str, done: str) -> Handler:
    async def handler(args: argparse.Namespace, settings: Settings) -> int:
        view = await schedule_call(args, settings, action)
        print(f"{done} schedule {args.id}")
        if view is not None:
            print_schedule(view)
        return EXIT_OK

    return handler


async def cmd_actions(args: argparse.Namespace, settings: Settings) -> int:
    models = control.action_models()
    described = []
    for action, by_stage in ACTIONS.items():
        model = models[action]
        fields = [
            {"name": name, "type": type_text(info.annotation), "required": info.is_required()}
            for name, info in model.model_fields.items()
        ]
        described.append(
            {
                "action": action,
                "model": model.__name__,
                "stages": {
                    stage.value: sorted(role.value for role in roles)
                    for stage, roles in by_stage.items()
                },
                "fields": fields,
            }
        )
    if args.json:
        print_json(described)
        return EXIT_OK
    for item in described:
        print(f"{item['action']}  ({item['model']})")
        by_roles: dict[str, list[str]] = {}  # withdraw: one line, not nine
        for stage, roles in item["stages"].items():
            by_roles.setdefault(", ".join(roles), []).append(stage)
        for roles, stages in by_roles.items():
            print(f"  in {', '.join(stages)}: {roles}")
        data = [
            f"{f['name']}: {f['type']}{'' if f['required'] else ' (optional)'}"
            for f in item["fields"]
            if f["name"] != "actor"  # given with --role and --actor-id
        ]
        print(f"  data: {'; '.join(data)}")
    return EXIT_OK


# --- the notification outbox: delivery by e-mail and WeChat (activities/delivery.py) --------


def record_errors(settings: Settings, exc: SQLAlchemyError) -> CliError:
    """The record database could not be read: one line that names it (without a password)."""
    url = make_url(settings.database_url).render_as_string(hide_password=True)
    cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    hint = "; the worker creates the tables when it starts" if "no such table" in cause else ""
    return unavailable(f"cannot read the record database {url} (DATABASE_URL): {cause}{hint}")


def channel_line(channel: dict[str, Any]) -> str:
    resends = f", resend {channel['resends']}" if channel["resends"] else ""
    return (
        f"{channel['channel']} {channel['status']} to {channel['address']} "
        f"({channel['attempts']} attempt{'s' if channel['attempts'] != 1 else ''}{resends})"
    )


async def cmd_outbox_list(args: argparse.Namespace, settings: Settings) -> int:
    try:
        entries = await list_outbox(
            settings.database_url, status=args.status, workflow_id=args.workflow, limit=args.limit
        )
    except SQLAlchemyError as exc:
        raise record_errors(settings, exc) from None
    if args.json:
        print_json({"status": args.status, "messages": [entry.as_json() for entry in entries]})
        return EXIT_OK
    for entry in entries:
        print(f"{entry.key}  {entry.status}")
        print(
            f"  {entry.event} to {entry.recipient_role} {entry.recipient_name}, "
            f"queued {seconds_iso(entry.created_at)}"
            + (f", sent {seconds_iso(entry.sent_at)}" if entry.sent_at else "")
        )
        for channel in entry.channels:
            print(f"  {channel_line(channel)}")
            if channel["error"] and channel["status"] != DeliveryStatus.sent.value:
                print(f"    reason: {channel['error']}")
        if not entry.channels and entry.last_error:
            print(f"  reason: {entry.last_error}")
    which = f" with status {args.status}" if args.status else ""
    more = " (limit reached)" if len(entries) == args.limit else ""
    print(f"{len(entries)} message(s){which}{more}")
    return EXIT_OK


async def cmd_outbox_resend(args: argparse.Namespace, settings: Settings) -> int:
    channel = Channel(args.channel)
    try:
        resend = await prepare_resend(settings.database_url, args.key, channel)
    except UnknownMessage as exc:
        raise bad_input(str(exc)) from None
    except ResendRefused as exc:
        raise refused("InFlight", str(exc)) from None
    except SQLAlchemyError as exc:
        raise record_errors(settings, exc) from None
    request = delivery_input(args.key, settings, channels=[channel], resend=resend)
    workflow_id = delivery_workflow_id(args.key, resend, channel)
    client = await client_for(settings)
    async with temporal_errors(client, settings, workflow_id):
        started = await start_delivery(client, settings.task_queue, request, channel)
        print(f"{workflow_id}: {'started' if started else 'already started'}")
        if not args.wait:
            return EXIT_OK
        handle = client.get_workflow_handle(workflow_id, result_type=DeliveryResult)
        try:
            async with asyncio.timeout(args.wait):
                result = await handle.result()
        except TimeoutError:
            raise await no_worker(
                client, settings, workflow_id, f"{workflow_id}: not done in {args.wait:g} s"
            ) from None
    for outcome in result.outcomes:
        print(f"{outcome.channel.value}: {outcome.status.value}  {outcome.detail or ''}".rstrip())
    return EXIT_OK if all(o.status is DeliveryStatus.sent for o in result.outcomes) else EXIT_FAILED


async def cmd_outbox_deliver(args: argparse.Namespace, settings: Settings) -> int:
    try:
        keys = await pending_keys(settings.database_url, args.limit, args.workflow)
    except SQLAlchemyError as exc:
        raise record_errors(settings, exc) from None
    client = await client_for(settings)
    started = 0
    async with temporal_errors(client, settings):
        for key in keys:
            request = delivery_input(key, settings)
            started += await start_delivery(client, settings.task_queue, request)
    print(f"{len(keys)} pending message(s): {started} delivery workflow(s) started")
    return EXIT_OK


# --- parser ---------------------------------------------------------------------------------


Handler = Callable[[argparse.Namespace, Settings], Awaitable[int]]


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    handler: Handler


async def cmd_account_create(args: argparse.Namespace, settings: Settings) -> int:
    import getpass
    import os

    from portal.accounts import AccountError, create_account
    from rules.identity import applicant_key
    from store.db import dispose_engines, ensure_schema, get_engine

    password = args.password or os.environ.get("ZHICHENG_ACCOUNT_PASSWORD")
    if not password:
        password = getpass.getpass(f"password for {args.username}: ")
    key = None
    if args.id_card:
        from stdnum.cn import ric

        try:
            key = applicant_key(ric.validate(args.id_card), settings.applicant_key_secret)
        except Exception as exc:  # stdnum raises several ValidationError subclasses
            raise bad_input(f"--id-card: not a valid resident ID card number: {exc}") from None
    try:
        await ensure_schema()
        created = await create_account(
            get_engine(),
            role=args.role,
            username=args.username,
            password=password,
            display_name=args.name,
            employer_uscc=args.uscc,
            applicant_key=key,
        )
    except AccountError as exc:
        raise bad_input(str(exc)) from None
    except SQLAlchemyError as exc:
        raise record_errors(settings, exc) from None
    finally:
        await dispose_engines()
    if not created:
        raise refused("Exists", f"account {args.username!r} exists already (nothing changed)")
    print(f"account {args.username} created ({args.role})")
    return EXIT_OK


def year(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year") from None
    if not 2000 <= value <= 2100:
        raise argparse.ArgumentTypeError(f"{value} is not a year between 2000 and 2100")
    return value


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def build_parser() -> Parser:
    fmt = argparse.RawDescriptionHelpFormatter
    common = {"epilog": EPILOG, "formatter_class": fmt}
    parser = Parser(prog=PROG, description=(__doc__ or "").split("\n\n")[0], **common)
    groups = parser.add_subparsers(
        dest="group", required=True, metavar="{declaration,round,schedule,outbox,actions}"
    )

    declaration = groups.add_parser(
        "declaration", help="start, act on, read and list declarations", **common
    )
    commands = declaration.add_subparsers(dest="command", required=True)

    def sub(
        parent: argparse._SubParsersAction[Parser], name: str, help: str, handler: Handler
    ) -> Parser:
        command = parent.add_parser(name, help=help, description=help, **common)
        command.set_defaults(handler=handler)
        return command

    start = sub(commands, "start", "start a declaration from an applicant's JSON file", cmd_start)
    start.add_argument(
        "file",
        metavar="FILE",
        help="JSON object: applicant, level, jurisdiction, eligibility, achievements, materials "
        "(see examples/declaration.json)",
    )
    start.add_argument(
        "--year", type=year, help="round year (default: the current year in Asia/Shanghai)"
    )
    start.add_argument("--json", action="store_true", help="print the id and initial state as JSON")

    act = sub(commands, "act", "take an action (a Temporal Update) on a declaration", cmd_act)
    act.add_argument("workflow_id", metavar="WORKFLOW_ID")
    act.add_argument("action", metavar="ACTION", help=f"one of: {', '.join(ACTIONS)}")
    act.add_argument(
        "--role",
        required=True,
        choices=[r.value for r in Role],
        metavar="ROLE",
        help=f"who acts: {', '.join(r.value for r in Role)}",
    )
    act.add_argument("--actor-id", required=True, help="the acting person's or unit's id")
    data = act.add_mutually_exclusive_group()
    data.add_argument("--data", metavar="JSON", help="the action's fields as a JSON object")
    data.add_argument("--data-file", metavar="FILE", help="the action's fields from a JSON file")
    act.add_argument("--json", action="store_true", help="print the new state as JSON")

    for name, help_text, handler in [
        ("state", "show a declaration's state (the `state` query)", cmd_state),
        ("history", "show a declaration's timeline", cmd_history),
    ]:
        command = sub(commands, name, help_text, handler)
        command.add_argument("workflow_id", metavar="WORKFLOW_ID")
        command.add_argument("--json", action="store_true", help="print JSON")

    listing = sub(commands, "list", "list declarations by search attributes", cmd_list)
    listing.add_argument("--year", type=year, help="round year")
    listing.add_argument(
        "--stage",
        choices=[s.value for s in Stage],
        metavar="STAGE",
        help=f"one of: {', '.join(s.value for s in Stage)}",
    )
    listing.add_argument(
        "--level",
        choices=[lv.value for lv in Level],
        metavar="LEVEL",
        help=f"one of: {', '.join(lv.value for lv in Level)}",
    )
    listing.add_argument(
        "--jurisdiction",
        choices=[j.value for j in Jurisdiction],
        metavar="JURISDICTION",
        help=f"one of: {', '.join(j.value for j in Jurisdiction)}",
    )
    listing.add_argument("--limit", type=positive, default=100, help="at most N (default 100)")
    listing.add_argument("--json", action="store_true", help="print JSON")

    round_group = groups.add_parser(
        "round", help="a round: plan, start, state, coordination actions", **common
    )
    round_commands = round_group.add_subparsers(dest="command", required=True)
    plan = sub(
        round_commands,
        "plan",
        "print a round's key dates (needs no Temporal server)",
        cmd_round_plan,
    )
    plan.add_argument("year", type=year, metavar="YEAR")
    plan.add_argument("--json", action="store_true", help="print JSON")
    try_out = sub(
        round_commands,
        "try-out",
        "write config/rounds/YEAR.json with windows open from today (to try the system "
        "outside September)",
        cmd_round_try_out,
    )
    try_out.add_argument("year", type=year, metavar="YEAR", nargs="?", help="default: this year")
    try_out.add_argument("--force", action="store_true", help="replace an existing file")
    round_start = sub(
        round_commands,
        "start",
        "start the Round workflow round-YEAR by hand (the Schedule does it every year)",
        cmd_round_start,
    )
    round_start.add_argument("year", type=year, metavar="YEAR")
    round_start.add_argument(
        "--committee",
        metavar="FILE",
        help="committee composition JSON (default: config/rounds/YEAR.committee.json if any)",
    )
    listing_choices = [source.value for source in ListingSource]
    round_start.add_argument(
        "--listing",
        choices=listing_choices,
        default=ListingSource.visibility.value,
        help="how the round finds its declarations: search attributes (default) or the "
        "record database",
    )
    round_start.add_argument("--json", action="store_true", help="print JSON")
    round_state = sub(
        round_commands,
        "state",
        "show a round: windows, statistics, sessions, spot checks, operations",
        cmd_round_state,
    )
    round_state.add_argument("year", type=year, metavar="YEAR")
    round_state.add_argument("--json", action="store_true", help="print JSON")
    round_act = sub(
        round_commands,
        "act",
        "a round action (a Temporal Update on round-YEAR): " + ", ".join(control.ROUND_UPDATES),
        cmd_round_act,
    )
    round_act.add_argument("year", type=year, metavar="YEAR")
    round_act.add_argument("action", metavar="ACTION", help=", ".join(control.ROUND_UPDATES))
    round_act.add_argument("--role", required=True, choices=[r.value for r in Role], metavar="ROLE")
    round_act.add_argument("--actor-id", required=True, help="the acting person's or unit's id")
    round_data = round_act.add_mutually_exclusive_group()
    round_data.add_argument("--data", metavar="JSON", help="the action's fields as a JSON object")
    round_data.add_argument("--data-file", metavar="FILE", help="the fields from a JSON file")
    round_act.add_argument(
        "--wait", action="store_true", help="wait until the operation it starts is done"
    )

    schedule_group = groups.add_parser(
        "schedule", help="the yearly Schedule that starts each round", **common
    )
    schedule_commands = schedule_group.add_subparsers(dest="command", required=True)
    create = sub(
        schedule_commands,
        "create",
        "create the Schedule: every year (default Aug 28 09:00 Asia/Shanghai) it starts "
        "round-{year}; overlap SKIP",
        cmd_schedule_create,
    )
    create.add_argument("--month", type=int, default=DEFAULT_MONTH, choices=range(1, 13))
    create.add_argument("--day", type=int, default=DEFAULT_DAY, choices=range(1, 32))
    create.add_argument("--hour", type=int, default=DEFAULT_HOUR, choices=range(24))
    create.add_argument("--minute", type=int, default=DEFAULT_MINUTE, choices=range(60))
    create.add_argument(
        "--listing", choices=listing_choices, default=ListingSource.visibility.value
    )
    create.add_argument("--paused", action="store_true", help="create it paused")
    commands_by_name: list[tuple[str, str, Handler]] = [
        ("describe", "show the Schedule: spec, next and recent runs", cmd_schedule_describe),
        (
            "trigger",
            "start the launcher now (the year of today)",
            schedule_command("trigger", "triggered"),
        ),
        ("pause", "pause the Schedule", schedule_command("pause", "paused")),
        ("unpause", "unpause the Schedule", schedule_command("unpause", "unpaused")),
        (
            "delete",
            "delete the Schedule (running rounds go on)",
            schedule_command("delete", "deleted"),
        ),
    ]
    for name, help_text, handler in [("create", "", cmd_schedule_create), *commands_by_name]:
        command = create if name == "create" else sub(schedule_commands, name, help_text, handler)
        command.add_argument(
            "--id", default=SCHEDULE_ID, help=f"schedule id (default {SCHEDULE_ID})"
        )
        if name in ("pause", "unpause"):
            command.add_argument("--note", help="why (shown in the UI)")
        if name == "describe":
            command.add_argument("--json", action="store_true", help="print JSON")

    outbox_group = groups.add_parser(
        "outbox", help="the notification outbox: delivery status, resends", **common
    )
    outbox_commands = outbox_group.add_subparsers(dest="command", required=True)
    outbox_list = sub(
        outbox_commands,
        "list",
        "list outbox messages, newest first, with each channel's status and reason "
        "(reads DATABASE_URL)",
        cmd_outbox_list,
    )
    outbox_list.add_argument(
        "--status",
        choices=[s.value for s in OutboxStatus],
        metavar="STATUS",
        help=f"one of: {', '.join(s.value for s in OutboxStatus)}",
    )
    outbox_list.add_argument("--workflow", metavar="WORKFLOW_ID", help="one declaration's")
    outbox_list.add_argument("--limit", type=positive, default=100, help="at most N (default 100)")
    outbox_list.add_argument("--json", action="store_true", help="print JSON")
    resend = sub(
        outbox_commands,
        "resend",
        "send a message again by one channel (after a failure is fixed, or an `uncertain` "
        "one is checked): a new Delivery workflow",
        cmd_outbox_resend,
    )
    resend.add_argument("key", metavar="KEY", help="the outbox key (see: outbox list)")
    resend.add_argument("--channel", required=True, choices=[c.value for c in Channel])
    resend.add_argument(
        "--wait",
        type=float,
        nargs="?",
        const=60.0,
        metavar="SECONDS",
        help="wait for the outcome (default 60 s)",
    )
    deliver = sub(
        outbox_commands,
        "deliver",
        "start the delivery of every `pending` message that has none (messages queued while "
        "no channel was configured)",
        cmd_outbox_deliver,
    )
    deliver.add_argument("--limit", type=positive, default=1000, help="at most N (default 1000)")
    deliver.add_argument("--workflow", metavar="WORKFLOW_ID", help="only one declaration's")

    account_group = groups.add_parser("account", help="portal accounts (portal/)", **common)
    account_commands = account_group.add_subparsers(dest="command", required=True)
    account_create = sub(
        account_commands,
        "create",
        "create a portal account (password from --password, ZHICHENG_ACCOUNT_PASSWORD, or "
        "asked for); reads DATABASE_URL",
        cmd_account_create,
    )
    account_create.add_argument(
        "--role", required=True, choices=[r.value for r in Role if r is not Role.system]
    )
    account_create.add_argument("--username", required=True)
    account_create.add_argument("--name", default="", help="display name")
    account_create.add_argument("--uscc", help="employer accounts: the employer's 统一社会信用代码")
    account_create.add_argument(
        "--id-card", help="applicant accounts: the ID card (only its applicant key is stored)"
    )
    account_create.add_argument("--password", help="visible in the process list: prefer the env")

    actions = sub(groups, "actions", "list every action: stages, roles, data fields", cmd_actions)
    actions.add_argument("--json", action="store_true", help="print JSON")
    return parser


# --- entry points ---------------------------------------------------------------------------


async def run(argv: Sequence[str]) -> int:
    """The command line's core; awaitable from a running event loop (the tests do)."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # --help, or a usage error already printed on one line
        return exc.code if isinstance(exc.code, int) else EXIT_FAILED
    try:
        settings = load_settings()
    except SettingsError as exc:  # one line per bad setting
        for line in exc.lines:
            print(f"invalid setting: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return await args.handler(args, settings)
    except CliError as exc:
        print(exc.line, file=sys.stderr)
        return exc.code
    except (InputError, CalendarYearUnknown) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    try:
        return asyncio.run(run(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head`: the reader has gone, nothing left to say
        return EXIT_FAILED


if __name__ == "__main__":
    exit_without_finalizing(main())
