"""`outbox list|resend|deliver`: the notification outbox, its delivery by e-mail and WeChat
(delivery/), and sending a message again."""

from __future__ import annotations

import argparse
import asyncio

from cli.common import client_for, no_worker, record_errors, temporal_errors
from cli.exits import EXIT_FAILED, EXIT_OK, bad_input, refused
from cli.output import channel_line, print_json, seconds_iso
from models.delivery import Channel, DeliveryResult, DeliveryStatus, delivery_workflow_id
from settings import Settings

# store.tables.OutboxStatus's values, in its order (`outbox list --status`), here so that the
# parser needs no database library; tests/unit/test_cli.py checks that they agree.
OUTBOX_STATUSES = ("pending", "sent", "failed", "sending", "uncertain", "skipped")


async def cmd_outbox_list(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from delivery.ledger import list_outbox

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
    from sqlalchemy.exc import SQLAlchemyError

    from delivery.dispatch import delivery_input, start_delivery
    from delivery.ledger import ResendRefused, UnknownMessage, prepare_resend

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
    from sqlalchemy.exc import SQLAlchemyError

    from delivery.dispatch import delivery_enabled, delivery_input, off_reason, start_delivery
    from delivery.ledger import pending_keys
    from models.delivery import Channel

    if not delivery_enabled(settings):  # starting deliveries now would only mark them skipped
        reasons = "; ".join(filter(None, (off_reason(channel, settings) for channel in Channel)))
        raise refused(
            "NoChannel",
            f"no delivery channel is configured ({reasons}); nothing was started and the "
            "messages stay pending",
        )
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
