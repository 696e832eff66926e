"""Runs the zhicheng worker: every workflow and activity on task queue `zhicheng`, and the
OCR of masked copies on `zhicheng-ocr` (one activity at a time, `build_ocr_worker`).

The composition root: it builds the record database's engine, the publication store and the
activity classes (activities/) from the settings, and registers them with the workflows."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Replayer, Worker, WorkerDeploymentConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.committee import CommitteeActivities
from activities.coordination import CoordinationActivities, RoundActivities
from activities.delivery import DeliveryActivities
from activities.masked_copy import MaskedCopyActivities
from activities.notify import NotificationActivities
from activities.publish import DocumentActivities
from activities.record import RecordActivities
from client.connection import connect as connect  # the portal and bench/floor.py import it here
from client.connection import data_converter, exit_without_finalizing
from client.signing import ActorSigner
from delivery.dispatch import DeliveryStarter
from delivery.recipients import Recipients, RecipientsFileError
from documents.publication import PublicationStore
from documents.render import shutdown_renderer
from rules import actor_keys
from rules.identity import ocr_task_queue
from settings import Settings, load_settings, load_settings_or_exit
from store.db import ensure_schema, get_engine
from workflows.committee import CommitteeSessionWorkflow
from workflows.declaration import DeclarationWorkflow
from workflows.delivery import DeliveryWorkflow
from workflows.masked_copy_check import MaskedCopyCheckWorkflow
from workflows.round import RoundLauncherWorkflow, RoundWorkflow

WORKFLOWS = [
    DeclarationWorkflow,
    RoundWorkflow,
    RoundLauncherWorkflow,
    DeliveryWorkflow,
    MaskedCopyCheckWorkflow,
    CommitteeSessionWorkflow,
]

# Validation libraries used by the models import parts of themselves lazily; pass them
# through so the sandbox does not re-import them per workflow run (pypinyin, which
# rules/blind_review.py uses, reads its dictionaries from files when imported: once, here).
# rules.actor_keys holds the key the update validators verify actors with (installed by
# build_worker): passed through, the sandboxed workflows see this same module, key included
# (why that is deterministic-safe: the module's docstring).
PASSTHROUGH_MODULES = (
    "email_validator",
    "idna",
    "phonenumbers",
    "stdnum",
    "pypinyin",
    "rules.actor_keys",
)

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


async def export_outbox_backlog(
    runtime: Runtime,
    stop: asyncio.Event,
    every: float = 60,
    engine: AsyncEngine | None = None,
) -> None:
    """The outbox backlog as Prometheus gauges beside the SDK's metrics, every minute:
    zhicheng_outbox_messages{status} and zhicheng_outbox_oldest_pending_seconds, read from
    the database of `engine` (None: DATABASE_URL's)."""
    from sqlalchemy import func, select

    from store.tables import OutboxMessage, utcnow

    engine = engine or get_engine()

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
            async with engine.connect() as conn:
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


async def export_calendar_gap(
    runtime: Runtime, stop: asyncio.Event, settings: Settings, every: float = 3600
) -> None:
    """zhicheng_calendar_missing{year}: 1 while the year of the Schedule's next default run
    (Aug 28) has no working-day calendar loaded and the run is within
    ZHICHENG_CALENDAR_WARNING_DAYS (the round would refuse to start), else 0; every hour."""
    from rules.schedule import calendar_warning, next_default_run, round_year_of
    from store.config_files import calendar_year_info

    gauge = runtime.metric_meter.create_gauge(
        "zhicheng_calendar_missing", "1: the next round's year has no working-day calendar"
    )
    while not stop.is_set():
        try:
            now = datetime.now(UTC)
            run = next_default_run(now)
            year = round_year_of(run)
            known = calendar_year_info(year, settings).calendar is not None
            missing = calendar_warning(run, known, now, settings.calendar_warning_days)
            gauge.with_additional_attributes({"year": str(year)}).set(1 if missing else 0)
        except Exception:  # a metric is not worth stopping the worker for
            log.warning("could not check the next round's calendar", exc_info=True)
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


JsonFormatter.converter = time.gmtime


def configure_logging(settings: Settings) -> None:
    """ZHICHENG_LOG_FORMAT: json (one object a line, for a log store) or text; _LOG_LEVEL."""
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)


