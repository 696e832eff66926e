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

An attempt that finds `sending` knows the previous one stopped between 2 and 3 (the worker
died, the activity timed out), so the message may be out. WeChat drops a second message with
the same openid + client_msg_id for 10 minutes, so within that window it is sent again
(exactly once); e-mail cannot be taken back or deduplicated by SMTP, so it becomes
`uncertain` and is not resent (at most once) until an operator says so
(`starter.py outbox resend KEY --channel email`). A reply lost after the message was
transmitted (the server accepted it and the connection dropped) is the same case.

Also here, for the command line: listing the outbox and preparing a resend.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import phonenumbers
from jinja2 import Environment, StrictUndefined, TemplateError
from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from activities.db import get_engine, insert_unless_exists
from models.delivery import (
    DELIVER_EMAIL,
    DELIVER_WECHAT,
    DELIVERY_WORKFLOW_TYPE,
    GIVE_UP_DELIVERY,
    PLAN_DELIVERY,
    Channel,
    ChannelOutcome,
    ChannelRequest,
    DeliveryInput,
    DeliveryPlan,
    DeliveryStatus,
    GiveUpRequest,
    PlanRequest,
    delivery_workflow_id,
    safe_id_part,
)
from models.tables import NotificationDelivery, OutboxMessage, OutboxStatus, utcnow
from rules.timezone import to_shanghai
from settings import Settings, load_settings

log = logging.getLogger("zhicheng.delivery")
# httpx logs each request's URL at INFO; the token request's URL carries the app secret.
logging.getLogger("httpx").setLevel(logging.WARNING)

TEMPORARY_FAILURE = "DeliveryTemporaryFailure"  # the error type a retried attempt raises
SMTP_SECURITY = ("none", "starttls", "tls")
WECHAT_DEDUP_LIMIT = timedelta(minutes=10)  # WeChat's own client_msg_id window


def _logger() -> logging.LoggerAdapter[logging.Logger] | logging.Logger:
    return activity.logger if activity.in_activity() else log


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
    logger = _logger()
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


# --- the record: one transaction per step, the message row locked first ---------------------


async def _lock_message(conn: AsyncConnection, key: str) -> RowMapping | None:
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


async def _channel_row(conn: AsyncConnection, key: str, channel: Channel) -> RowMapping | None:
    query = select(NotificationDelivery).where(
        NotificationDelivery.key == key, NotificationDelivery.channel == channel.value
    )
    return (await conn.execute(query)).mappings().one_or_none()


async def _set_channel(conn: AsyncConnection, key: str, channel: Channel, **values: Any) -> None:
    await conn.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.key == key, NotificationDelivery.channel == channel.value)
        .values(updated_at=utcnow(), **values)
    )


def summarize(channels: Sequence[Mapping[str, Any]]) -> tuple[OutboxStatus, str | None]:
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


async def _refresh_message(conn: AsyncConnection, key: str) -> None:
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


def _outcome(row: Mapping[str, Any]) -> ChannelOutcome:
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


def _uncertain_reason(
    key: str, channel: Channel, row: Mapping[str, Any], since: datetime, window: timedelta | None
) -> str:
    at = to_shanghai(since).isoformat(timespec="seconds")
    resend = f"starter.py outbox resend {key} --channel {channel.value}"
    if channel is Channel.email:
        return (
            f"attempt {row['attempts']} (intent recorded {at}) may have sent it: its outcome was "
            f"never recorded (the worker stopped, or the server's reply was lost, between send "
            f"and record); SMTP cannot deduplicate, so it is not resent automatically — check "
            f"with the recipient, then: {resend}"
        )
    return (
        f"attempt {row['attempts']} (intent recorded {at}) may have sent it, longer ago than "
        f"WeChat deduplicates a resend ({window}); not resent automatically — check, then: "
        f"{resend}"
    )


