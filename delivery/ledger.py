"""The delivery ledger (table `notification_deliveries`): one transaction per step of an
attempt, the message row locked first; and the operator's side (`starter.py outbox`):
listing the outbox and preparing a resend. How a crash between sending and recording is
told apart is described in activities/delivery.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio.exceptions import ApplicationError

from delivery.common import delivery_logger
from models.delivery import (
    Channel,
    ChannelOutcome,
    DeliveryStatus,
)
from rules.timezone import to_shanghai
from store.db import get_engine, insert_unless_exists
from store.tables import NotificationDelivery, OutboxMessage, OutboxStatus, utcnow


class ColumnValues(Protocol):
    """A row's values by column name: a `RowMapping`, or a plain dict (the tests)."""

    def __getitem__(self, name: str, /) -> Any: ...


# --- the record: one transaction per step, the message row locked first ---------------------


async def lock_message(conn: AsyncConnection, key: str) -> RowMapping | None:
    """The outbox row, after taking the write lock on it: an UPDATE first takes SQLite's
    database write lock and PostgreSQL's row lock, so every read after it in the transaction
    sees what the other channel's activity committed (no lost update of the summary)."""
    touched = await conn.execute(
        update(OutboxMessage).where(OutboxMessage.key == key).values(status=OutboxMessage.status)
    )
    if touched.rowcount == 0:
        return None
    return (
        (await conn.execute(select(OutboxMessage).where(OutboxMessage.key == key))).mappings().one()
    )


async def channel_row(conn: AsyncConnection, key: str, channel: Channel) -> RowMapping | None:
    query = select(NotificationDelivery).where(
        NotificationDelivery.key == key, NotificationDelivery.channel == channel.value
    )
    return (await conn.execute(query)).mappings().one_or_none()


async def set_channel(conn: AsyncConnection, key: str, channel: Channel, **values: Any) -> None:
    await conn.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.key == key, NotificationDelivery.channel == channel.value)
        .values(updated_at=utcnow(), **values)
    )


def summarize(channels: Sequence[ColumnValues]) -> tuple[OutboxStatus, str | None]:
    """The message's status over its channels: a problem shows first (uncertain, failed), then
    work in progress (sending, pending); `sent` once every channel that is on has sent it."""
    errors = "; ".join(
        f"{row['channel']} {row['status']}: {row['error']}"
        for row in channels
        if row["error"] and row["status"] != DeliveryStatus.sent.value
    )
    active = {row["status"] for row in channels if row["status"] != DeliveryStatus.skipped.value}
    if not active:
        return OutboxStatus.skipped, errors or "no e-mail address or mobile for this recipient"
    for status in ("uncertain", "failed", "sending", "pending"):
        if status in active:
            return OutboxStatus(status), errors or None
    return OutboxStatus.sent, errors or None


async def refresh_message(conn: AsyncConnection, key: str) -> None:
    rows = (
        (await conn.execute(select(NotificationDelivery).where(NotificationDelivery.key == key)))
        .mappings()
        .all()
    )
    status, error = summarize(rows)
    sent = [row["sent_at"] for row in rows if row["status"] == DeliveryStatus.sent.value]
    await conn.execute(
        update(OutboxMessage)
        .where(OutboxMessage.key == key)
        .values(
            status=status.value,
            attempts=sum(row["attempts"] for row in rows),
            last_error=error,
            sent_at=max(sent) if status is OutboxStatus.sent and sent else None,
        )
    )


def outcome_of(row: ColumnValues) -> ChannelOutcome:
    status = DeliveryStatus(row["status"])
    detail = row["provider_id"] if status is DeliveryStatus.sent else row["error"]
    return ChannelOutcome(
        channel=Channel(row["channel"]), status=status, attempts=row["attempts"], detail=detail
    )


@dataclass(frozen=True)
class Claim:
    """What an attempt found: a message to send now (`message`), or an `outcome` already."""

    outcome: ChannelOutcome | None = None
    message: Mapping[str, Any] | None = None
    attempt: int = 0
    resends: int = 0
    address: str = ""


def maybe_sent_since(channel: Channel, row: ColumnValues) -> datetime | None:
    """Since when an attempt whose outcome is not recorded may have been accepted; None: no
    attempt can have been. E-mail marks that moment itself (`maybe_sent_at`, committed just
    before the end of the message data is sent: `mark_maybe_sent`), so a `sending` row without
    it stopped before the server could accept anything. WeChat's request is one HTTP call, so
    a `sending` row may have been sent from the moment its intent was recorded."""
    if row["maybe_sent_at"] is not None:
        return row["maybe_sent_at"]
    if row["status"] == DeliveryStatus.sending.value and channel is not Channel.email:
        return row["attempted_at"]
    return None


