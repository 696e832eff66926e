"""`schedule create|describe|trigger|pause|unpause|delete`: the yearly Schedule that starts
each round."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from temporalio.client import ScheduleAlreadyRunningError
from temporalio.service import RPCError, RPCStatusCode

from cli.common import PROG, Handler, client_for, temporal_errors
from cli.exits import EXIT_OK, refused, unavailable
from cli.output import print_json, print_schedule
from models.round import ListingSource
from settings import Settings

if TYPE_CHECKING:  # client.schedule imports the workflows: only when a command runs
    from client.schedule import ScheduleView


async def cmd_schedule_create(args: argparse.Namespace, settings: Settings) -> int:
    from client.schedule import create_round_schedule, describe_round_schedule

    client = await client_for(settings)
    async with temporal_errors(client, settings):
        try:
            await create_round_schedule(
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
        view = await describe_round_schedule(client, args.id)
    print(f"created schedule {args.id}")
    print_schedule(view)
    return EXIT_OK


async def schedule_call(
    args: argparse.Namespace, settings: Settings, action: str
) -> ScheduleView | None:
    from client.schedule import describe_round_schedule

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
            view = await describe_round_schedule(client, args.id)
            return with_calendar_warning(view, settings)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise unavailable(
                    f"no schedule {args.id!r} (create it: {PROG} schedule create)"
                ) from None
            raise


def with_calendar_warning(view: ScheduleView, settings: Settings) -> ScheduleView:
    """The view with the warning of a next run whose year's calendar is not loaded."""
    from rules.schedule import calendar_warning, round_year_of
    from store.config_files import calendar_year_info

    next_run = datetime.fromisoformat(view.next_runs[0]) if view.next_runs else None
    known = next_run is None or (
        calendar_year_info(round_year_of(next_run), settings).calendar is not None
    )
    warning = calendar_warning(next_run, known, datetime.now(UTC), settings.calendar_warning_days)
    return view.model_copy(update={"calendar_warning": warning})


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
