"""The round's coordination activities: list the round's declarations (by search attributes,
or from the record database's projection), act on them a page at a time, read statistics and
defense scores, draw spot-check samples, revoke titles and record the round's own events."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from delivery.dispatch import StartDeliveries
from delivery.outbox import outbox_row, put_in_outbox
from delivery.recipients import Recipients, addressed
from models.common import ENDINGS, LEVEL_NAMES_ZH, Level, Role, Stage
from models.coordination import (
    ACT_ON_DECLARATIONS,
    DEFENSE_SCORES,
    DRAW_SPOT_CHECK,
    EVALUATION_DIGEST,
    PREPARE_ROUND,
    RECORD_ROUND_EVENT,
    REVOKE_DECLARATION,
    ROUND_STATISTICS,
    BatchResult,
    DeclarationBatch,
    DefenseScores,
    DefenseScoresRequest,
    DigestRequest,
    DigestResult,
    PrepareRound,
    RevokeRequest,
    RevokeResult,
    RoundEventRecord,
    SpotCheckDraw,
    SpotCheckSample,
    StatisticsRequest,
    Target,
)
from models.declaration import DeclarationState
from models.records import EVALUATION_BODY_NAME, NotificationEvent, NotificationRequest
from models.round import ListingSource, RoundInput, RoundStatistics
from rules.calendar import CalendarYearUnknown
from rules.identity import round_workflow_id
from rules.spot_check import draw_sample, integrity_blocked_until, population_digest, sample_size
from rules.timezone import shanghai_date, shanghai_iso
from rules.update_ids import coordination_update_id
from settings import DEFAULT_PORTAL_URL, Settings
from store.config_files import InputError, round_input_for
from store.db import insert_unless_exists
from store.tables import (
    AuditEvent,
    DeclarationRow,
    IntegrityArchiveEntry,
    OutboxMessage,
    RoundEvent,
)

UPDATE_TIMEOUT = timedelta(seconds=60)
REPORTED = 20  # failures and skips kept per page


# Signs an update's JSON payload for (workflow id, update name): worker.py passes the bound
# `signed` of client/signing.py's ActorSigner, under the worker's ZHICHENG_ACTOR_SIGNING_KEY.
SignPayload = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


def _stage_clause(stages: Sequence[Stage]) -> str:
    return ", ".join(f"'{Stage(stage).value}'" for stage in stages)


def visibility_listing_query(year: int, stages: Sequence[Stage] | None, open_only: bool) -> str:
    """`RoundYear = Y AND Stage IN (...)`: what the UI's search box takes as well."""
    clauses = ["WorkflowType = 'Declaration'", f"RoundYear = {int(year)}"]
    if stages:
        clauses.append(f"Stage IN ({_stage_clause(stages)})")
    if open_only:
        clauses.append("ExecutionStatus = 'Running'")
    return " AND ".join(clauses)


