"""Every activity the workflows call, by name, with its timeout and retry policy: the one
place that says how long an activity may take and how often it is tried.

The workflows import no activity code: each helper here calls its activity by the name
models/ gives it, with the argument and result types the activity has (activities/ holds the
implementations, which worker.py registers under the same names). Names and arguments are in
recorded histories, so they never change (tests/replay/test_replay.py).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.committee import (
        ARCHIVE_MEETING_RECORD,
        CLOSE_BALLOT_BOX,
        NOTIFY_EXPERTS,
        OPEN_BALLOT_BOX,
        POOL_SNAPSHOT,
        SEND_SESSION_VOTES,
        BallotRegister,
        BoxCounts,
        ExpertNotices,
        MeetingRecordRequest,
        PoolSnapshot,
        PoolSnapshotRequest,
        SessionVotes,
        SessionVotesSent,
    )
    from models.coordination import (
        ACT_ON_DECLARATIONS,
        DEFENSE_SCORES,
        DRAW_SPOT_CHECK,
        EVALUATION_DIGEST,
        PREPARE_ROUND,
        PUBLISH_RESULT_LIST,
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
        ResultListRequest,
        RevokeRequest,
        RevokeResult,
        RoundEventRecord,
        SpotCheckDraw,
        SpotCheckSample,
        StatisticsRequest,
    )
    from models.declaration import MaskedCopyCheckInput
    from models.delivery import (
        GIVE_UP_DELIVERY,
        PLAN_DELIVERY,
        SEND_ACTIVITY,
        Channel,
        ChannelOutcome,
        ChannelRequest,
        DeliveryInput,
        DeliveryPlan,
        GiveUpRequest,
        PlanRequest,
    )
    from models.documents import (
        NON_RETRYABLE_ERRORS,
        PUBLISH_DOCUMENT,
        PublishedDocument,
        PublishRequest,
    )
    from models.masked_check import CHECK_MASKED_COPY, MaskedCheck
    from models.records import RECORD_TRANSITION, TransitionRecord
    from models.round import RoundInput, RoundStatistics

# --- policies --------------------------------------------------------------------------------

# A write to the record database must eventually succeed: an outage delays a transition, a
# round event or a delivery's record, never loses it.
RECORD_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
# A transition's record (and its outbox rows) and a delivery's ledger: a few milliseconds.
RECORD_TIMEOUT = timedelta(seconds=30)
# The round's own reads and writes of the record database.
ROUND_TIMEOUT = timedelta(minutes=1)

# One page of a round operation (up to 1000 updates, or a spot check's listing). Bounded: a
# page that keeps failing fails its operation, which the round shows (a rerun is safe).
PAGE_TIMEOUT = timedelta(minutes=10)
PAGE_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=5)

# The year's round input from the operator's files: a missing or broken file is non-retryable;
# anything else gets three attempts.
PREPARE_RETRY = RetryPolicy(maximum_attempts=3)

# Documents (R21, R23). Bounded, because a person must act: a missing font, a full disk or a
# database outage gets 10 attempts over about 40 minutes; a broken template or a conflicting
# published file fails at once. Either way the workflow goes on and shows the error (the
# activity records it in document_publications; `starter.py documents retry KEY`).
PUBLISH_TIMEOUT = timedelta(minutes=2)
PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=10,
    non_retryable_error_types=list(NON_RETRYABLE_ERRORS),
)


def send_retry(request: DeliveryInput) -> RetryPolicy:
    """A channel's sending (R16): exponential backoff between the delivery's own bounds, until
    its `give_up_after` (the schedule-to-close timeout) is over."""
    return RetryPolicy(
        initial_interval=request.retry_initial,
        backoff_coefficient=2.0,
        maximum_interval=request.retry_maximum,
    )


# --- the declaration (workflows/declaration.py) -----------------------------------------------


async def record_transition(record: TransitionRecord, *, locally: bool) -> None:
    """The transition's audit event, projection and notifications, in one transaction (R16).

    `locally` (patches.RECORD_LOCALLY): as a local activity, in the worker that decided the
    transition and in the same workflow task; it is idempotent, so the re-run a local activity
    may get after a worker crash writes nothing twice."""
    if locally:
        await workflow.execute_local_activity(
            RECORD_TRANSITION,
            record,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
    else:
        await workflow.execute_activity(
            RECORD_TRANSITION,
            record,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )


async def publish_document(request: PublishRequest) -> PublishedDocument:
    """Render and publish one document (R21, R23); publishing it again returns the first."""
    return await workflow.execute_activity(
        PUBLISH_DOCUMENT,
        request,
        result_type=PublishedDocument,
        start_to_close_timeout=PUBLISH_TIMEOUT,
        retry_policy=PUBLISH_RETRY,
    )


# --- the round (workflows/round.py) -----------------------------------------------------------


async def publish_result_list(request: ResultListRequest) -> PublishedDocument | None:
    """R20: a committee batch's result-publicity list; None when nobody in it passed."""
    return await workflow.execute_activity(
        PUBLISH_RESULT_LIST,
        request,
        result_type=PublishedDocument,
        start_to_close_timeout=PUBLISH_TIMEOUT,
        retry_policy=PUBLISH_RETRY,
    )


