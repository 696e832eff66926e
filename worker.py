"""Runs the zhicheng worker: every workflow and activity on task queue `zhicheng`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from typing import Any, NoReturn

from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Replayer, Worker, WorkerDeploymentConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.coordination import (
    CoordinationActivities,
    defense_scores,
    prepare_round,
    record_round_event,
    revoke_declaration,
    round_statistics,
)
from activities.delivery import DELIVERY_ACTIVITIES
from activities.notify import queue_notification
from activities.publish import publish_document, publish_result_list
from activities.record import record_transition
from client.connection import connect as connect  # the portal and bench/floor.py import it here
from settings import Settings, load_settings_or_exit
from store.db import configure_database, ensure_schema
from workflows.declaration import DeclarationWorkflow
from workflows.delivery import DeliveryWorkflow
from workflows.round import RoundLauncherWorkflow, RoundWorkflow

WORKFLOWS = [DeclarationWorkflow, RoundWorkflow, RoundLauncherWorkflow, DeliveryWorkflow]
ACTIVITIES = [
    record_transition,
    queue_notification,
    publish_document,
    publish_result_list,
    *DELIVERY_ACTIVITIES,
]
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


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime exporting the SDK's metrics on a Prometheus endpoint
    (ZHICHENG_METRICS_ADDRESS, e.g. 0.0.0.0:9464; README "Production stack"); None: off."""
    if not settings.metrics_address:
        return None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=settings.metrics_address),
            global_tags={"service": "zhicheng-worker", "task_queue": settings.task_queue},
        )
    )


OUTBOX_WATCHED = ("pending", "sending", "uncertain", "failed")  # store.tables.OutboxStatus


async def export_outbox_backlog(runtime: Runtime, stop: asyncio.Event, every: float = 60) -> None:
    """The outbox backlog as Prometheus gauges beside the SDK's metrics, every minute:
    zhicheng_outbox_messages{status} and zhicheng_outbox_oldest_pending_seconds."""
    from sqlalchemy import func, select

    from store.db import get_engine
    from store.tables import OutboxMessage, utcnow

    meter = runtime.metric_meter
    messages = meter.create_gauge("zhicheng_outbox_messages", "outbox messages by status")
    oldest = meter.create_gauge(
        "zhicheng_outbox_oldest_pending_seconds", "age of the oldest pending message", "s"
    )
    query = (
        select(OutboxMessage.status, func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status.in_(OUTBOX_WATCHED))
        .group_by(OutboxMessage.status)
    )
    while not stop.is_set():
        try:
            async with get_engine().connect() as conn:
                rows = {
                    status: (count, first) for status, count, first in await conn.execute(query)
                }
            for status in OUTBOX_WATCHED:
                count = rows.get(status, (0, None))[0]
                messages.with_additional_attributes({"status": status}).set(int(count))
            first = rows.get("pending", (0, None))[1]
            age = (utcnow() - first).total_seconds() if first is not None else 0
            oldest.set(max(0, int(age)))
        except Exception:  # a metric is not worth stopping the worker for
            log.warning("could not read the outbox backlog", exc_info=True)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and what the Temporal SDK's
    workflow and activity loggers attach (workflow id, type, run, activity, attempt), plus a
    `stage` or any other `extra=` field a caller gives."""

    _STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in self._STANDARD or key.startswith("_"):
                continue
            if key in ("temporal_workflow", "temporal_activity") and isinstance(value, dict):
                for name, item in value.items():  # workflow_id, workflow_type, run_id, ...
                    entry.setdefault(name, item)
            else:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


JsonFormatter.converter = time.gmtime  # type: ignore[assignment]


def configure_logging(settings: Settings) -> None:
    """ZHICHENG_LOG_FORMAT: json (one object a line, for a log store) or text; _LOG_LEVEL."""
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)


def build_worker(
    client: Client, task_queue: str, deployment: WorkerDeploymentConfig | None = None
) -> Worker:
    """The one place that says what runs on the queue (used by tests and benchmarks too)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[*ACTIVITIES, *ROUND_ACTIVITIES, *client_activities(client)],
        workflow_runner=workflow_runner(),
        graceful_shutdown_timeout=timedelta(seconds=10),  # lets a running record finish
        deployment_config=deployment,
    )


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """Worker versioning from ZHICHENG_WORKER_DEPLOYMENT / _BUILD_ID / _VERSIONING_BEHAVIOR
    (docs/deployment.md); None: an unversioned worker."""
    if not settings.worker_deployment:
        return None
    behavior = {
        "auto_upgrade": VersioningBehavior.AUTO_UPGRADE,
        "pinned": VersioningBehavior.PINNED,
    }[settings.worker_versioning_behavior]
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(
            deployment_name=settings.worker_deployment, build_id=settings.worker_build_id
        ),
        use_worker_versioning=True,
        default_versioning_behavior=behavior,
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
    settings = load_settings_or_exit()  # a bad setting: one line each, exit status 2
    configure_logging(settings)
    database_url = args.database_url or settings.database_url
    configure_database(database_url)
    await ensure_schema(database_url)  # the migrations (migrations/, alembic upgrade head)
    runtime = metrics_runtime(settings)
    client = await connect(settings, runtime)
    if settings.metrics_address:
        log.info("Prometheus metrics on http://%s/metrics", settings.metrics_address)
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
    backlog = asyncio.create_task(export_outbox_backlog(runtime, stop)) if runtime else None
    # Leaving the context shuts the worker down gracefully: running activities may finish.
    async with build_worker(client, settings.task_queue, deployment_config(settings)):
        await stop.wait()
        log.info("stopping the worker")
    if backlog is not None:
        await backlog


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
    try:
        asyncio.run(main())
    except SystemExit as exc:  # invalid settings (2), --help
        exit_without_finalizing(exc.code if isinstance(exc.code, int) else 1)
    exit_without_finalizing(0)
