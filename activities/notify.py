"""The notification activity for messages not tied to a transition (transitions carry
theirs: record.py)."""

from __future__ import annotations

from temporalio import activity

from delivery.dispatch import start_deliveries
from delivery.outbox import outbox_row, put_in_outbox
from models.records import NotificationRequest
from store.db import get_engine


@activity.defn
async def queue_notification(request: NotificationRequest) -> None:
    """A notification not tied to a transition (transitions carry theirs: record.py)."""
    row = outbox_row(request)
    async with get_engine().begin() as conn:
        await put_in_outbox(conn, row)
    await start_deliveries([row["key"]])