async def round_statistics(request: StatisticsRequest) -> RoundStatistics:
    return await workflow.execute_activity(
        ROUND_STATISTICS,
        request,
        result_type=RoundStatistics,
        start_to_close_timeout=ROUND_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def queue_evaluation_digest(request: DigestRequest) -> DigestResult:
    """The evaluation body's daily digest into the outbox (once per day: its key)."""
    return await workflow.execute_activity(
        EVALUATION_DIGEST,
        request,
        result_type=DigestResult,
        start_to_close_timeout=ROUND_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def record_round_event(record: RoundEventRecord) -> None:
    await workflow.execute_activity(
        RECORD_ROUND_EVENT,
        record,
        start_to_close_timeout=ROUND_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def defense_scores(request: DefenseScoresRequest) -> DefenseScores:
    """R19: the round's on-site defense scores."""
    return await workflow.execute_activity(
        DEFENSE_SCORES,
        request,
        result_type=DefenseScores,
        start_to_close_timeout=ROUND_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def revoke_declaration(request: RevokeRequest) -> RevokeResult:
    """R22 → R8: revoke an approved declaration's title and archive it."""
    return await workflow.execute_activity(
        REVOKE_DECLARATION,
        request,
        result_type=RevokeResult,
        start_to_close_timeout=ROUND_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def act_on_declarations(batch: DeclarationBatch) -> BatchResult:
    """One page of a round operation: one Declaration update to each declaration listed."""
    return await workflow.execute_activity(
        ACT_ON_DECLARATIONS,
        batch,
        result_type=BatchResult,
        start_to_close_timeout=PAGE_TIMEOUT,
        retry_policy=PAGE_RETRY,
    )


async def draw_spot_check(draw: SpotCheckDraw) -> SpotCheckSample:
    """R22: the approved population and the sample drawn from the seed."""
    return await workflow.execute_activity(
        DRAW_SPOT_CHECK,
        draw,
        result_type=SpotCheckSample,
        start_to_close_timeout=PAGE_TIMEOUT,
        retry_policy=PAGE_RETRY,
    )


async def prepare_round(request: PrepareRound) -> RoundInput:
    """The year's round input from the operator's files (RoundLauncher)."""
    return await workflow.execute_activity(
        PREPARE_ROUND,
        request,
        result_type=RoundInput,
        start_to_close_timeout=ROUND_TIMEOUT,
        retry_policy=PREPARE_RETRY,
    )


# --- the delivery (workflows/delivery.py) -----------------------------------------------------


async def plan_delivery(request: PlanRequest) -> DeliveryPlan:
    return await workflow.execute_activity(
        PLAN_DELIVERY,
        request,
        result_type=DeliveryPlan,
        start_to_close_timeout=RECORD_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def send(delivery: DeliveryInput, channel: Channel) -> ChannelOutcome:
    """One channel's attempts, each within the delivery's `attempt_timeout`, until its
    answer is final or `give_up_after` is over (then ActivityError)."""
    return await workflow.execute_activity(
        SEND_ACTIVITY[channel],
        ChannelRequest(key=delivery.key, channel=channel),
        result_type=ChannelOutcome,
        start_to_close_timeout=delivery.attempt_timeout,
        schedule_to_close_timeout=delivery.give_up_after,
        retry_policy=send_retry(delivery),
    )


async def give_up_delivery(request: GiveUpRequest) -> ChannelOutcome:
    return await workflow.execute_activity(
        GIVE_UP_DELIVERY,
        request,
        result_type=ChannelOutcome,
        start_to_close_timeout=RECORD_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


# --- the masked-copy check (workflows/masked_copy_check.py) -----------------------------------

# OCR of a page takes seconds; a copy has at most 50 pages (portal/uploads.py MAX_PAGES). The
# heartbeat carries the pages read, so a retry resumes after the last one; a worker that
# dies is noticed within the heartbeat timeout. Retried without end, backing off: a missing
# tesseract keeps the check pending (shown), and it goes on once installed
# (docs/operations.md, "A masked-copy check that does not finish").
OCR_TIMEOUT = timedelta(minutes=30)
OCR_HEARTBEAT = timedelta(minutes=2)
OCR_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=5))


async def check_masked_copy(request: MaskedCopyCheckInput) -> MaskedCheck:
    return await workflow.execute_activity(
        CHECK_MASKED_COPY,
        request,
        result_type=MaskedCheck,
        task_queue=request.task_queue,
        start_to_close_timeout=OCR_TIMEOUT,
        heartbeat_timeout=OCR_HEARTBEAT,
        retry_policy=OCR_RETRY,
    )


# --- the committee session (R20, R27): workflows/committee.py ---------------------------------


async def pool_snapshot(request: PoolSnapshotRequest) -> PoolSnapshot:
    """The expert pool and the session's declarations, with their conflicts, as drawn from."""
    return await workflow.execute_activity(
        POOL_SNAPSHOT,
        request,
        result_type=PoolSnapshot,
        start_to_close_timeout=PAGE_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def notify_experts(notices: ExpertNotices) -> None:
    """The drawn experts' messages, through the outbox (once each)."""
    await workflow.execute_activity(
        NOTIFY_EXPERTS,
        notices,
        start_to_close_timeout=ROUND_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def open_ballot_box(register: BallotRegister) -> None:
    await workflow.execute_activity(
        OPEN_BALLOT_BOX,
        register,
        start_to_close_timeout=ROUND_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def close_ballot_box(session: str) -> BoxCounts:
    """Close the session's ballot box (no later ballot) and count it."""
    return await workflow.execute_activity(
        CLOSE_BALLOT_BOX,
        session,
        result_type=BoxCounts,
        start_to_close_timeout=ROUND_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def send_session_votes(votes: SessionVotes) -> SessionVotesSent:
    """The Round's `open_session` and `committee_votes` for a closed session (applied once)."""
    return await workflow.execute_activity(
        SEND_SESSION_VOTES,
        votes,
        result_type=SessionVotesSent,
        start_to_close_timeout=ROUND_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def archive_meeting_record(request: MeetingRecordRequest) -> str:
    """R27: the 评审会议记录 rendered and archived; its file name."""
    return await workflow.execute_activity(
        ARCHIVE_MEETING_RECORD,
        request,
        result_type=str,
        start_to_close_timeout=PUBLISH_TIMEOUT,
        retry_policy=PUBLISH_RETRY,
    )
