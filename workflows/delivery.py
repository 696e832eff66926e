"""The `Delivery` workflow: one outbox message to its applicant, by every channel it has an
address for (R16), each channel on its own with retries and backoff.

Started by `record_transition` once the transition's transaction has committed (workflow id
`deliver-{outbox key}`; a second start is refused, which is the deduplication), or by
`starter.py outbox resend|deliver`. It never touches the declaration: whatever happens here,
the declaration's workflow goes on. The activities do the I/O and keep the record of each
channel (activities/delivery.py); they are called by name (workflows/calls.py, which holds
their timeouts and retry policies), so this module imports none of it.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from models.delivery import (
        DELIVERY_WORKFLOW_TYPE,
        Channel,
        ChannelOutcome,
        DeliveryInput,
        DeliveryResult,
        GiveUpRequest,
        PlanRequest,
    )
    from workflows import calls


@workflow.defn(name=DELIVERY_WORKFLOW_TYPE)
class DeliveryWorkflow:
    @workflow.run
    async def run(self, request: DeliveryInput) -> DeliveryResult:
        plan = await calls.plan_delivery(PlanRequest(key=request.key, channels=request.channels))
        sent = await asyncio.gather(*(self._deliver(request, c) for c in plan.to_send))
        return DeliveryResult(key=request.key, outcomes=[*plan.settled, *sent])

    async def _deliver(self, request: DeliveryInput, channel: Channel) -> ChannelOutcome:
        """Attempts until the channel's answer is final; temporary failures retry with
        exponential backoff until `give_up_after`, then the channel is recorded as failed."""
        try:
            return await calls.send(request, channel)
        except ActivityError as exc:
            cause = exc.cause
            hours = request.give_up_after.total_seconds() / 3600
            reason = (
                f"gave up after {hours:g} h of retries"
                if cause is None or isinstance(cause, ActivityTimeout)
                else f"gave up: {cause}"
            )
            workflow.logger.warning("Delivery %s by %s: %s", request.key, channel.value, reason)
            return await calls.give_up_delivery(
                GiveUpRequest(key=request.key, channel=channel, reason=reason)
            )
