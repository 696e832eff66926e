"""Shapes of the `Delivery` workflow and its activities (the outbox → SMTP / WeChat boundary).

Pure pydantic: importable in the workflow sandbox (no SQLAlchemy, aiosmtplib or httpx here).
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum

from pydantic import Field

from models.common import Strict

DELIVERY_WORKFLOW_TYPE = "Delivery"

# Activity names: the workflow calls them by name, so its module imports no I/O library.
PLAN_DELIVERY = "plan_delivery"
DELIVER_EMAIL = "deliver_email"
DELIVER_WECHAT = "deliver_wechat"
GIVE_UP_DELIVERY = "give_up_delivery"


class Channel(StrEnum):
    email = "email"  # SMTP, where the recipient's e-mail address is known
    wechat = "wechat"  # WeChat official-account template message to the openid bound to the mobile


SEND_ACTIVITY = {Channel.email: DELIVER_EMAIL, Channel.wechat: DELIVER_WECHAT}


class DeliveryStatus(StrEnum):
    """One channel of one message (table `notification_deliveries`)."""

    pending = "pending"  # to be sent (again: a definite failure left it unsent)
    sending = "sending"  # intent recorded, outcome not yet recorded
    sent = "sent"  # the server accepted it (SMTP 250, WeChat errcode 0)
    failed = "failed"  # permanently refused (reason in `error`), or retries given up
    uncertain = "uncertain"  # may have been sent: not resent automatically (at most once)
    skipped = "skipped"  # the channel is off (not configured) when the message came

    @property
    def is_final(self) -> bool:
        return self not in (DeliveryStatus.pending, DeliveryStatus.sending)


class DeliveryInput(Strict):
    """Deliver one outbox message. The timings come from settings.py when the delivery is
    started (record_transition, `starter.py outbox resend`): the workflow reads no settings."""

    key: str = Field(min_length=1)  # the outbox key
    # None: every channel the message has an address for; a resend names one
    channels: list[Channel] | None = None
    resend: int = Field(default=0, ge=0)  # 0: the first delivery; n: the operator's n-th resend
    retry_initial: timedelta = timedelta(seconds=10)
    retry_maximum: timedelta = timedelta(minutes=10)
    attempt_timeout: timedelta = timedelta(seconds=60)
    give_up_after: timedelta = timedelta(hours=24)


class PlanRequest(Strict):
    key: str
    channels: list[Channel] | None = None


class ChannelOutcome(Strict):
    channel: Channel
    status: DeliveryStatus
    attempts: int = 0
    detail: str | None = None  # the reason of a failure, skip or uncertainty; the provider id


class DeliveryPlan(Strict):
    key: str
    to_send: list[Channel] = Field(default_factory=list)  # channels with work to do
    settled: list[ChannelOutcome] = Field(default_factory=list)  # final already (or skipped now)


class ChannelRequest(Strict):
    key: str
    channel: Channel


class GiveUpRequest(Strict):
    key: str
    channel: Channel
    reason: str


class DeliveryResult(Strict):
    key: str
    outcomes: list[ChannelOutcome]


_SAFE = re.compile(r"[A-Za-z0-9_-]")


def safe_id_part(key: str) -> str:
    """An outbox key as part of a workflow id, readable and injective: letters, digits, '_'
    and '-' stay, '/' becomes '.', anything else (including '.', '~' and '%') is %XX-escaped.
    'decl-2025-ab12/3/publicity_started/applicant' -> 'decl-2025-ab12.3.publicity_started.applicant'
    """
    parts: list[str] = []
    for char in key:
        if _SAFE.fullmatch(char):
            parts.append(char)
        elif char == "/":
            parts.append(".")
        else:
            parts.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(parts)


def delivery_workflow_id(key: str, resend: int = 0, channel: Channel | None = None) -> str:
    """`deliver-{key}` for the first delivery; `deliver-{key}~{channel}-{n}` for a resend."""
    base = f"deliver-{safe_id_part(key)}"
    if resend == 0:
        return base
    return f"{base}~{channel.value if channel else 'all'}-{resend}"
