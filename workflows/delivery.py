"""The `Delivery` workflow: one outbox message to its applicant, by every channel it has an
address for (R16), each channel on its own with retries and backoff.

Started by `record_transition` once the transition's transaction has committed (workflow id
`deliver-{outbox key}`; a second start is refused, which is the deduplication), or by
`starter.py outbox resend|deliver`. It never touches the declaration: whatever happens here,
the declaration's workflow goes on. The activities do the I/O and keep the record of each
channel (activities/delivery.py); they are called by name, so this module imports none of it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from models.delivery import (
        DELIVERY_WORKFLOW_TYPE,
        GIVE_UP_DELIVERY,
        PLAN_DELIVERY,
        SEND_ACTIVITY,
        Channel,
        ChannelOutcome,
        ChannelRequest,
        DeliveryInput,
        DeliveryPlan,
        DeliveryResult,
        GiveUpRequest,
        PlanRequest,
    )

RECORD_TIMEOUT = timedelta(seconds=30)
# Writing the record must eventually succeed: a database outage delays a delivery, never loses it.
RECORD_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))


@workflow.defn(name=DELIVERY_WORKFLOW_TYPE)
class DeliveryWorkflow:
    @workflow.run
    async def run(self, request: DeliveryInput) -> DeliveryResult:
        plan = await workflow.execute_activity(
            PLAN_DELIVERY,
            PlanRequest(key=request.key, channels=request.channels),
            result_type=DeliveryPlan,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        sent = await asyncio.gather(*(self._deliver(request, c) for c in plan.to_send))
        return DeliveryResult(key=request.key, outcomes=[*plan.settled, *sent])

    async def _deliver(self, request: DeliveryInput, channel: Channel) -> ChannelOutcome:
        """Attempts until the channel's answer is final; temporary failures retry with
        exponential backoff until `give_up_after`, then the channel is recorded as failed."""
        try:
            return await workflow.execute_activity(
                SEND_ACTIVITY[channel],
                ChannelRequest(key=request.key, channel=channel),
                result_type=ChannelOutcome,
                start_to_close_timeout=request.attempt_timeout,
                schedule_to_close_timeout=request.give_up_after,
                retry_policy=RetryPolicy(
                    initial_interval=request.retry_initial,
                    backoff_coefficient=2.0,
                    maximum_interval=request.retry_maximum,
                ),
            )
        except ActivityError as exc:
            cause = exc.cause
            hours = request.give_up_after.total_seconds() / 3600
            reason = (
                f"gave up after {hours:g} h of retries"
                if cause is None or isinstance(cause, ActivityTimeout)
                else f"gave up: {cause}"
            )
            workflow.logger.warning("Delivery %s by %s: %s", request.key, channel.value, reason)
            return await workflow.execute_activity(
                GIVE_UP_DELIVERY,
                GiveUpRequest(key=request.key, channel=channel, reason=reason),
                result_type=ChannelOutcome,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