async def claim(key: str, channel: Channel, resend_window: timedelta | None) -> Claim:
    """Step 1: record the intent to send, unless the channel is final already, or an earlier
    attempt may have sent it and a resend could not be deduplicated (`resend_window`: how
    long after that attempt the channel deduplicates a resend; None: never)."""
    now = utcnow()
    async with get_engine().begin() as conn:
        message = await _lock_message(conn, key)
        row = await _channel_row(conn, key, channel) if message is not None else None
        if message is None or row is None:
            raise ApplicationError(
                f"{key}: no {channel.value} delivery in the record", non_retryable=True
            )
        status = DeliveryStatus(row["status"])
        if status.is_final:
            return Claim(outcome=_outcome(row))
        maybe_sent = row["maybe_sent_at"]
        if status is DeliveryStatus.sending:  # the previous attempt stopped between send and record
            maybe_sent = maybe_sent or row["attempted_at"]
        if maybe_sent is not None and (resend_window is None or now - maybe_sent > resend_window):
            reason = _uncertain_reason(key, channel, row, maybe_sent, resend_window)
            await _set_channel(
                conn, key, channel, status="uncertain", error=reason, maybe_sent_at=maybe_sent
            )
            await _refresh_message(conn, key)
            _logger().warning("Delivery %s by %s is uncertain: not resent", key, channel.value)
            return Claim(outcome=_outcome(await _channel_row(conn, key, channel) or row))
        attempt = row["attempts"] + 1
        await _set_channel(
            conn,
            key,
            channel,
            status="sending",
            attempts=attempt,
            attempted_at=now,
            maybe_sent_at=maybe_sent,
        )
        await _refresh_message(conn, key)
        return Claim(
            message=dict(message),
            attempt=attempt,
            resends=row["resends"],
            address=row["address"],
        )


async def record_outcome(
    key: str,
    channel: Channel,
    attempt: int,
    status: DeliveryStatus,
    *,
    error: str | None = None,
    provider_id: str | None = None,
    maybe_sent: bool = False,
) -> ChannelOutcome:
    """Step 3. `sent` is the truth whoever records it; any other outcome only while this
    attempt still holds the claim (a later attempt may have taken over meanwhile).
    `maybe_sent`: the request left and no answer came back."""
    async with get_engine().begin() as conn:
        await _lock_message(conn, key)
        row = await _channel_row(conn, key, channel)
        if row is None:
            raise ApplicationError(f"{key}: no {channel.value} delivery", non_retryable=True)
        if status is DeliveryStatus.sent:
            if row["status"] != DeliveryStatus.sent.value:
                await _set_channel(
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
            await _set_channel(conn, key, channel, **values)
        await _refresh_message(conn, key)
        row = await _channel_row(conn, key, channel)
    assert row is not None
    return _outcome(row)


# --- failures, as the senders classify them -------------------------------------------------


class Temporary(Exception):
    """Not sent, worth retrying (server busy, network, quota, an outage of configuration)."""


class Permanent(Exception):
    """Not sent, and retrying cannot help this message (bad address, unbound, unsubscribed)."""


class MaybeSent(Exception):
    """The request left and no answer came back: it may have been accepted."""


# --- e-mail ---------------------------------------------------------------------------------


def message_id(key: str, from_address: str) -> str:
    """The same Message-ID for every attempt and resend of a message: readable, derived from
    the outbox key (no personal data: the key holds the pseudonymous workflow id)."""
    domain = from_address.rpartition("@")[2] or "zhicheng.invalid"
    return f"<{safe_id_part(key)}.zhicheng@{domain}>"


def build_email(message: Mapping[str, Any], to: str, settings: Settings) -> EmailMessage:
    """The message as sent: UTF-8 subject (RFC 2047) and body (base64), CRLF line ends. It is
    the same bytes on every attempt, Date included (the time it was queued)."""
    email = EmailMessage(policy=SMTP_POLICY)
    email["Subject"] = message["subject"]
    email["From"] = Address(display_name=settings.smtp_from_name, addr_spec=settings.smtp_from)
    email["To"] = Address(display_name=message["recipient_name"], addr_spec=to)
    email["Date"] = format_datetime(to_shanghai(message["created_at"]))
    email["Message-ID"] = message_id(message["key"], settings.smtp_from)
    email["Auto-Submitted"] = "auto-generated"
    email["X-Zhicheng-Outbox-Key"] = message["key"]
    email.set_content(message["body"], charset="utf-8", cte="base64")
    return email


def _smtp_reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


async def send_smtp(settings: Settings, data: bytes, sender: str, recipient: str) -> str:
    """One SMTP transaction. Returns the server's reply to the message data; raises Temporary,
    Permanent or MaybeSent (only once the data has left without a final reply)."""
    smtp = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls",
        timeout=settings.smtp_timeout,
    )
    try:
        await smtp.connect()
        if settings.smtp_username:
            await smtp.login(settings.smtp_username, settings.smtp_password)
        await smtp.mail(sender)
        try:
            await smtp.rcpt(recipient)
        except aiosmtplib.SMTPRecipientRefused as exc:
            if 500 <= exc.code < 600:
                raise Permanent(f"recipient {recipient} refused: {_smtp_reply(exc)}") from None
            raise Temporary(f"recipient {recipient} deferred: {_smtp_reply(exc)}") from None
        try:
            reply = await smtp.data(data)
        except aiosmtplib.SMTPResponseException as exc:  # the server answered: not accepted
            if 500 <= exc.code < 600:
                raise Permanent(f"message refused: {_smtp_reply(exc)}") from None
            raise Temporary(f"message deferred: {_smtp_reply(exc)}") from None
        except Exception as exc:  # anything else once the data may have left: maybe sent
            raise MaybeSent(
                f"no reply after the message was transmitted ({type(exc).__name__}: {exc})"
            ) from None
        return f"{reply.code} {reply.message}".strip()
    except (Temporary, Permanent, MaybeSent):
        raise
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise Temporary(f"SMTP login refused: {_smtp_reply(exc)}") from None
    except aiosmtplib.SMTPResponseException as exc:
        raise Temporary(f"SMTP server said {_smtp_reply(exc)}") from None
    except UnicodeError as exc:  # a non-ASCII address: this client does not speak SMTPUTF8
        raise Permanent(f"address not sendable without SMTPUTF8: {exc}") from None
    except Exception as exc:  # before the data: nothing was sent
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        raise Temporary(f"SMTP {where}: {type(exc).__name__}: {exc}") from None
    finally:
        if smtp.is_connected:
            with suppress(Exception):
                await asyncio.wait_for(smtp.quit(), timeout=5)
            smtp.close()


