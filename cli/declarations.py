"""`declaration start|act|state|history|list|find` and `actions`: a declaration from the command
line. Opening one goes through client/declarations.py's open_declaration, as in the portal."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from cli.common import (
    PROG,
    QUERY_TIMEOUT,
    TEMPORAL_FAILURES,
    UPDATE_TIMEOUT,
    client_for,
    no_worker,
    note_refused,
    read_action_data,
    record_errors,
    request_id_told,
    temporal_errors,
)
from cli.exits import EXIT_OK, CliError, bad_input, refused, unavailable
from cli.output import (
    print_actions,
    print_deadlines,
    print_history,
    print_json,
    print_state,
    stage_text,
    table,
    type_text,
)
from client.errors import DeclarationRefused, Refusal, classify
from client.inputs import action_models, action_payload, declaration_input
from client.refused import Attempt
from client.signing import ActorSigner
from models.common import Jurisdiction, Level, Role, Stage
from models.declaration import DeclarationInput, DeclarationState
from models.validation import unknown_name
from rules.actions import ACTIONS
from rules.assignment import ASSIGN
from rules.identity import declaration_workflow_id, parse_declaration_number
from rules.timezone import SHANGHAI, shanghai_iso
from rules.update_ids import cli_update_id, new_request_id
from settings import Settings
from store.config_files import InputError, read_json_object, round_config_for


async def cmd_start(args: argparse.Namespace, settings: Settings) -> int:
    from client.declarations import declaration_state, open_declaration

    path = Path(args.file)
    data = read_json_object(path, args.file)
    year = args.year or datetime.now(SHANGHAI).year
    round_config = round_config_for(year, settings)
    declaration = declaration_input(data, round_config, args.file, settings.applicant_key_secret)
    client = await client_for(settings)
    workflow_id = declaration_workflow_id(year, declaration.applicant_key)
    hints = {
        "SubmissionClosed": f" (to try the system now: {PROG} round try-out {year})",
        "AlreadyDeclared": f" (see: {PROG} declaration state {workflow_id})",
        "IdentifyingTitle": " (blind review, R11: rename that material in the file)",
    }
    numbered: list[str] = []

    async def note_number(opened: DeclarationInput) -> None:  # the 申报编号 it starts with
        numbered.append(opened.number or "")

    async with temporal_errors(client, settings, workflow_id):
        try:
            handle = await open_declaration(
                client,
                declaration,
                settings.task_queue,
                signer=ActorSigner.from_settings(settings),
                before_start=note_number,
            )
        except DeclarationRefused as exc:  # nothing started
            raise refused(exc.reason, exc.message + hints.get(exc.reason, "")) from None
    number = numbered[-1] if numbered else None
    try:
        state = await declaration_state(client, handle.id, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError):
        state = None  # started all the same; say so and point at the worker
    if args.json:
        print_json(
            {
                "workflow_id": handle.id,
                "number": number,
                "state": state and state.model_dump(mode="json"),
            }
        )
    else:
        print(handle.id)
        print(f"number: {number}")  # 申报编号: what a person quotes (`declaration find`)
        if state is not None:
            reason = f": {state.ending_reason}" if state.ending_reason else ""
            print(f"stage: {stage_text(state.stage)}{reason}")
    if state is None:
        warning = await no_worker(
            client, settings, handle.id, f"{handle.id}: started, but no state"
        )
        print(f"warning: {warning.line.removeprefix('error: ')}", file=sys.stderr)
    return EXIT_OK


async def cmd_act(args: argparse.Namespace, settings: Settings) -> int:
    from client.declarations import act

    if args.action not in ACTIONS:
        raise bad_input(f"{unknown_name('action', args.action, ACTIONS)} (see: {PROG} actions)")
    attempt = Attempt("cli", args.workflow_id, args.action, args.role, args.actor_id)
    try:
        data, where = read_action_data(args)
    except InputError as exc:  # --data or --data-file: not a JSON object
        await note_refused(settings, attempt, exc)
        raise
    try:
        if args.action == ASSIGN:  # R26: the colleague resolved against the accounts table
            data = await assigned_data(settings, Role(args.role), data)
        payload = action_payload(args.action, Role(args.role), args.actor_id, data)
    except InputError as exc:
        await note_refused(settings, attempt, exc)
        raise bad_input(f"{where}: {exc}") from None
    # a fresh request id, or the operator's to repeat one: the same id is applied once
    request_id = args.request_id or new_request_id()
    actor = f"{args.role}:{args.actor_id}"
    client = await client_for(settings)
    async with temporal_errors(client, settings, args.workflow_id, request_id=request_id):
        try:
            with request_id_told(request_id):
                state = await act(
                    client,
                    args.workflow_id,
                    args.action,
                    payload.model_dump(mode="json"),
                    signer=ActorSigner.from_settings(settings),  # for the operator who runs it
                    update_id=cli_update_id(actor, args.workflow_id, args.action, request_id),
                    timeout=UPDATE_TIMEOUT,
                )
        except TEMPORAL_FAILURES as exc:
            await note_refused(settings, attempt, exc)  # if it is a refusal (client/refused.py)
            if isinstance(exc, RPCError) and classify(exc).kind is Refusal.ended:
                raise await ended_or(client, settings, args.workflow_id) from None
            raise
    if args.json:
        print_json(state)
        return EXIT_OK
    print(f"{args.action}: now {stage_text(state.stage)}")
    print(f"return count: {state.return_count}")
    print_deadlines(state, "deadlines: none")
    return EXIT_OK


async def assigned_data(settings: Settings, role: Role, data: dict[str, Any]) -> dict[str, Any]:
    """An `assign`'s data with the colleague's organisation from the record database's
    accounts (client/assignments.py); the database unreadable is one line (exit 4)."""
    from sqlalchemy.exc import SQLAlchemyError

    from client.assignments import assignment_data
    from store.db import get_engine

    try:
        return await assignment_data(get_engine(settings.database_url), role, data)
    except SQLAlchemyError as exc:
        raise record_errors(settings, exc) from None


async def people_named(settings: Settings, state: DeclarationState) -> dict[str, str]:
    """R26: the person behind each actor (and assignee) of the timeline, by the account's
    display name (store/accounts.py display_names); none when the record database cannot be
    read (a warning: the history is shown all the same)."""
    from sqlalchemy.exc import SQLAlchemyError

    from store.accounts import display_names
    from store.db import get_engine

    ids = {e.actor.id for e in state.timeline}
    ids |= {e.assignee.id for e in state.timeline if e.assignee is not None}
    try:
        return await display_names(get_engine(settings.database_url), ids)
    except SQLAlchemyError as exc:
        line = record_errors(settings, exc).line.removeprefix("error: ")
        print(f"warning: the people are not named: {line}", file=sys.stderr)
        return {}


async def ended_or(client: Client, settings: Settings, workflow_id: str) -> CliError:
    """An update to a closed workflow: say how the declaration ended."""
    from client.declarations import declaration_state

    try:
        state = await declaration_state(client, workflow_id, rpc_timeout=QUERY_TIMEOUT)
    except Exception:  # the refusal stands even if the stage cannot be read
        return refused("Ended", f"{workflow_id} has ended; it takes no more actions")
    reason = f": {state.ending_reason}" if state.ending_reason else ""
    return refused(
        "Ended", f"{workflow_id} has ended in {stage_text(state.stage)}{reason}; no more actions"
    )


async def query_state(args: argparse.Namespace, settings: Settings) -> DeclarationState:
    from client.declarations import declaration_state

    client = await client_for(settings)
    async with temporal_errors(client, settings, args.workflow_id):
        return await declaration_state(client, args.workflow_id, rpc_timeout=QUERY_TIMEOUT)


async def cmd_state(args: argparse.Namespace, settings: Settings) -> int:
    state = await query_state(args, settings)
    if args.json:
        print_json(state)
    else:
        print_state(state)
    return EXIT_OK


async def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    state = await query_state(args, settings)
    people = await people_named(settings, state)
    if args.json:
        print_json(
            [
                entry.model_dump(mode="json")
                | {"at": shanghai_iso(entry.at), "person": people.get(entry.actor.id)}
                | ({"assignee_person": people.get(entry.assignee.id)} if entry.assignee else {})
                for entry in state.timeline
            ]
        )
    else:
        print_history(state, people)
    return EXIT_OK


async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from client.declarations import list_declarations, visibility_query

    try:
        query = visibility_query(
            year=args.year,
            stage=args.stage and Stage(args.stage),
            level=args.level and Level(args.level),
            jurisdiction=args.jurisdiction and Jurisdiction(args.jurisdiction),
            record_failing=args.record_failing,
            number=args.number,
            query=args.query,
        )
    except ValueError as exc:  # --number that is not one
        raise bad_input(f"--number: {exc}") from None
    client = await client_for(settings)
    async with temporal_errors(client, settings):
        rows = await list_declarations(client, query, args.limit)
    if args.json:
        print_json({"query": query, "declarations": [row.model_dump(mode="json") for row in rows]})
        return EXIT_OK
    header = [
        "workflow id",
        "number",
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
            row.number or "-",
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


async def cmd_find(args: argparse.Namespace, settings: Settings) -> int:
    """`declaration find NUMBER`: the declaration with that 申报编号, from the record database
    (its number's allocation, then its projection row: no Temporal server needed)."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from store.db import get_engine
    from store.declaration_numbers import numbered_workflow
    from store.tables import DeclarationRow

    if parse_declaration_number(args.number) is None:
        raise bad_input("NUMBER: not a declaration number (like 2026-000123)")
    engine = get_engine(settings.database_url)
    try:
        workflow_id = await numbered_workflow(engine, args.number)
        row = None
        if workflow_id is not None:
            async with engine.connect() as conn:
                row = (
                    await conn.execute(
                        select(DeclarationRow.__table__).where(
                            DeclarationRow.workflow_id == workflow_id
                        )
                    )
                ).first()
    except SQLAlchemyError as exc:
        raise record_errors(settings, exc) from None
    if workflow_id is None:
        raise unavailable(f"no declaration numbered {args.number.strip()} in the record database")
    found = {
        "workflow_id": workflow_id,
        "number": row.number if row is not None and row.number else args.number.strip(),
        "round_year": row.round_year if row is not None else None,
        "stage": row.stage if row is not None else None,
        "level": row.level if row is not None else None,
        "jurisdiction": row.jurisdiction if row is not None else None,
        "return_count": row.return_count if row is not None else None,
        "next_deadline": (
            shanghai_iso(row.next_deadline) if row is not None and row.next_deadline else None
        ),
    }
    if args.json:
        print_json(found)
        return EXIT_OK
    print(workflow_id)
    if row is None:  # numbered, but no transition of it recorded (yet)
        print(f"not recorded yet: see {PROG} declaration state {workflow_id}")
        return EXIT_OK
    print(f"number:        {found['number']}  (round {row.round_year})")
    print(f"stage:         {stage_text(Stage(row.stage))}")
    print(f"level:         {row.level}")
    print(f"jurisdiction:  {row.jurisdiction}")
    print(f"next deadline: {found['next_deadline'] or 'none'}")
    return EXIT_OK


async def cmd_actions(args: argparse.Namespace, settings: Settings) -> int:
    models = action_models()
    described = []
    for action, by_stage in ACTIONS.items():
        model = models[action]
        fields = [
            {"name": name, "type": type_text(info.annotation), "required": info.is_required()}
            for name, info in model.model_fields.items()
            if name != "signature"  # added when it is sent (client/signing.py)
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
    else:
        print_actions(described)
    return EXIT_OK
