"""Deliver outbox messages (R16): e-mail over SMTP (aiosmtplib) and WeChat official-account
template messages over HTTP (httpx), one `Delivery` workflow per message.

Exactly once from the applicant's point of view, as far as each channel allows. Per channel
(table `notification_deliveries`), an attempt

1. records its intent: status `sending`, attempt n, the time (one transaction);
2. sends: e-mail with a Message-ID derived from the outbox key, WeChat with
   client_msg_id = the outbox key;
3. records the outcome: `sent`; `failed` with the reason (a permanent refusal); or back to
   `pending` with the error (a temporary failure: the activity raises, Temporal retries it
   with backoff).

An attempt that finds `sending` knows the previous one stopped between 1 and 3 (the worker
died, the activity timed out). WeChat's send is one request, so the message may be out;
WeChat drops a second message with the same openid + client_msg_id for 10 minutes, so
within that window it is sent again (exactly once). E-mail marks, inside step 2, the one
moment the server may start to accept it: `maybe_sent_at` is committed after the message's
data and before the end of that data (the final CRLF.CRLF) is sent. Without the mark the
previous attempt stopped before that point, when the server discards what it got, so the
message is simply sent again; with it, SMTP cannot take the message back or deduplicate it,
so it becomes `uncertain` and is not resent (at most once) until an operator says so
(`starter.py outbox resend KEY --channel email`). A reply lost after the end of the data
(the server accepted it and the connection dropped) is the same case.

The steps themselves live in delivery/ (ledger, e-mail, WeChat); these are the activities.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from delivery.common import TEMPORARY_FAILURE, WECHAT_DEDUP_LIMIT, delivery_logger, redacted
from delivery.dispatch import email_off_reason, off_reason, wechat_off_reason
from delivery.email import build_email, send_smtp
from delivery.failures import MaybeSent, Permanent, Temporary
from delivery.ledger import (
    channel_row,
    claim,
    lock_message,
    mark_maybe_sent,
    maybe_sent_since,
    outcome_of,
    record_outcome,
    refresh_message,
    set_channel,
)
from delivery.wechat import client_msg_id, openid_for, send_wechat, template_data, template_for
from models.delivery import (
    DELIVER_EMAIL,
    DELIVER_WECHAT,
    GIVE_UP_DELIVERY,
    PLAN_DELIVERY,
    Channel,
    ChannelOutcome,
    ChannelRequest,
    DeliveryPlan,
    DeliveryStatus,
    GiveUpRequest,
    PlanRequest,
)
from settings import Settings
from store.db import insert_unless_exists
from store.tables import NotificationDelivery


class DeliveryActivities:
    """The Delivery workflow's activities, built by worker.py with the record database's
    engine (the ledger) and the settings (SMTP, WeChat, which channels are on)."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    async def _outcome(
        self,
        key: str,
        channel: Channel,
        attempt: int,
        status: DeliveryStatus,
        **values: Any,
    ) -> ChannelOutcome:
        return await record_outcome(key, channel, attempt, status, engine=self._engine, **values)

    @activity.defn(name=DELIVER_EMAIL)
    async def deliver_email(self, request: ChannelRequest) -> ChannelOutcome:
        """Send one message by e-mail, at most once (see the module's docstring)."""
        key, channel = request.key, Channel.email
        settings = self._settings
        found = await claim(key, channel, resend_window=None, engine=self._engine)
        if found.outcome is not None:
            return found.outcome
        assert found.message is not None

        def public(text: object) -> str:  # logs and failure messages: no address
            return redacted(str(text), found.address)

        off = email_off_reason(settings)
        if off:  # switched off since the delivery was planned
            return await self._outcome(
                key, channel, found.attempt, DeliveryStatus.skipped, error=off
            )
        try:
            email = build_email(found.message, found.address, settings)
            data = email.as_bytes()
        except Exception as exc:  # nothing was sent: back to pending, retried
            error = f"cannot compose the e-mail: {type(exc).__name__}: {exc}"
            await self._outcome(key, channel, found.attempt, DeliveryStatus.pending, error=error)
            raise ApplicationError(
                f"e-mail {key}: {public(error)}", type=TEMPORARY_FAILURE
            ) from None

        async def before_end_of_data() -> None:  # committed before the server may accept it
            await mark_maybe_sent(key, channel, found.attempt, engine=self._engine)

        try:
            reply = await send_smtp(
                settings, data, settings.smtp_from, found.address, before_end_of_data
            )
        except Permanent as exc:
            delivery_logger().warning("E-mail %s failed: %s", key, public(exc))
            return await self._outcome(
                key, channel, found.attempt, DeliveryStatus.failed, error=str(exc), not_sent=True
            )
        except MaybeSent as exc:
            reason = (
                f"{exc}: the message may have been delivered; SMTP cannot deduplicate, so it is "
                f"not resent automatically — check, then: "
                f"starter.py outbox resend {key} --channel email"
            )
            delivery_logger().warning("E-mail %s uncertain: %s", key, public(exc))
            return await self._outcome(
                key, channel, found.attempt, DeliveryStatus.uncertain, error=reason, maybe_sent=True
            )
        except Temporary as exc:  # not accepted: whatever the mark said, it is sent again
            await self._outcome(
                key, channel, found.attempt, DeliveryStatus.pending, error=str(exc), not_sent=True
            )
            raise ApplicationError(f"e-mail {key}: {public(exc)}", type=TEMPORARY_FAILURE) from None
        delivery_logger().info("E-mail %s sent: %s", key, public(reply))  # the key, no address
        return await self._outcome(
            key, channel, found.attempt, DeliveryStatus.sent, provider_id=email["Message-ID"]
        )

    @activity.defn(name=DELIVER_WECHAT)
    async def deliver_wechat(self, request: ChannelRequest) -> ChannelOutcome:
        """Send one message as a WeChat template message, exactly once within WeChat's
        client_msg_id window (see the module's docstring)."""
        key, channel = request.key, Channel.wechat
        settings = self._settings
        window = min(timedelta(seconds=settings.wechat_dedup_window), WECHAT_DEDUP_LIMIT)
        found = await claim(key, channel, resend_window=window, engine=self._engine)
        if found.outcome is not None:
            return found.outcome
        assert found.message is not None
        message, attempt = found.message, found.attempt

        def public(text: object) -> str:  # logs and failure messages: no mobile
            return redacted(str(text), found.address)

        off = wechat_off_reason(settings)
        if off:
            return await self._outcome(key, channel, attempt, DeliveryStatus.skipped, error=off)
        try:
            openid = openid_for(found.address, settings.wechat_bindings)
            if openid is None:
                raise Permanent(
                    f"unbound: no WeChat account is bound to {found.address} "
                    f"(bindings: {settings.wechat_bindings})"
                )
            template = template_for(message["event"], settings.wechat_templates)
            if template is None:
                raise Permanent(
                    f"no WeChat template for event {message['event']} and no default in "
                    f"{settings.wechat_templates}"
                )
            body: dict[str, Any] = {
                "touser": openid,
                "template_id": template.template_id,
                "data": template_data(template, message),
                "client_msg_id": client_msg_id(key, found.resends),
            }
            # the template's own url, else the message's page in the portal (its link)
            url = template.url or (message.get("context") or {}).get("link")
            if url:
                body["url"] = url
            msgid = await send_wechat(settings, body)
        except Permanent as exc:
            delivery_logger().warning("WeChat %s failed: %s", key, public(exc))
            return await self._outcome(key, channel, attempt, DeliveryStatus.failed, error=str(exc))
        except MaybeSent as exc:  # resent with the same client_msg_id while WeChat deduplicates
            await self._outcome(
                key, channel, attempt, DeliveryStatus.pending, error=str(exc), maybe_sent=True
            )
            raise ApplicationError(f"WeChat {key}: {public(exc)}", type=TEMPORARY_FAILURE) from None
        except Temporary as exc:
            await self._outcome(key, channel, attempt, DeliveryStatus.pending, error=str(exc))
            raise ApplicationError(f"WeChat {key}: {public(exc)}", type=TEMPORARY_FAILURE) from None
        except Exception as exc:  # unforeseen: count it as possibly sent (a resend deduplicates)
            error = f"{type(exc).__name__}: {exc}"
            await self._outcome(
                key, channel, attempt, DeliveryStatus.pending, error=error, maybe_sent=True
            )
            raise ApplicationError(
                f"WeChat {key}: {public(error)}", type=TEMPORARY_FAILURE
            ) from None
        delivery_logger().info("WeChat %s sent (msgid %s)", key, msgid)
        return await self._outcome(key, channel, attempt, DeliveryStatus.sent, provider_id=msgid)

    # --- the workflow's other steps ---------------------------------------------------------

    @activity.defn(name=PLAN_DELIVERY)
    async def plan_delivery(self, request: PlanRequest) -> DeliveryPlan:
        """The channels of a message: one row each where it has an address (`skipped` where the
        channel is off); which still need sending. Idempotent."""
        settings = self._settings
        plan = DeliveryPlan(key=request.key)
        async with self._engine.begin() as conn:
            message = await lock_message(conn, request.key)
            if message is None:
                raise ApplicationError(f"no outbox message {request.key!r}", non_retryable=True)
            addresses = {Channel.email: message["email"], Channel.wechat: message["mobile"]}
            for channel in request.channels or list(Channel):
                address = addresses[channel]
                if not address:
                    continue
                off = off_reason(channel, settings)
                status = DeliveryStatus.skipped if off else DeliveryStatus.pending
                row = {
                    "key": request.key,
                    "channel": channel.value,
                    "address": address,
                    "status": status.value,
                    "error": off,
                }
                await insert_unless_exists(conn, NotificationDelivery, row, ["key", "channel"])
                current = await channel_row(conn, request.key, channel)
                assert current is not None
                if current["status"] == DeliveryStatus.pending.value and off:  # a resend, still off
                    await set_channel(conn, request.key, channel, status="skipped", error=off)
                    current = await channel_row(conn, request.key, channel)
                    assert current is not None
                if DeliveryStatus(current["status"]).is_final:
                    plan.settled.append(outcome_of(current))
                else:
                    plan.to_send.append(channel)
            await refresh_message(conn, request.key)
        return plan

    @activity.defn(name=GIVE_UP_DELIVERY)
    async def give_up_delivery(self, request: GiveUpRequest) -> ChannelOutcome:
        """Retries are over: `failed` with the last error, or `uncertain` if an attempt may have
        sent it."""
        key, channel = request.key, request.channel
        async with self._engine.begin() as conn:
            await lock_message(conn, key)
            row = await channel_row(conn, key, channel)
            if row is None:
                raise ApplicationError(f"{key}: no {channel.value} delivery", non_retryable=True)
            if not DeliveryStatus(row["status"]).is_final:
                maybe_sent = maybe_sent_since(channel, row)
                last = f"; last error: {row['error']}" if row["error"] else ""
                if maybe_sent is not None:
                    status = "uncertain"
                    error = f"{request.reason}{last}; an attempt may have sent it: not resent"
                else:
                    status, error = "failed", f"{request.reason}{last}"
                await set_channel(conn, key, channel, status=status, error=error)
                await refresh_message(conn, key)
                row = await channel_row(conn, key, channel)
                assert row is not None
        delivery_logger().warning("Delivery %s by %s: %s", key, channel.value, row["status"])
        return outcome_of(row)