@activity.defn(name=DELIVER_EMAIL)
async def deliver_email(request: ChannelRequest) -> ChannelOutcome:
    """Send one message by e-mail, at most once (see the module's docstring)."""
    key, channel = request.key, Channel.email
    settings = load_settings()
    found = await claim(key, channel, resend_window=None)
    if found.outcome is not None:
        return found.outcome
    assert found.message is not None
    off = email_off_reason(settings)
    if off:  # switched off since the delivery was planned
        return await record_outcome(key, channel, found.attempt, DeliveryStatus.skipped, error=off)
    try:
        email = build_email(found.message, found.address, settings)
        data = email.as_bytes()
    except Exception as exc:  # nothing was sent: back to pending, retried
        error = f"cannot compose the e-mail: {type(exc).__name__}: {exc}"
        await record_outcome(key, channel, found.attempt, DeliveryStatus.pending, error=error)
        raise ApplicationError(f"e-mail {key}: {error}", type=TEMPORARY_FAILURE) from None
    try:
        reply = await send_smtp(settings, data, settings.smtp_from, found.address)
    except Permanent as exc:
        _logger().warning("E-mail %s failed: %s", key, exc)
        return await record_outcome(
            key, channel, found.attempt, DeliveryStatus.failed, error=str(exc)
        )
    except MaybeSent as exc:
        reason = (
            f"{exc}: the message may have been delivered; SMTP cannot deduplicate, so it is "
            f"not resent automatically — check, then: "
            f"starter.py outbox resend {key} --channel email"
        )
        _logger().warning("E-mail %s uncertain: %s", key, exc)
        return await record_outcome(
            key, channel, found.attempt, DeliveryStatus.uncertain, error=reason, maybe_sent=True
        )
    except Temporary as exc:
        await record_outcome(key, channel, found.attempt, DeliveryStatus.pending, error=str(exc))
        raise ApplicationError(f"e-mail {key}: {exc}", type=TEMPORARY_FAILURE) from None
    _logger().info("E-mail %s sent to %s: %s", key, found.address, reply)
    return await record_outcome(
        key, channel, found.attempt, DeliveryStatus.sent, provider_id=email["Message-ID"]
    )


# --- WeChat ---------------------------------------------------------------------------------

# What the template-send endpoint's errcode means for this message.
WECHAT_TOKEN_ERRORS = {40001, 40014, 42001}  # invalid or expired access token: refresh, resend
WECHAT_PERMANENT = {
    40003: "invalid openid (check the binding)",
    40036: "invalid template_id size",
    40037: "invalid template_id (check config/wechat_templates.json)",
    43004: "the user does not follow the official account (unsubscribed)",
    43019: "the user has blocked the official account",
    43101: "the user refuses this message",
    47001: "malformed data",
    47003: "invalid template data (a field's name or value)",
}
WECHAT_TEMPORARY = {
    -1: "system busy",
    45009: "API daily quota reached",
    45011: "API frequency limit reached",
    45047: "message limit reached",
}


