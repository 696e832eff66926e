"""Runs the zhicheng worker: every workflow and activity on task queue `zhicheng`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from typing import Any, NoReturn

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.coordination import (
    CoordinationActivities,
    defense_scores,
    prepare_round,
    record_round_event,
    revoke_declaration,
    round_statistics,
)
from activities.db import configure_database, ensure_schema
from activities.delivery import DELIVERY_ACTIVITIES
from activities.notify import queue_notification
from activities.publish import publish_document
from activities.record import record_transition
from settings import Settings, load_settings
from workflows.declaration import DeclarationWorkflow
from workflows.delivery import DeliveryWorkflow
from workflows.round import RoundLauncherWorkflow, RoundWorkflow

WORKFLOWS = [DeclarationWorkflow, RoundWorkflow, RoundLauncherWorkflow, DeliveryWorkflow]
ACTIVITIES = [record_transition, queue_notification, publish_document, *DELIVERY_ACTIVITIES]
# The round's activities (activities/coordination.py); those bound to the client are added
# in build_worker.
ROUND_ACTIVITIES = [
    round_statistics,
    defense_scores,
    revoke_declaration,
    record_round_event,
    prepare_round,
]

# Validation libraries used by the models import parts of themselves lazily; pass them
# through so the sandbox does not re-import them per workflow run.
PASSTHROUGH_MODULES = ("email_validator", "idna", "phonenumbers", "stdnum")

log = logging.getLogger("zhicheng.worker")


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def build_worker(client: Client, task_queue: str) -> Worker:
    """The one place that says what runs on the queue (used by tests and benchmarks too)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[*ACTIVITIES, *ROUND_ACTIVITIES, *client_activities(client)],
        workflow_runner=workflow_runner(),
        graceful_shutdown_timeout=timedelta(seconds=10),  # lets a running record finish
    )


def client_activities(client: Client) -> list[Callable[..., Any]]:
    coordination = CoordinationActivities(client)
    return [coordination.act_on_declarations, coordination.draw_spot_check]


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def build_replayer() -> Replayer:
    """Replays recorded histories against the current workflow code (tests/test_replay.py)."""
    return Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="overrides DATABASE_URL")
    args = parser.parse_args()
    settings = load_settings()
    database_url = args.database_url or settings.database_url
    configure_database(database_url)
    await ensure_schema(database_url)
    client = await connect(settings)
    log.info(
        "worker on %s namespace=%s task_queue=%s database=%s",
        settings.temporal_address,
        settings.temporal_namespace,
        settings.task_queue,
        database_url.split("@")[-1],
    )
    stop = asyncio.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signal_number, stop.set)
    # Leaving the context shuts the worker down gracefully: running activities may finish.
    async with build_worker(client, settings.task_queue):
        await stop.wait()
        log.info("stopping the worker")


def exit_without_finalizing(code: int) -> NoReturn:
    """Leave without interpreter finalization: the Temporal client's Rust threads can abort
    it (SIGABRT, "PyGILState_Release", temporalio/sdk-python#300) after the work is done,
    which would turn a clean exit code into 134."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(BrokenPipeError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main())
    exit_without_finalizing(0)