class CoordinationActivities:
    """The round's activities that act on declarations, built by worker.py with the Temporal
    client (updates, visibility listing), the record database's engine (its listing) and the
    worker's signer: every update the round sends to a declaration carries its actor signed
    (the round's `system`, or the committee's actor of a votes operation the round accepted
    signed), each for its own declaration; the declaration's validator verifies it."""

    def __init__(self, client: Client, engine: AsyncEngine, sign: SignPayload) -> None:
        self._client = client
        self._engine = engine
        self._sign = sign

    # --- listing ---------------------------------------------------------------------

    async def _page(
        self,
        year: int,
        listing: ListingSource,
        stages: Sequence[Stage] | None,
        open_only: bool,
        cursor: str | None,
        page_size: int,
    ) -> tuple[list[str], str | None]:
        if listing is ListingSource.visibility:
            iterator = self._client.list_workflows(
                visibility_listing_query(year, stages, open_only),
                page_size=page_size,
                next_page_token=base64.b64decode(cursor) if cursor else None,
            )
            await iterator.fetch_next_page()
            ids = [execution.id for execution in iterator.current_page or []]
            token = iterator.next_page_token
            return ids, base64.b64encode(token).decode() if token else None
        statement = select(DeclarationRow.workflow_id).where(DeclarationRow.round_year == year)
        if stages:
            statement = statement.where(DeclarationRow.stage.in_([s.value for s in stages]))
        if open_only:
            statement = statement.where(DeclarationRow.stage.not_in([s.value for s in ENDINGS]))
        if cursor:
            statement = statement.where(DeclarationRow.workflow_id > cursor)
        statement = statement.order_by(DeclarationRow.workflow_id).limit(page_size)
        async with self._engine.connect() as conn:
            ids = list((await conn.execute(statement)).scalars())
        return ids, ids[-1] if len(ids) == page_size else None

    # --- acting on a page -------------------------------------------------------------

    @activity.defn(name=ACT_ON_DECLARATIONS)
    async def act_on_declarations(self, batch: DeclarationBatch) -> BatchResult:
        """Send one Declaration update to each declaration of one page. A refusal (wrong
        stage, not applicable, ended) counts as skipped: running a page twice is harmless.
        Each update's id names this page (this activity of this run of the round, which every
        retry of it keeps: rules/update_ids.py) and its declaration, so a retried page applies
        nothing twice and counts what the first attempt did as done."""
        page = activity.info()
        if batch.targets is not None:
            targets, cursor = batch.targets, None
        else:
            ids, cursor = await self._page(
                batch.year,
                batch.listing,
                batch.stages,
                batch.open_only,
                batch.cursor,
                batch.page_size,
            )
            targets = [Target(workflow_id=workflow_id) for workflow_id in ids]
        result = BatchResult(cursor=cursor, listed=len(targets))
        semaphore = asyncio.Semaphore(batch.concurrency)

        async def one(target: Target) -> None:
            async with semaphore:
                outcome, message, state = await self._update(batch, target, page)
            if outcome == "done" and state is not None:
                result.done += 1
                result.outcomes[state.stage.value] = result.outcomes.get(state.stage.value, 0) + 1
                for name, at in state.deadlines.items():
                    if at > result.latest.get(name, ""):
                        result.latest[name] = at
            elif outcome == "skipped":
                result.skipped += 1
                if len(result.skips) < REPORTED:
                    result.skips.append(f"{target.workflow_id}: {message}")
            else:
                result.failed += 1
                if len(result.failures) < REPORTED:
                    result.failures.append(f"{target.workflow_id}: {message}")
            activity.heartbeat(result.done + result.skipped + result.failed)

        await asyncio.gather(*(one(target) for target in targets))
        return result

    async def _update(
        self, batch: DeclarationBatch, target: Target, page: activity.Info
    ) -> tuple[str, str, DeclarationState | None]:
        handle = self._client.get_workflow_handle(target.workflow_id)
        update_id = coordination_update_id(
            page.workflow_id or "",  # the Round's (the SDK allows for activities without one)
            page.workflow_run_id or "",
            page.activity_id,
            target.workflow_id,
            batch.update,
        )
        try:
            async with asyncio.timeout(UPDATE_TIMEOUT.total_seconds()):
                payload = await self._sign(
                    target.workflow_id, batch.update, batch.payload | target.payload
                )
                state = await handle.execute_update(
                    batch.update, payload, id=update_id, result_type=DeclarationState
                )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError):
                return "skipped", f"{cause.type}: {cause.message}", None
            return "failed", str(cause), None
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:  # ended (or never existed)
                return "skipped", f"Ended: {exc.message}", None
            return "failed", f"{exc.status.name}: {exc.message}", None
        except TimeoutError:
            return "failed", f"no answer within {UPDATE_TIMEOUT.total_seconds():g} s", None
        return "done", "", state

    # --- spot checks (R22) ------------------------------------------------------------

    @activity.defn(name=DRAW_SPOT_CHECK)
    async def draw_spot_check(self, draw: SpotCheckDraw) -> SpotCheckSample:
        """Every approved, not revoked declaration of the round; then a sample that anyone
        can redraw from the seed and the sorted population (its SHA-256 is kept)."""
        ids: list[str] = []
        cursor: str | None = None
        while True:
            page, cursor = await self._page(
                draw.year, draw.listing, [Stage.approved], False, cursor, 1000
            )
            ids.extend(page)
            activity.heartbeat(len(ids))
            if cursor is None:
                break
        async with self._engine.connect() as conn:
            revoked = set(
                (
                    await conn.execute(
                        select(IntegrityArchiveEntry.workflow_id).where(
                            IntegrityArchiveEntry.round_year == draw.year
                        )
                    )
                ).scalars()
            )
        population = sorted(set(ids) - revoked)
        count = sample_size(len(population), draw.ratio, draw.minimum)
        return SpotCheckSample(
            population=len(population),
            population_sha256=population_digest(population),
            sample=draw_sample(population, count, draw.seed),
        )