def e164(mobile: str) -> str:
    """'13800138000' / '+86 138 0013 8000' -> '+8613800138000' (unparseable: as given)."""
    try:
        number = phonenumbers.parse(mobile, "CN")
    except phonenumbers.NumberParseException:
        return mobile.strip()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_json_cache: dict[Path, tuple[int, Any]] = {}


def _read_json(path: Path, what: str) -> Any:
    """A configuration file, re-read when it changes. A missing file is None; an unreadable
    one is a Temporary failure (fix the file and the retries go through)."""
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    cached = _json_cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Temporary(f"{what} {path}: {exc}") from None
    if not isinstance(data, dict):
        raise Temporary(f"{what} {path}: expected a JSON object")
    _json_cache[path] = (stamp, data)
    return data


def openid_for(mobile: str, bindings: Path) -> str | None:
    """The openid bound to `mobile` in the bindings file ({"+8613800138000": "o6_bmjr..."};
    keys in any form phonenumbers reads, "_"-prefixed keys are comments)."""
    data = _read_json(bindings, "WeChat bindings (WECHAT_BINDINGS)") or {}
    wanted = e164(mobile)
    for number, openid in data.items():
        if not number.startswith("_") and isinstance(openid, str) and e164(number) == wanted:
            return openid
    return None


@dataclass(frozen=True)
class WeChatTemplate:
    template_id: str
    data: dict[str, str]  # field name -> Jinja2 source of its value
    url: str | None = None


def template_for(event: str, templates: Path) -> WeChatTemplate | None:
    """The event's entry of the templates file, else its `default`; None if neither."""
    config = _read_json(templates, "WeChat templates (WECHAT_TEMPLATES)") or {}
    entry = (config.get("events") or {}).get(event) or config.get("default")
    if entry is None:
        return None
    if not (isinstance(entry, dict) and entry.get("template_id") and entry.get("data")):
        raise Permanent(f"WeChat template for {event} in {templates}: needs template_id and data")
    return WeChatTemplate(
        template_id=str(entry["template_id"]),
        data={str(name): str(source) for name, source in entry["data"].items()},
        url=entry.get("url") or None,
    )