def _uncertain_reason(
    key: str, channel: Channel, row: ColumnValues, since: datetime, window: timedelta | None
) -> str:
    at = to_shanghai(since).isoformat(timespec="seconds")
    resend = f"starter.py outbox resend {key} --channel {channel.value}"
    if channel is Channel.email:
        return (
            f"attempt {row['attempts']} may have sent it: it was about to send the end of the "
            f"message data ({at}) and its outcome was never recorded (the worker stopped, or "
            f"the attempt timed out, before the server's reply was recorded); SMTP cannot "
            f"deduplicate, so it is not resent automatically — check with the recipient, "
            f"then: {resend}"
        )
    return (
        f"attempt {row['attempts']} (intent recorded {at}) may have sent it, longer ago than "
        f"WeChat deduplicates a resend ({window}); not resent automatically — check, then: "
        f"{resend}"
    )


async def claim(
    key: str, channel: Channel, resend_window: timedelta | None, *, engine: AsyncEngine
) -> Claim:
    """Step 1: record the intent to send, unless the channel is final already, or an earlier
    attempt may have sent it (`maybe_sent_since`) and a resend could not be deduplicated
    (`resend_window`: how long after that attempt the channel deduplicates a resend; None:
    never). A `sending` row that no attempt may have sent (e-mail stopped before the end of
    the data) is simply attempted again."""
    now = utcnow()
    async with engine.begin() as conn:
        message = await lock_message(conn, key)
        row = await channel_row(conn, key, channel) if message is not None else None
        if message is None or row is None:
            raise ApplicationError(
                f"{key}: no {channel.value} delivery in the record", non_retryable=True
            )
        status = DeliveryStatus(row["status"])
        if status.is_final:
            return Claim(outcome=outcome_of(row))
        maybe_sent = maybe_sent_since(channel, row)
        if maybe_sent is not None and (resend_window is None or now - maybe_sent > resend_window):
            reason = _uncertain_reason(key, channel, row, maybe_sent, resend_window)
            await set_channel(
                conn, key, channel, status="uncertain", error=reason, maybe_sent_at=maybe_sent
            )
            await refresh_message(conn, key)
            delivery_logger().warning(
                "Delivery %s by %s is uncertain: not resent", key, channel.value
            )
            return Claim(outcome=outcome_of(await channel_row(conn, key, channel) or row))
        attempt = row["attempts"] + 1
        values: dict[str, Any] = {}
        if status is DeliveryStatus.sending:  # e-mail only (maybe_sent_since): not accepted
            values["error"] = (
                f"attempt {row['attempts']} stopped before the end of the message data: "
                f"nothing was accepted, sent again (attempt {attempt})"
            )
            delivery_logger().warning(
                "Delivery %s by %s: attempt %s stopped before the end of the data: sent again",
                key,
                channel.value,
                row["attempts"],
            )
        await set_channel(
            conn,
            key,
            channel,
            status="sending",
            attempts=attempt,
            attempted_at=now,
            maybe_sent_at=maybe_sent,
            **values,
        )
        await refresh_message(conn, key)
        return Claim(
            message=dict(message),
            attempt=attempt,
            resends=row["resends"],
            address=row["address"],
        )


class ClaimLost(Exception):
    """The attempt no longer holds the channel: a later attempt (after a timeout) or the
    give-up took over, so this one must not send."""


async def mark_maybe_sent(key: str, channel: Channel, attempt: int, *, engine: AsyncEngine) -> None:
    """E-mail's point of no return, committed before it is passed: from now on the server may
    accept attempt `attempt`'s message (its end of data is about to be sent), so a later claim
    that finds the channel still `sending` makes it `uncertain` instead of sending it again.
    Raises ClaimLost if the attempt no longer holds the channel (it must not send then)."""
    async with engine.begin() as conn:
        await lock_message(conn, key)
        row = await channel_row(conn, key, channel)
        holds = row is not None and (row["status"], row["attempts"]) == ("sending", attempt)
        if not holds:
            held = "no row" if row is None else f"{row['status']}, attempt {row['attempts']}"
            raise ClaimLost(f"{key}: attempt {attempt} no longer holds {channel.value} ({held})")
        await set_channel(conn, key, channel, maybe_sent_at=utcnow())


async def record_outcome(
    key: str,
    channel: Channel,
    attempt: int,
    status: DeliveryStatus,
    *,
    engine: AsyncEngine,
    error: str | None = None,
    provider_id: str | None = None,
    maybe_sent: bool = False,
    not_sent: bool = False,
) -> ChannelOutcome:
    """Step 3. `sent` is the truth whoever records it; any other outcome only while this
    attempt still holds the claim (a later attempt may have taken over meanwhile).
    `maybe_sent`: the request left and no answer came back. `not_sent` (e-mail, whose mark is
    only ever the current attempt's): this attempt is known not to have been accepted (the
    server refused or deferred it, or the end of the data was never sent): its mark goes."""
    async with engine.begin() as conn:
        await lock_message(conn, key)
        row = await channel_row(conn, key, channel)
        if row is None:
            raise ApplicationError(f"{key}: no {channel.value} delivery", non_retryable=True)
        if status is DeliveryStatus.sent:
            if row["status"] != DeliveryStatus.sent.value:
                await set_channel(
                    conn,
                    key,
                    channel,
                    status="sent",
                    error=None,
                    sent_at=utcnow(),
                    provider_id=provider_id,
                )
        elif row["status"] == DeliveryStatus.sending.value and row["attempts"] == attempt:
            values: dict[str, Any] = {"status": status.value, "error": error}
            if maybe_sent:
                values["maybe_sent_at"] = row["maybe_sent_at"] or row["attempted_at"]
            elif not_sent:
                values["maybe_sent_at"] = None
            await set_channel(conn, key, channel, **values)
        await refresh_message(conn, key)
        row = await channel_row(conn, key, channel)
    assert row is not None
    return outcome_of(row)