def build_activities(
    client: Client,
    task_queue: str,
    settings: Settings,
    engine: AsyncEngine,
    publication_dir: Path | None = None,
) -> list[Callable[..., Any]]:
    """Every activity, each class built with what it needs: the record database's `engine`,
    the publication store (`publication_dir`, default the settings'), the settings, the
    client, and what starts the Delivery workflows of committed outbox rows (on this worker's
    client and task queue)."""
    start_deliveries = DeliveryStarter(settings, client, task_queue)
    store = PublicationStore(publication_dir or settings.publication_dir)
    recipients = Recipients(settings.recipients_file)
    recipients.check()  # a bad recipients file stops the worker here, with the reason
    record = RecordActivities(engine, start_deliveries, recipients, settings.portal_url)
    notification = NotificationActivities(engine, start_deliveries, recipients, settings.portal_url)
    documents = DocumentActivities(store, settings, engine)
    delivery = DeliveryActivities(engine, settings)
    signer = ActorSigner.from_settings(settings)  # the round's updates to declarations
    coordination = CoordinationActivities(client, engine, partial(signer.signed, client))
    round_activities = RoundActivities(engine, settings, start_deliveries, recipients)
    committee = CommitteeActivities(
        engine,
        client,
        partial(signer.signed, client),
        start_deliveries,
        settings,
        settings.portal_url,
    )
    return [
        record.record_transition,
        notification.queue_notification,
        documents.publish_document,
        documents.publish_result_list,
        delivery.plan_delivery,
        delivery.deliver_email,
        delivery.deliver_wechat,
        delivery.give_up_delivery,
        coordination.act_on_declarations,
        coordination.draw_spot_check,
        round_activities.round_statistics,
        round_activities.defense_scores,
        round_activities.revoke_declaration,
        round_activities.record_round_event,
        round_activities.prepare_round,
        round_activities.queue_evaluation_digest,
        committee.pool_snapshot,
        committee.notify_experts,
        committee.open_ballot_box,
        committee.close_ballot_box,
        committee.send_session_votes,
        committee.archive_meeting_record,
    ]


def build_worker(
    client: Client,
    task_queue: str,
    deployment: WorkerDeploymentConfig | None = None,
    *,
    settings: Settings | None = None,
    engine: AsyncEngine | None = None,
    publication_dir: Path | None = None,
) -> Worker:
    """The one place that says what runs on the queue (used by tests and benchmarks too).

    `settings`: None reads them from the environment (settings.py); `engine`: None is the
    settings' database; `publication_dir`: None is the settings' publication store.

    Installs the settings' actor-signing key (ZHICHENG_ACTOR_SIGNING_KEY) for the update
    validators (rules/actor_keys.py) before the worker exists, hence before any workflow runs."""
    settings = settings or load_settings()
    actor_keys.install(settings.actor_signing_key.encode("utf-8"))
    engine = engine or get_engine(settings.database_url)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(client, task_queue, settings, engine, publication_dir),
        workflow_runner=workflow_runner(),
        graceful_shutdown_timeout=timedelta(seconds=10),  # lets a running record finish
        deployment_config=deployment,
    )


def build_ocr_activities(
    settings: Settings, engine: AsyncEngine, upload_dir: Path | None = None
) -> list[Callable[..., Any]]:
    """The OCR queue's activities (R11): the masked-copy check, reading the upload store."""
    checks = MaskedCopyActivities(engine, upload_dir or settings.upload_dir)
    return [checks.check_masked_copy]


def build_ocr_worker(
    client: Client,
    task_queue: str,
    *,
    settings: Settings | None = None,
    engine: AsyncEngine | None = None,
    upload_dir: Path | None = None,
) -> Worker:
    """The OCR of masked copies (R11, activities/masked_copy.py) on its own task queue
    (rules.identity.ocr_task_queue of the worker's `task_queue`) with a single activity slot:
    one page is read at a time, and the round's activities and the reviewers' updates on
    `task_queue` never wait for it. No workflows here (MaskedCopyCheck runs on `task_queue`).
    `upload_dir`: None is the settings' upload store."""
    settings = settings or load_settings()
    engine = engine or get_engine(settings.database_url)
    return Worker(
        client,
        task_queue=ocr_task_queue(task_queue),
        activities=build_ocr_activities(settings, engine, upload_dir),
        max_concurrent_activities=1,
        graceful_shutdown_timeout=timedelta(seconds=10),
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


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def build_replayer(settings: Settings | None = None) -> Replayer:
    """Replays recorded histories against the current workflow code
    (tests/replay/test_replay.py), with the project's data converter for `settings` (None:
    from the environment): encrypted payloads and those written before the codec alike."""
    return Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(settings or load_settings()),
        workflow_runner=workflow_runner(),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="overrides DATABASE_URL")
    args = parser.parse_args()
    settings = load_settings_or_exit()  # a bad setting: one line each, exit status 2
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    configure_logging(settings)
    try:
        Recipients(settings.recipients_file).check()
    except RecipientsFileError as exc:  # as a bad setting: one line, exit status 2
        print(f"invalid setting: ZHICHENG_RECIPIENTS: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    database_url = settings.database_url
    await ensure_schema(database_url)  # the migrations (migrations/, alembic upgrade head)
    engine = get_engine(database_url)
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
    backlog = (
        asyncio.create_task(export_outbox_backlog(runtime, stop, engine=engine))
        if runtime
        else None
    )
    calendar_gap = (
        asyncio.create_task(export_calendar_gap(runtime, stop, settings)) if runtime else None
    )
    worker = build_worker(
        client, settings.task_queue, deployment_config(settings), settings=settings, engine=engine
    )
    ocr = build_ocr_worker(client, settings.task_queue, settings=settings, engine=engine)
    # Leaving the context shuts the worker down gracefully: running activities may finish.
    try:
        async with worker, ocr:
            await stop.wait()
            log.info("stopping the worker")
    finally:
        shutdown_renderer()  # the PDF renderer process ends with the worker
    for exporter in (backlog, calendar_gap):
        if exporter is not None:
            await exporter


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(main())
    except SystemExit as exc:  # invalid settings (2), --help
        exit_without_finalizing(exc.code if isinstance(exc.code, int) else 1)
    exit_without_finalizing(0)