def _wx_time(value: str | datetime) -> str:
    """WeChat's `time` field form: 2025年10月03日 14:00 (Beijing time)."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{to_shanghai(instant):%Y年%m月%d日 %H:%M}"


def _clip(value: Any, length: int = 20) -> str:
    """WeChat limits field lengths (a `thing` to 20 characters): cut with an ellipsis."""
    text = " ".join(str(value).split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _template_environment() -> Environment:
    from activities.notify import cn_datetime  # the notifications' own date form

    environment = Environment(undefined=StrictUndefined, autoescape=False)
    environment.filters.update(cn_datetime=cn_datetime, wx_time=_wx_time, clip=_clip)
    return environment


_environment: Environment | None = None


def template_data(template: WeChatTemplate, message: Mapping[str, Any]) -> dict[str, Any]:
    """The `data` of the template message: each field rendered from the message's notification
    context and its own fields (subject, body, recipient_name, event, key, workflow_id,
    created_at). A field the message cannot fill is a Permanent failure of this message."""
    global _environment
    _environment = _environment or _template_environment()
    variables = {
        **(message.get("context") or {}),
        "key": message["key"],
        "workflow_id": message["workflow_id"],
        "event": message["event"],
        "recipient_name": message["recipient_name"],
        "subject": message["subject"],
        "body": message["body"],
        "created_at": message["created_at"],
    }
    data: dict[str, Any] = {}
    for name, source in template.data.items():
        try:
            value = _environment.from_string(source).render(variables)
        except (TemplateError, ValueError, TypeError) as exc:
            raise Permanent(f"WeChat template field {name} ({source!r}): {exc}") from None
        data[name] = {"value": value}
    return data


@dataclass
class _Token:
    value: str
    refresh_at: float  # time.monotonic()


_tokens: dict[tuple[str, str], _Token] = {}
_token_locks: dict[tuple[str, str], asyncio.Lock] = {}
TOKEN_MARGIN = 300.0  # refresh this long before WeChat's expires_in (7200 s)


def forget_tokens() -> None:
    """Drop cached access tokens (tests; a changed secret)."""
    _tokens.clear()


def _wechat_json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise MaybeSent(f"{what}: HTTP {response.status_code}")
    try:
        payload = response.json()
    except ValueError:
        raise MaybeSent(f"{what}: the answer is not JSON") from None
    if not isinstance(payload, dict):
        raise MaybeSent(f"{what}: the answer is not a JSON object")
    return payload


async def access_token(
    http: httpx.AsyncClient, settings: Settings, stale: str | None = None
) -> str:
    """The cached access token, fetched when missing, about to expire, or `stale` (refused)."""
    cache_key = (settings.wechat_api_base, settings.wechat_app_id)
    lock = _token_locks.setdefault(cache_key, asyncio.Lock())
    async with lock:
        cached = _tokens.get(cache_key)
        if cached and cached.value != stale and time.monotonic() < cached.refresh_at:
            return cached.value
        try:
            response = await http.get(
                f"{settings.wechat_api_base.rstrip('/')}/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": settings.wechat_app_id,
                    "secret": settings.wechat_app_secret,
                },
            )
            payload = _wechat_json(response, "access token")
        except (httpx.HTTPError, MaybeSent) as exc:  # nothing is sent by asking for a token
            raise Temporary(f"WeChat access token: {type(exc).__name__}: {exc}") from None
        if payload.get("errcode") or not payload.get("access_token"):
            raise Temporary(
                f"WeChat access token refused: errcode {payload.get('errcode')} "
                f"{payload.get('errmsg', '')}".rstrip()
            )
        expires_in = float(payload.get("expires_in") or 7200)
        margin = min(TOKEN_MARGIN, expires_in / 2)
        _tokens[cache_key] = _Token(
            str(payload["access_token"]), time.monotonic() + expires_in - margin
        )
        _logger().info("WeChat access token fetched (expires in %g s)", expires_in)
        return _tokens[cache_key].value


async def send_wechat(settings: Settings, body: dict[str, Any]) -> str:
    """POST one template message; returns WeChat's msgid. A refused token is refreshed and
    the message sent again at once (it was not accepted)."""
    url = f"{settings.wechat_api_base.rstrip('/')}/cgi-bin/message/template/send"
    content = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8"}
    async with httpx.AsyncClient(timeout=settings.wechat_timeout) as http:
        token = await access_token(http, settings)
        for retry_with_new_token in (True, False):
            try:
                response = await http.post(
                    url, params={"access_token": token}, content=content, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise Temporary(f"cannot reach WeChat: {type(exc).__name__}: {exc}") from None
            except httpx.HTTPError as exc:
                raise MaybeSent(f"no answer from WeChat: {type(exc).__name__}: {exc}") from None
            payload = _wechat_json(response, "template send")
            code = int(payload.get("errcode") or 0)
            if code == 0:
                return str(payload.get("msgid", ""))
            text = f"errcode {code} {payload.get('errmsg', '')}".rstrip()
            if code in WECHAT_TOKEN_ERRORS and retry_with_new_token:
                token = await access_token(http, settings, stale=token)
                continue
            if code in WECHAT_PERMANENT:
                raise Permanent(f"{WECHAT_PERMANENT[code]} ({text})")
            meaning = WECHAT_TEMPORARY.get(
                code, "access token refused" if code in WECHAT_TOKEN_ERRORS else "error"
            )
            raise Temporary(f"WeChat {meaning} ({text})")
    raise AssertionError("unreachable")  # pragma: no cover


def client_msg_id(key: str, resends: int) -> str:
    """WeChat deduplicates on it: the outbox key; an operator's n-th resend adds '#n'."""
    return key if resends == 0 else f"{key}#{resends}"