# --- the round's record-database and configuration activities (no client needed) -----------


class RoundActivities:
    """The round's own activities, built by worker.py with the record database's engine, the
    settings (the operator's round files and calendar) and what starts deliveries (the
    revocation notice)."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        start_deliveries: StartDeliveries,
        recipients: Recipients | None = None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._start_deliveries = start_deliveries
        self._recipients = recipients

    @activity.defn(name=ROUND_STATISTICS)
    async def round_statistics(self, request: StatisticsRequest) -> RoundStatistics:
        """Declarations of the round per stage, level and jurisdiction (the projection)."""
        statistics = RoundStatistics(as_of=datetime.now(UTC))
        async with self._engine.connect() as conn:
            for column, into in (
                (DeclarationRow.stage, statistics.by_stage),
                (DeclarationRow.level, statistics.by_level),
                (DeclarationRow.jurisdiction, statistics.by_jurisdiction),
            ):
                rows = await conn.execute(
                    select(column, func.count())
                    .where(DeclarationRow.round_year == request.year)
                    .group_by(column)
                    .order_by(column)
                )
                into.update({str(value): int(count) for value, count in rows})
        statistics.total = sum(statistics.by_stage.values())
        return statistics

    @activity.defn(name=DEFENSE_SCORES)
    async def defense_scores(self, request: DefenseScoresRequest) -> DefenseScores:
        """R19: the on-site defense scores of the round (`record_defense_score` in the audit
        trail; the round is one specialty, R1). The newest score per declaration counts."""
        statement = (
            select(AuditEvent.workflow_id, AuditEvent.seq, AuditEvent.details)
            .join(DeclarationRow, DeclarationRow.workflow_id == AuditEvent.workflow_id)
            .where(DeclarationRow.round_year == request.year)
            .where(AuditEvent.action == "record_defense_score")
            .order_by(AuditEvent.workflow_id, AuditEvent.seq)
        )
        latest: dict[str, float] = {}
        async with self._engine.connect() as conn:
            for workflow_id, _seq, details in await conn.execute(statement):
                score = (details or {}).get("score")
                if isinstance(score, int | float):
                    latest[workflow_id] = float(score)
        scores = [latest[key] for key in sorted(latest)]
        return DefenseScores(count=len(scores), scores=scores)

    @activity.defn(name=REVOKE_DECLARATION)
    async def revoke_declaration(self, request: RevokeRequest) -> RevokeResult:
        """R22 → R8, in one transaction: the audit event, the projection's stage `revoked` and
        the integrity-archive entry. Only an approved declaration of the round can be revoked;
        a second call finds it revoked and changes nothing."""
        blocked_until = integrity_blocked_until(
            shanghai_date(request.revoked_at), request.integrity_years
        )
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(DeclarationRow).where(DeclarationRow.workflow_id == request.workflow_id)
                )
            ).one_or_none()
            if row is None or row.round_year != request.year:
                raise ApplicationError(
                    f"{request.workflow_id}: no declaration of round {request.year} in the record",
                    type="NotFound",
                    non_retryable=True,
                )
            if row.stage == Stage.revoked.value:
                entry = (
                    await conn.execute(
                        select(IntegrityArchiveEntry.blocked_until).where(
                            IntegrityArchiveEntry.workflow_id == request.workflow_id
                        )
                    )
                ).scalar_one_or_none()
                return RevokeResult(
                    workflow_id=row.workflow_id,
                    applicant_key=row.applicant_key,
                    level=row.level,
                    blocked_until=entry or blocked_until,
                    already_revoked=True,
                )
            if row.stage != Stage.approved.value:
                raise ApplicationError(
                    f"{request.workflow_id} is in stage {row.stage}, not approved: only a granted "
                    "title can be revoked (before approval, fraud is an objection, R13/R20)",
                    type="NotApproved",
                    non_retryable=True,
                )
            seq = row.last_seq + 1
            actor = f"{request.actor.role.value}:{request.actor.id}"
            details: dict[str, Any] = {
                "blocked_until": blocked_until.isoformat(),
                "integrity_years": request.integrity_years,
            }
            await insert_unless_exists(
                conn,
                AuditEvent,
                {
                    "workflow_id": row.workflow_id,
                    "seq": seq,
                    "at": request.revoked_at,
                    "actor_role": request.actor.role.value,
                    "actor_id": request.actor.id,
                    "action": "revoke",
                    "from_stage": row.stage,
                    "to_stage": Stage.revoked.value,
                    "reason": request.reason,
                    "details": details,
                },
                ["workflow_id", "seq"],
            )
            await conn.execute(
                update(DeclarationRow)
                .where(DeclarationRow.workflow_id == row.workflow_id)
                .values(stage=Stage.revoked.value, last_seq=seq, updated_at=request.revoked_at)
            )
            await insert_unless_exists(
                conn,
                IntegrityArchiveEntry,
                {
                    "workflow_id": row.workflow_id,
                    "applicant_key": row.applicant_key,
                    "applicant_name": row.applicant_name,
                    "round_year": row.round_year,
                    "level": row.level,
                    "reason": request.reason,
                    "revoked_at": request.revoked_at,
                    "blocked_until": blocked_until,
                    "recorded_by": actor,
                },
                ["workflow_id"],
            )
            notice = await revocation_notice(
                conn, row, seq, request, blocked_until, self._settings.portal_url
            )
            await put_in_outbox(conn, notice)
        await self._start_deliveries([notice["key"]])  # committed: a retry finds it started already
        activity.logger.info("Revoked %s; blocked until %s (R8)", row.workflow_id, blocked_until)
        return RevokeResult(
            workflow_id=row.workflow_id,
            applicant_key=row.applicant_key,
            level=row.level,
            blocked_until=blocked_until,
            already_revoked=False,
        )

    @activity.defn(name=EVALUATION_DIGEST)
    async def queue_evaluation_digest(self, request: DigestRequest) -> DigestResult:
        """The evaluation body's daily digest (blind: counts only): the round's declarations
        that reached it in (since, until] and those with it now. One message per day, keyed
        by the day and dated by its moment; none when nothing arrived."""
        arrivals = (
            select(func.count(func.distinct(AuditEvent.workflow_id)))
            .join(DeclarationRow, DeclarationRow.workflow_id == AuditEvent.workflow_id)
            .where(
                DeclarationRow.round_year == request.year,
                AuditEvent.to_stage == Stage.evaluation_review.value,
                AuditEvent.from_stage != Stage.evaluation_review.value,
                AuditEvent.at > request.since,
                AuditEvent.at <= request.until,
            )
        )
        waiting = select(func.count()).where(
            DeclarationRow.round_year == request.year,
            DeclarationRow.stage == Stage.evaluation_review.value,
        )
        async with self._engine.begin() as conn:
            arrived = int((await conn.execute(arrivals)).scalar_one())
            open_now = int((await conn.execute(waiting)).scalar_one())
            if not arrived:
                return DigestResult(arrived=0, open=open_now, queued=False)
            row = digest_row(
                request, arrived, open_now, self._recipients, self._settings.portal_url
            )
            await put_in_outbox(conn, row)
        await self._start_deliveries([row["key"]])
        return DigestResult(arrived=arrived, open=open_now, queued=True)

    @activity.defn(name=RECORD_ROUND_EVENT)
    async def record_round_event(self, record: RoundEventRecord) -> None:
        """Idempotent by (chain_id, seq)."""
        async with self._engine.begin() as conn:
            await insert_unless_exists(
                conn,
                RoundEvent,
                {
                    "chain_id": record.chain_id,
                    "round_year": record.round_year,
                    "seq": record.seq,
                    "at": record.at,
                    "actor_role": record.actor.role.value,
                    "actor_id": record.actor.id,
                    "action": record.action,
                    "details": record.model_dump(mode="json")["details"],
                },
                ["chain_id", "seq"],
            )

    @activity.defn(name=PREPARE_ROUND)
    async def prepare_round(self, request: PrepareRound) -> RoundInput:
        """The year's round input from configuration (config/rounds/{year}.json, the calendar
        and config/rounds/{year}.committee.json): what the Schedule's launcher starts."""
        try:
            return round_input_for(request.year, self._settings, listing=request.listing)
        except (CalendarYearUnknown, InputError) as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None


