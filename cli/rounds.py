"""`round plan|try-out|start|state|act`: a round's key dates (no server needed), a round file
to try the system outside September, and the Round workflow `round-{year}`."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from temporalio.exceptions import WorkflowAlreadyStartedError

from cli.common import (
    PROG,
    QUERY_TIMEOUT,
    TEMPORAL_FAILURES,
    client_for,
    note_refused,
    read_action_data,
    record_errors,
    request_id_told,
    temporal_errors,
)
from cli.exits import EXIT_FAILED, EXIT_OK, bad_input, refused
from cli.output import print_figures, print_json, print_plan, print_round, round_result_lines
from client.inputs import ROUND_UPDATES, round_action_payload
from client.refused import Attempt
from client.signing import ActorSigner
from models.common import Role
from models.round import ListingSource, OperationStatus
from models.statistics import Dimension
from models.validation import unknown_name
from rules.identity import round_workflow_id
from rules.round_plan import plan_round, try_out_round_dates
from rules.timezone import SHANGHAI
from rules.update_ids import cli_update_id, new_request_id
from settings import Settings
from store.config_files import InputError, round_config_for, round_config_path, round_input_for


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
    print_plan(plan, config, source, settings)
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


async def cmd_round_start(args: argparse.Namespace, settings: Settings) -> int:
    from client.rounds import start_round
    from workflows.round import round_summary

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
            handle = await start_round(client, round_input, settings.task_queue)
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
    from client.rounds import round_state

    client = await client_for(settings)
    workflow_id = round_workflow_id(args.year)
    async with temporal_errors(client, settings, workflow_id):
        state = await round_state(client, args.year, rpc_timeout=QUERY_TIMEOUT)
    if args.json:
        print_json(state)
    else:
        print_round(state)
    return EXIT_OK


async def cmd_round_stats(args: argparse.Namespace, settings: Settings) -> int:
    """The round's figures from the record database (DATABASE_URL): no Temporal needed."""
    from sqlalchemy.exc import SQLAlchemyError

    from client.declarations import record_engine
    from store.db import dispose_engines
    from store.statistics import round_statistics

    try:
        figures = await round_statistics(await record_engine(), args.year, datetime.now(UTC))
    except SQLAlchemyError as exc:
        raise record_errors(settings, exc) from None
    finally:
        await dispose_engines()
    if args.json:
        print_json(figures)
    else:
        print_figures(figures, Dimension(args.by))
    return EXIT_OK


async def cmd_round_export(args: argparse.Namespace, settings: Settings) -> int:
    """The roster (花名册) or the figures as .xlsx or .csv; each export recorded."""
    import getpass
    from pathlib import Path as FilePath

    from sqlalchemy.exc import SQLAlchemyError

    from client.declarations import record_engine
    from client.exports import export_figures, export_roster
    from documents.spreadsheets import SheetKind
    from models.common import Actor
    from store.db import dispose_engines

    out = FilePath(args.out)
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in SheetKind.__members__:
        raise bad_input(f"--out {out}: a .xlsx or .csv file")
    kind = SheetKind(suffix)
    actor = Actor(role=Role.supervisor, id=f"cli:{args.actor_id or getpass.getuser()}")
    try:
        engine = await record_engine()
        if args.what == "roster":
            data, count = await export_roster(
                engine, actor, args.year, kind, stage=args.stage, employer_uscc=args.employer,
                identities=True,
            )  # fmt: skip
        else:
            data = await export_figures(engine, actor, args.year, kind, Dimension(args.by))
            count = None
    except SQLAlchemyError as exc:
        raise record_errors(settings, exc) from None
    finally:
        await dispose_engines()
    out.write_bytes(data)
    said = f", {count} declarations" if count is not None else ""
    print(f"{out} ({args.what} of round {args.year}{said}; the export is recorded)")
    return EXIT_OK


async def cmd_round_act(args: argparse.Namespace, settings: Settings) -> int:
    from client.rounds import round_act, wait_for_operation

    if args.action not in ROUND_UPDATES:
        raise bad_input(unknown_name("round action", args.action, ROUND_UPDATES))
    workflow_id = round_workflow_id(args.year)
    attempt = Attempt("cli", workflow_id, args.action, args.role, args.actor_id)
    try:
        data, where = read_action_data(args)
    except InputError as exc:  # --data or --data-file: not a JSON object
        await note_refused(settings, attempt, exc)
        raise
    if not data and where.endswith("(give it with --data or --data-file)"):
        where = "--data"
    try:
        payload = round_action_payload(args.action, Role(args.role), args.actor_id, data)
    except InputError as exc:
        await note_refused(settings, attempt, exc)
        raise bad_input(f"{where}: {exc}") from None
    # a fresh request id, or the operator's to repeat one: the same id is applied once
    request_id = args.request_id or new_request_id()
    update_id = cli_update_id(f"{args.role}:{args.actor_id}", workflow_id, args.action, request_id)
    client = await client_for(settings)
    async with temporal_errors(client, settings, workflow_id, request_id=request_id):
        signer = ActorSigner.from_settings(settings)  # for the operator who runs it
        try:
            with request_id_told(request_id):
                result = await round_act(
                    client, args.year, args.action, payload, signer=signer, update_id=update_id
                )
        except TEMPORAL_FAILURES as exc:
            await note_refused(settings, attempt, exc)  # if it is a refusal (client/refused.py)
            raise
        operation_id = result.get("operation_id") if isinstance(result, dict) else None
        if args.wait and operation_id is not None:
            operation = await wait_for_operation(client, args.year, operation_id)
            result = operation.model_dump(mode="json")
    if args.json:
        print_json(result)
    else:
        for line in round_result_lines(args.action, result):
            print(line)
    status = result.get("status") if isinstance(result, dict) else None
    return EXIT_FAILED if status == OperationStatus.failed.value else EXIT_OK