# --- the operator's side (starter.py outbox) ------------------------------------------------


@dataclass(frozen=True)
class OutboxEntry:
    key: str
    workflow_id: str
    event: str
    recipient_role: str
    recipient_name: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    channels: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return to_shanghai(value).isoformat(timespec="seconds") if value else None

        return {
            "key": self.key,
            "workflow_id": self.workflow_id,
            "event": self.event,
            "recipient_role": self.recipient_role,
            "recipient_name": self.recipient_name,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "sent_at": iso(self.sent_at),
            "channels": [
                {
                    **channel,
                    "attempted_at": iso(channel["attempted_at"]),
                    "sent_at": iso(channel["sent_at"]),
                }
                for channel in self.channels
            ],
        }


async def list_outbox(
    url: str, *, status: str | None = None, workflow_id: str | None = None, limit: int = 100
) -> list[OutboxEntry]:
    """Outbox messages, newest first, each with its channels."""
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if workflow_id is not None:
        query = query.where(OutboxMessage.workflow_id == workflow_id)
    async with get_engine(url).connect() as conn:
        messages = (await conn.execute(query)).mappings().all()
        keys = [message["key"] for message in messages]
        channels: dict[str, list[dict[str, Any]]] = {}
        if keys:
            rows = await conn.execute(
                select(NotificationDelivery)
                .where(NotificationDelivery.key.in_(keys))
                .order_by(NotificationDelivery.channel)
            )
            for row in rows.mappings():
                channels.setdefault(row["key"], []).append(
                    {
                        name: row[name]
                        for name in (
                            "channel",
                            "address",
                            "status",
                            "attempts",
                            "resends",
                            "error",
                            "attempted_at",
                            "sent_at",
                            "provider_id",
                        )
                    }
                )
    return [
        OutboxEntry(
            key=message["key"],
            workflow_id=message["workflow_id"],
            event=message["event"],
            recipient_role=message["recipient_role"],
            recipient_name=message["recipient_name"],
            status=message["status"],
            attempts=message["attempts"],
            last_error=message["last_error"],
            created_at=message["created_at"],
            sent_at=message["sent_at"],
            channels=channels.get(message["key"], []),
        )
        for message in messages
    ]


class ResendRefused(Exception):
    """The resend cannot be done now; the message says why (exit 3)."""


class UnknownMessage(LookupError):
    """No such outbox key, or no address for the channel (exit 2)."""


async def prepare_resend(url: str, key: str, channel: Channel) -> int:
    """Make `channel` of message `key` pending again for the operator's resend; returns the
    resend number n (its workflow is deliver-{key}~{channel}-{n}). On a channel still pending
    (a resend whose start did not happen, or a delivery never started) it returns the same n,
    so running the command again starts what is missing."""
    async with get_engine(url).begin() as conn:
        message = await lock_message(conn, key)
        if message is None:
            raise UnknownMessage(f"no outbox message {key!r}")
        address = message["email"] if channel is Channel.email else message["mobile"]
        if not address:
            what = "e-mail address" if channel is Channel.email else "mobile"
            raise UnknownMessage(
                f"{key}: the message has no {what}: nothing to send by {channel.value}"
            )
        row = await channel_row(conn, key, channel)
        if row is None:  # never planned (delivery was off): the first delivery of this channel
            row_values = {
                "key": key,
                "channel": channel.value,
                "address": address,
                "status": "pending",
            }
            await insert_unless_exists(conn, NotificationDelivery, row_values, ["key", "channel"])
            await refresh_message(conn, key)
            return 0
        status = DeliveryStatus(row["status"])
        if status is DeliveryStatus.sending:
            at = to_shanghai(row["attempted_at"]).isoformat(timespec="seconds")
            raise ResendRefused(
                f"{key}: {channel.value} is being sent (attempt {row['attempts']}, {at}); "
                "wait for its outcome"
            )
        if status is DeliveryStatus.pending:
            return row["resends"]
        resend = row["resends"] + 1
        await set_channel(
            conn,
            key,
            channel,
            status="pending",
            resends=resend,
            error=None,
            maybe_sent_at=None,
            address=address,
        )
        await refresh_message(conn, key)
        return resend


async def pending_keys(url: str, limit: int, workflow_id: str | None = None) -> list[str]:
    """Messages waiting with no channel settled: what `outbox deliver` starts."""
    query = (
        select(OutboxMessage.key)
        .where(OutboxMessage.status == OutboxStatus.pending.value)
        .order_by(OutboxMessage.created_at)
        .limit(limit)
    )
    if workflow_id is not None:
        query = query.where(OutboxMessage.workflow_id == workflow_id)
    async with get_engine(url).connect() as conn:
        return list((await conn.execute(query)).scalars())
