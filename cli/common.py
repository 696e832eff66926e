"""What the commands share: connecting, turning a failure into one line and an exit code (the
kinds of client/errors.py), reading an action's data, and naming the record database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from cli.exits import EXIT_FOR, CliError, bad_input, refused, unavailable
from client.connection import connect, connect_config
from client.errors import (
    ActionTimeout,
    ArchiveUnavailable,
    Classified,
    ClientConfigError,
    Refusal,
    classify,
    connect_failure_reason,
)
from client.refused import REFUSED_KINDS, Attempt
from settings import Settings
from store.config_files import parse_json_object, read_json_object

PROG = "starter.py"
QUERY_TIMEOUT = timedelta(seconds=10)  # a query needs a worker; don't hang without one
UPDATE_TIMEOUT = timedelta(seconds=30)  # an update waits for its transition to be recorded

Handler = Callable[[argparse.Namespace, Settings], Awaitable[int]]


async def client_for(settings: Settings) -> Client:
    """The Temporal client, or one line: the profile is wrong, the server cannot be reached."""
    try:
        config = connect_config(settings)
    except ClientConfigError as exc:
        raise bad_input(str(exc)) from None
    try:
        return await connect(settings, config=config)
    except RuntimeError as exc:  # the Rust bridge reports every connect failure this way
        raise unavailable(
            f"cannot reach Temporal at {config['target_host']} ({connect_failure_reason(exc)}); "
            "is the server running? (TEMPORAL_ADDRESS)"
        ) from None


# What a Temporal call raises when it did not work (and the client side's own time-out and
# unreadable archive): temporal_errors turns each into its line.
TEMPORAL_FAILURES = (
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowQueryFailedError,
    RPCError,
    ActionTimeout,
    ArchiveUnavailable,
)


# The failures after which an update may still be applied (or already was): the line names
# the request id to repeat it with (docs/operations.md, "Request ids").
UNCERTAIN = frozenset({Refusal.timeout, Refusal.unavailable, Refusal.unrecorded})


@asynccontextmanager
async def temporal_errors(
    client: Client,
    settings: Settings,
    workflow_id: str | None = None,
    *,
    request_id: str | None = None,
) -> AsyncIterator[None]:
    """Turn what the client raises into one line and an exit code; with the `request_id` of
    an update, a line that leaves it uncertain says how to repeat it."""
    try:
        yield
    except TEMPORAL_FAILURES as exc:
        failure = classify(exc)
        error = await cli_error(failure, client, settings, workflow_id)
        if request_id is not None and failure.kind in UNCERTAIN:
            error = CliError(f"{error.line}; {repeat_hint(request_id)}", error.code)
        raise error from None


def repeat_hint(request_id: str) -> str:
    return f"to repeat it safely (applied once): --request-id {request_id}"


@contextmanager
def request_id_told(request_id: str) -> Iterator[None]:
    """Around sending an update: on success, the request id on stderr (one line, stdout keeps
    the result); interrupted (Ctrl-C) while it was in flight, the id to repeat it with."""
    try:
        yield
    except (asyncio.CancelledError, KeyboardInterrupt):
        print(f"request id: {request_id} ({repeat_hint(request_id)})", file=sys.stderr)
        raise
    print(f"request id: {request_id}", file=sys.stderr)


async def cli_error(
    failure: Classified, client: Client, settings: Settings, workflow_id: str | None = None
) -> CliError:
    """The line for a classified failure; its exit code is EXIT_FOR[kind]."""
    code = EXIT_FOR[failure.kind]
    message, reason = failure.message, failure.reason
    address, namespace = client.service_client.config.target_host, client.namespace
    match failure.kind:
        case Refusal.refused | Refusal.conflict:
            return refused(reason or "Refused", message)
        case Refusal.ended:
            return refused("Ended", f"{workflow_id} has ended; it takes no more actions")
        case Refusal.invalid_input:
            return bad_input(message)
        case Refusal.not_found:
            return unavailable(f"no declaration {workflow_id!r} in namespace {namespace!r}")
        case Refusal.no_namespace:
            return unavailable(
                f"namespace {namespace!r} not found at {address} (TEMPORAL_NAMESPACE)"
            )
        case Refusal.unavailable if reason == "ConnectFailed":
            return unavailable(
                f"cannot reach Temporal at {address} ({message}); "
                "is the server running? (TEMPORAL_ADDRESS)"
            )
        case Refusal.unavailable if reason == "ArchiveUnavailable":
            return unavailable(message)
        case Refusal.unavailable:
            return unavailable(f"lost Temporal at {address}: {message}")
        case Refusal.timeout if reason == "ActionTimeout":
            what = f"{message} (it may still be applied when one picks it up)"
            return await no_worker(client, settings, workflow_id, what)
        case Refusal.timeout:
            return await no_worker(client, settings, workflow_id)
        case Refusal.unrecorded:
            return unavailable(
                f"{message}: it will complete once recorded (is the database up?); "
                f"check with: {PROG} declaration state {workflow_id}"
            )
    if reason == "QueryFailed":
        return CliError(f"error: {workflow_id}: the state query failed: {message}", code)
    if reason == "UpdateFailed":
        return CliError(f"error: {workflow_id}: the update failed: {message}", code)
    if reason is not None:  # an RPC status
        return CliError(f"error: Temporal said {reason}: {message}", code)
    return CliError(f"error: {message}", code)


async def no_worker(
    client: Client, settings: Settings, workflow_id: str | None, what: str | None = None
) -> CliError:
    """Name the task queue the workflow actually runs on, which may not be ours."""
    what = what or f"{workflow_id}: no worker answered"
    task_queue = settings.task_queue
    if workflow_id is not None:
        with suppress(RPCError):
            task_queue = (await client.get_workflow_handle(workflow_id).describe()).task_queue
    address = client.service_client.config.target_host
    return unavailable(f"{what}: is worker.py running on task queue {task_queue!r} at {address}?")


async def note_refused(settings: Settings, attempt: Attempt, failure: BaseException) -> None:
    """Put the operator's refused action on the record (client/refused.py: only if `failure`
    is a refusal) in the record database, DATABASE_URL's (its schema brought up to date
    first, as the other commands that write it do). A database that cannot be written is one
    warning; the refusal's own line and exit code stay as they are."""
    from client.refused import note_refusal
    from store.db import ensure_schema, get_engine

    if classify(failure).kind not in REFUSED_KINDS:
        return
    with suppress(Exception):  # note_refusal says so if the row cannot be written
        await ensure_schema(settings.database_url)
    await note_refusal(get_engine(settings.database_url), attempt, failure)


def read_action_data(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """An action's data (--data or --data-file) and where it came from, for error lines."""
    if args.data_file is not None:
        return read_json_object(Path(args.data_file), args.data_file), args.data_file
    if args.data is not None:
        return parse_json_object(args.data, "--data"), "--data"
    return {}, f"{args.action} needs data (give it with --data or --data-file)"


def record_errors(settings: Settings, exc: Exception, url: str | None = None) -> CliError:
    """The record database (`url`, else DATABASE_URL's) could not be read: one line that names
    it (without a password)."""
    from sqlalchemy.engine import make_url

    url = make_url(url or settings.database_url).render_as_string(hide_password=True)
    cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    hint = "; the worker creates the tables when it starts" if "no such table" in cause else ""
    return unavailable(f"cannot read the record database {url} (DATABASE_URL): {cause}{hint}")
