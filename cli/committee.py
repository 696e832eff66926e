"""`committee draw|state|list|act|record`: the committee sessions of a round (workflows/
committee.py, R20, R27) from the command line, as the portal's supervisor and secretary pages
do them. Ballots are not cast here: each member casts their own, secretly, in the portal."""

from __future__ import annotations

import argparse
import asyncio
import shutil
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError
from temporalio.exceptions import WorkflowAlreadyStartedError

from cli.common import (
    PROG,
    QUERY_TIMEOUT,
    TEMPORAL_FAILURES,
    client_for,
    note_refused,
    read_action_data,
    request_id_told,
    temporal_errors,
)
from cli.exits import EXIT_OK, bad_input, refused
from cli.output import print_json, table
from client.inputs import PayloadInvalid, session_action_payload
from client.refused import Attempt
from client.signing import ActorSigner
from models.committee import SessionInput, SessionState, SessionStatus
from models.common import Actor, Role
from models.validation import strictly
from rules.identity import committee_session_workflow_id
from rules.update_ids import cli_update_id, new_request_id
from settings import Settings
from store.config_files import InputError, read_json_object

DRAW_WAIT_SECONDS = 60


def print_session(state: SessionState) -> None:
    print(f"{state.workflow_id}  {state.committee_name}  status {state.status.value}")
    if state.error:
        print(f"error: {state.error}")
    if state.seed is not None:
        print(
            f"draw: seed {state.seed}, pool {state.pool_size} experts, sha256 {state.pool_sha256}"
        )
    print(
        f"seats: {len(state.members)} of {state.members_wanted} held, "
        f"{len(state.signed_in)} signed in, {state.required_attendance} needed (R20)"
    )
    rows = [
        [
            str(seat.position),
            seat.code,
            seat.kind.value + (f" (for {seat.replaces})" if seat.replaces else ""),
            seat.response.value,
            "signed in" if seat.signed_in_at else "",
        ]
        for seat in state.seats
    ]
    for line in table(rows, "  "):
        print(line)
    for recusal in state.recusals:
        print(f"recusal: {recusal.code} on {recusal.workflow_id} ({recusal.reason.value})")
    for tally in state.tallies:
        result = (
            "not voted: too few non-recused attendees"
            if not tally.voted
            else ("passed" if tally.passed else "not passed")
        )
        print(
            f"tally {tally.workflow_id}: {tally.yes} yes, {tally.no} no, {tally.abstain} "
            f"abstain, {tally.not_cast} not cast of {tally.eligible}; {result}"
        )
    if state.record_file:
        print(f"meeting record: {state.record_file} ({PROG} committee record)")


