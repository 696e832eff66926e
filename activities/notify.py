"""The notification activity for messages not tied to a transition (transitions carry
theirs: record.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from delivery.dispatch import StartDeliveries
from delivery.outbox import outbox_row, put_in_outbox
from delivery.recipients import Recipients, addressed
from models.records import QUEUE_NOTIFICATION, NotificationRequest
from settings import DEFAULT_PORTAL_URL


class NotificationActivities:
    """Built by worker.py with the record database's engine, what starts deliveries and the
    organisations' addresses."""

    def __init__(
        self,
        engine: AsyncEngine,
        start_deliveries: StartDeliveries,
        recipients: Recipients | None = None,
        portal_url: str = DEFAULT_PORTAL_URL,
    ) -> None:
        self._engine = engine
        self._start_deliveries = start_deliveries
        self._recipients = recipients
        self._portal_url = portal_url  # ZHICHENG_PORTAL_URL: what the messages link to

    @activity.defn(name=QUEUE_NOTIFICATION)
    async def queue_notification(self, request: NotificationRequest) -> None:
        """A notification not tied to a transition (transitions carry theirs: record.py);
        once per key (R16)."""
        row = outbox_row(addressed(request, self._recipients), self._portal_url)
        async with self._engine.begin() as conn:
            await put_in_outbox(conn, row)
        await self._start_deliveries([row["key"]])
