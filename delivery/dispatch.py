"""Which channels are on, and starting a message's `Delivery` workflow once its outbox row
is committed (R16)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from delivery.common import SMTP_SECURITY, delivery_logger
from models.delivery import (
    DELIVERY_WORKFLOW_TYPE,
    Channel,
    DeliveryInput,
    delivery_workflow_id,
)
from settings import Settings, load_settings

# --- configuration --------------------------------------------------------------------------


def email_off_reason(settings: Settings) -> str | None:
    """Why e-mail cannot be sent with these settings; None when it can."""
    if not settings.smtp_host:
        return "e-mail is off: SMTP_HOST is not set"
    if not settings.smtp_from:
        return "e-mail is off: SMTP_FROM is not set"
    if settings.smtp_security not in SMTP_SECURITY:
        return (
            f"e-mail is off: SMTP_SECURITY={settings.smtp_security!r} is not none, starttls or tls"
        )
    return None


def wechat_off_reason(settings: Settings) -> str | None:
    if not (settings.wechat_app_id and settings.wechat_app_secret):
        return "WeChat is off: WECHAT_APP_ID and WECHAT_APP_SECRET are not set"
    return None


def off_reason(channel: Channel, settings: Settings) -> str | None:
    return email_off_reason(settings) if channel is Channel.email else wechat_off_reason(settings)


def delivery_enabled(settings: Settings) -> bool:
    """At least one channel is configured. Otherwise no delivery starts: messages wait in the
    outbox as `pending` (`starter.py outbox deliver` starts them once a channel is on)."""
    return any(off_reason(channel, settings) is None for channel in Channel)


def delivery_input(
    key: str,
    settings: Settings,
    channels: list[Channel] | None = None,
    resend: int = 0,
) -> DeliveryInput:
    return DeliveryInput(
        key=key,
        channels=channels,
        resend=resend,
        retry_initial=timedelta(seconds=settings.delivery_retry_seconds),
        retry_maximum=timedelta(seconds=settings.delivery_retry_max_seconds),
        attempt_timeout=timedelta(seconds=settings.delivery_attempt_timeout),
        give_up_after=timedelta(hours=settings.delivery_give_up_hours),
    )


# --- starting deliveries --------------------------------------------------------------------

# What an activity that commits outbox rows is given to start their Delivery workflows: the
# keys in, how many were started out (DeliveryStarter below; a fake in tests).
StartDeliveries = Callable[[Sequence[str]], Awaitable[int]]


async def start_delivery(
    client: Client, task_queue: str, request: DeliveryInput, channel: Channel | None = None
) -> bool:
    """Start the message's Delivery workflow; False when it exists already (running or
    closed: REJECT_DUPLICATE), which is how a repeated start is deduplicated."""
    workflow_id = delivery_workflow_id(request.key, request.resend, channel)
    try:
        await client.start_workflow(
            DELIVERY_WORKFLOW_TYPE,
            request,
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"deliver {request.key}",
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def start_deliveries(
    keys: Sequence[str],
    *,
    client: Client | None = None,
    task_queue: str | None = None,
    settings: Settings | None = None,
) -> int:
    """Start one Delivery workflow per outbox key (after the rows are committed). Inside an
    activity the worker's client and task queue are used. Returns how many were started."""
    if not keys:
        return 0
    settings = settings or load_settings()
    logger = delivery_logger()
    if not delivery_enabled(settings):
        logger.info("Delivery is off (no channel configured): %d message(s) wait", len(keys))
        return 0
    if client is None:
        try:
            client = activity.client()
        except RuntimeError:  # an activity run outside a worker (ActivityEnvironment)
            logger.warning(
                "No Temporal client here: delivery of %d message(s) not started", len(keys)
            )
            return 0
    task_queue = task_queue or activity.info().task_queue
    started = 0
    for key in keys:
        if await start_delivery(client, task_queue, delivery_input(key, settings)):
            started += 1
    logger.info("Deliveries: %d started, %d already started", started, len(keys) - started)
    return started


class DeliveryStarter:
    """What the activities that write outbox rows are given to start their Delivery
    workflows: `await starter(keys)` once the rows are committed (R16). The worker builds it
    with its settings, client and task queue; without a client (an activity run outside a
    worker, the tests' ActivityEnvironment) the running activity's client is used, if any."""

    def __init__(
        self, settings: Settings, client: Client | None = None, task_queue: str | None = None
    ) -> None:
        self.settings = settings
        self._client = client
        self._task_queue = task_queue

    async def __call__(self, keys: Sequence[str]) -> int:
        return await start_deliveries(
            keys, client=self._client, task_queue=self._task_queue, settings=self.settings
        )