@activity.defn(name=DELIVER_WECHAT)
async def deliver_wechat(request: ChannelRequest) -> ChannelOutcome:
    """Send one message as a WeChat template message, exactly once within WeChat's
    client_msg_id window (see the module's docstring)."""
    key, channel = request.key, Channel.wechat
    settings = load_settings()
    window = min(timedelta(seconds=settings.wechat_dedup_window), WECHAT_DEDUP_LIMIT)
    found = await claim(key, channel, resend_window=window)
    if found.outcome is not None:
        return found.outcome
    assert found.message is not None
    message, attempt = found.message, found.attempt
    off = wechat_off_reason(settings)
    if off:
        return await record_outcome(key, channel, attempt, DeliveryStatus.skipped, error=off)
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
        if template.url:
            body["url"] = template.url
        msgid = await send_wechat(settings, body)
    except Permanent as exc:
        _logger().warning("WeChat %s failed: %s", key, exc)
        return await record_outcome(key, channel, attempt, DeliveryStatus.failed, error=str(exc))
    except MaybeSent as exc:  # resent with the same client_msg_id while WeChat deduplicates
        await record_outcome(
            key, channel, attempt, DeliveryStatus.pending, error=str(exc), maybe_sent=True
        )
        raise ApplicationError(f"WeChat {key}: {exc}", type=TEMPORARY_FAILURE) from None
    except Temporary as exc:
        await record_outcome(key, channel, attempt, DeliveryStatus.pending, error=str(exc))
        raise ApplicationError(f"WeChat {key}: {exc}", type=TEMPORARY_FAILURE) from None
    except Exception as exc:  # unforeseen: count it as possibly sent (a resend deduplicates)
        error = f"{type(exc).__name__}: {exc}"
        await record_outcome(
            key, channel, attempt, DeliveryStatus.pending, error=error, maybe_sent=True
        )
        raise ApplicationError(f"WeChat {key}: {error}", type=TEMPORARY_FAILURE) from None
    _logger().info("WeChat %s sent (msgid %s)", key, msgid)
    return await record_outcome(key, channel, attempt, DeliveryStatus.sent, provider_id=msgid)


# --- the workflow's other steps -------------------------------------------------------------


@activity.defn(name=PLAN_DELIVERY)
async def plan_delivery(request: PlanRequest) -> DeliveryPlan:
    """The channels of a message: one row each where it has an address (`skipped` where the
    channel is off); which still need sending. Idempotent."""
    settings = load_settings()
    plan = DeliveryPlan(key=request.key)
    async with get_engine().begin() as conn:
        message = await _lock_message(conn, request.key)
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
            current = await _channel_row(conn, request.key, channel)
            assert current is not None
            if current["status"] == DeliveryStatus.pending.value and off:  # a resend, still off
                await _set_channel(conn, request.key, channel, status="skipped", error=off)
                current = await _channel_row(conn, request.key, channel)
                assert current is not None
            if DeliveryStatus(current["status"]).is_final:
                plan.settled.append(_outcome(current))
            else:
                plan.to_send.append(channel)
        await _refresh_message(conn, request.key)
    return plan


@activity.defn(name=GIVE_UP_DELIVERY)
async def give_up_delivery(request: GiveUpRequest) -> ChannelOutcome:
    """Retries are over: `failed` with the last error, or `uncertain` if an attempt may have
    sent it."""
    key, channel = request.key, request.channel
    async with get_engine().begin() as conn:
        await _lock_message(conn, key)
        row = await _channel_row(conn, key, channel)
        if row is None:
            raise ApplicationError(f"{key}: no {channel.value} delivery", non_retryable=True)
        if not DeliveryStatus(row["status"]).is_final:
            maybe_sent = row["maybe_sent_at"] or (
                row["attempted_at"] if row["status"] == DeliveryStatus.sending.value else None
            )
            last = f"; last error: {row['error']}" if row["error"] else ""
            if maybe_sent is not None:
                status = "uncertain"
                error = f"{request.reason}{last}; an attempt may have sent it: not resent"
            else:
                status, error = "failed", f"{request.reason}{last}"
            await _set_channel(conn, key, channel, status=status, error=error)
            await _refresh_message(conn, key)
            row = await _channel_row(conn, key, channel)
            assert row is not None
    _logger().warning("Delivery %s by %s: %s", key, channel.value, row["status"])
    return _outcome(row)


DELIVERY_ACTIVITIES = [plan_delivery, deliver_email, deliver_wechat, give_up_delivery]


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
        message = await _lock_message(conn, key)
        if message is None:
            raise UnknownMessage(f"no outbox message {key!r}")
        address = message["email"] if channel is Channel.email else message["mobile"]
        if not address:
            what = "e-mail address" if channel is Channel.email else "mobile"
            raise UnknownMessage(
                f"{key}: the message has no {what}: nothing to send by {channel.value}"
            )
        row = await _channel_row(conn, key, channel)
        if row is None:  # never planned (delivery was off): the first delivery of this channel
            row_values = {
                "key": key,
                "channel": channel.value,
                "address": address,
                "status": "pending",
            }
            await insert_unless_exists(conn, NotificationDelivery, row_values, ["key", "channel"])
            await _refresh_message(conn, key)
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
        await _set_channel(
            conn,
            key,
            channel,
            status="pending",
            resends=resend,
            error=None,
            maybe_sent_at=None,
            address=address,
        )
        await _refresh_message(conn, key)
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