def digest_row(
    request: DigestRequest,
    arrived: int,
    open_now: int,
    recipients: Recipients | None,
    portal_url: str = DEFAULT_PORTAL_URL,
) -> dict[str, Any]:
    """The digest's rendered outbox row (docs/delivery.md, "The daily digest")."""
    workflow_id = round_workflow_id(request.year)
    day = shanghai_date(request.until).isoformat()
    event = NotificationEvent.evaluation_digest
    message = NotificationRequest(
        key=f"{workflow_id}/digest/{day}/{event.value}/{Role.evaluation_body.value}",
        workflow_id=workflow_id,
        event=event,
        recipient_role=Role.evaluation_body,
        recipient_name=EVALUATION_BODY_NAME,
        context={
            "round_year": request.year,
            "arrived": arrived,
            "open": open_now,
            "since": shanghai_iso(request.since),
            "until": shanghai_iso(request.until),
            "review_closes_at": shanghai_iso(request.review_closes_at),
        },
    )
    return outbox_row(addressed(message, recipients), portal_url) | {"created_at": request.until}


async def revocation_notice(
    conn: AsyncConnection,
    row: Any,
    seq: int,
    request: RevokeRequest,
    blocked_until: date,
    portal_url: str = DEFAULT_PORTAL_URL,
) -> dict[str, Any]:
    """The `revoked` message to the applicant (rendered outbox row). The declaration's
    workflow has ended, so the addresses are those its last applicant message went to."""
    last = (
        await conn.execute(
            select(OutboxMessage.mobile, OutboxMessage.email, OutboxMessage.context)
            .where(
                OutboxMessage.workflow_id == row.workflow_id,
                OutboxMessage.recipient_role == Role.applicant.value,
            )
            .order_by(OutboxMessage.created_at.desc())
            .limit(1)
        )
    ).first()
    previous = dict(last.context or {}) if last else {}
    return outbox_row(
        NotificationRequest(
            key=f"{row.workflow_id}/{seq}/{NotificationEvent.revoked.value}/applicant",
            workflow_id=row.workflow_id,
            event=NotificationEvent.revoked,
            recipient_role=Role.applicant,
            recipient_name=row.applicant_name,
            mobile=last.mobile if last else None,
            email=last.email if last else None,
            context={
                "applicant_name": row.applicant_name,
                "level_zh": previous.get("level_zh") or LEVEL_NAMES_ZH[Level(row.level)],
                "round_year": row.round_year,
                "declaration_id": row.workflow_id,
                "declaration_number": row.number or row.workflow_id,
                "reason": request.reason,
                "revoked_at": request.revoked_at.isoformat(),
                "blocked_until": blocked_until.isoformat(),
                "integrity_years": request.integrity_years,
            },
        ),
        portal_url,
    )