async def cmd_committee_draw(args: argparse.Namespace, settings: Settings) -> int:
    from client.committee import session_state, start_session
    from client.declarations import record_engine
    from client.rounds import running_round_config
    from store.db import dispose_engines

    declarations = None
    if args.declarations_file:
        data = read_json_object(Path(args.declarations_file), args.declarations_file)
        declarations = data.get("declarations")
    client = await client_for(settings)
    async with temporal_errors(client, settings):
        config = await running_round_config(client, args.year)
    if config is None:
        raise refused("Ended", f"round {args.year} is not running ({PROG} round state {args.year})")
    fields = {
        "year": args.year,
        "session_id": args.session_id,
        "members": args.members,
        "alternates": args.alternates,
        "minimum_members": config.committee_minimum_members,
        "quorum_ratio": config.quorum_ratio.model_dump(),
        "pass_ratio": config.pass_ratio.model_dump(),
        "specialty": args.specialty,
        "declarations": declarations,
        "held_at": args.held_at,
        "place": args.place,
        "listing": args.listing,
        "requested_by": Actor(role=Role.supervisor, id=args.actor_id).model_dump(),
    }
    try:
        session = strictly(SessionInput, {k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise bad_input(str(PayloadInvalid(exc))) from None
    engine = await record_engine()
    workflow_id = committee_session_workflow_id(args.year, args.session_id)
    try:
        async with temporal_errors(client, settings, workflow_id):
            try:
                await start_session(client, engine, session, settings.task_queue)
            except WorkflowAlreadyStartedError:
                raise refused(
                    "AlreadyStarted",
                    f"{workflow_id} exists already ({PROG} committee state {args.year} "
                    f"{args.session_id})",
                ) from None
            state = await session_state(client, workflow_id)
            for _ in range(DRAW_WAIT_SECONDS * 10):
                if state.status is not SessionStatus.drawing:
                    break
                await asyncio.sleep(0.1)
                state = await session_state(client, workflow_id)
    finally:
        await dispose_engines()
    if args.json:
        print_json(state)
    else:
        print_session(state)
    return EXIT_OK


async def cmd_committee_state(args: argparse.Namespace, settings: Settings) -> int:
    from client.committee import session_state

    client = await client_for(settings)
    workflow_id = committee_session_workflow_id(args.year, args.session_id)
    async with temporal_errors(client, settings, workflow_id):
        state = await asyncio.wait_for(
            session_state(client, workflow_id), QUERY_TIMEOUT.total_seconds()
        )
    if args.json:
        print_json(state)
    else:
        print_session(state)
    return EXIT_OK


async def cmd_committee_list(args: argparse.Namespace, settings: Settings) -> int:
    from client.committee import round_sessions
    from client.declarations import record_engine
    from store.db import dispose_engines

    client = await client_for(settings)
    try:
        async with temporal_errors(client, settings):
            sessions = await round_sessions(client, await record_engine(), args.year)
    finally:
        await dispose_engines()
    if args.json:
        print_json([s.model_dump(mode="json") for s in sessions])
        return EXIT_OK
    rows = [
        [s.workflow_id, s.status.value, f"{len(s.signed_in)}/{len(s.members)} signed in"]
        for s in sessions
    ]
    for line in table(rows) if rows else [f"no committee session in round {args.year}"]:
        print(line)
    return EXIT_OK


async def cmd_committee_act(args: argparse.Namespace, settings: Settings) -> int:
    from client.committee import session_act

    workflow_id = committee_session_workflow_id(args.year, args.session_id)
    attempt = Attempt("cli", workflow_id, args.action, args.role, args.actor_id)
    try:
        data, where = read_action_data(args)
    except InputError as exc:
        await note_refused(settings, attempt, exc)
        raise
    try:
        payload = session_action_payload(args.action, Role(args.role), args.actor_id, data)
    except InputError as exc:
        await note_refused(settings, attempt, exc)
        where = "--data" if where.endswith("--data-file)") else where
        raise bad_input(f"{where}: {exc}") from None
    request_id = args.request_id or new_request_id()
    update_id = cli_update_id(f"{args.role}:{args.actor_id}", workflow_id, args.action, request_id)
    client = await client_for(settings)
    async with temporal_errors(client, settings, workflow_id, request_id=request_id):
        try:
            with request_id_told(request_id):
                state = await session_act(
                    client,
                    workflow_id,
                    args.action,
                    payload,
                    signer=ActorSigner.from_settings(settings),
                    update_id=update_id,
                )
        except TEMPORAL_FAILURES as exc:
            await note_refused(settings, attempt, exc)
            raise
    if args.json:
        print_json(state)
    else:
        print_session(state)
    return EXIT_OK


async def cmd_committee_record(args: argparse.Namespace, settings: Settings) -> int:
    from client.committee import session_state

    client = await client_for(settings)
    workflow_id = committee_session_workflow_id(args.year, args.session_id)
    async with temporal_errors(client, settings, workflow_id):
        state = await session_state(client, workflow_id)
    if state.record_file is None:
        raise refused(
            "WrongStage", f"{workflow_id} has no meeting record yet (status {state.status.value})"
        )
    source = settings.archive_dir / state.record_file
    target = Path(args.out) if args.out else Path.cwd() / state.record_file
    shutil.copyfile(source, target)
    print(f"{target} ({datetime.now().astimezone():%Y-%m-%d %H:%M %z})")
    return EXIT_OK
