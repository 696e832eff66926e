"""Render a notification from its template and put it in the outbox, once per key (R16)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db import get_engine, insert_unless_exists
from activities.delivery import start_deliveries
from models.records import NotificationEvent, NotificationRequest
from models.tables import OutboxMessage
from rules.timezone import closing_day, to_shanghai
from settings import ROOT

TEMPLATES = ROOT / "templates" / "notifications"
# The error type a caller can list in RetryPolicy.non_retryable_error_types to fail fast;
# by default it retries, so deploying a fixed template lets the activity succeed.
TEMPLATE_ERROR = "NotificationTemplateError"


def cn_datetime(value: str | datetime) -> str:
    """'2025-10-03T06:00:00Z' -> '2025年10月03日 14:00（北京时间 UTC+08:00）'. A deadline at
    midnight reads as 24:00 of the day before, as official notices write it (R13: 'ends at
    24:00 of the 5th working day')."""
    local = to_shanghai(datetime.fromisoformat(value) if isinstance(value, str) else value)
    offset = local.strftime("%z")  # +0800
    zone = f"（北京时间 UTC{offset[:3]}:{offset[3:]}）"
    day, at_midnight = closing_day(local)
    return f"{day:%Y年%m月%d日} {'24:00' if at_midnight else f'{local:%H:%M}'}{zone}"


_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    undefined=StrictUndefined,  # a variable the workflow did not pass is an error, never ""
    autoescape=False,  # plain text: WeChat message and e-mail body
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
_environment.filters["cn_datetime"] = cn_datetime
_environment.globals.update(
    platform_name="新疆专业技术人员管理平台",
    series_zh="工程系列（光伏硅基专业）",  # R1; a context variable of the same name overrides it
)


def render(event: NotificationEvent, context: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, body) of `event` rendered with `context`; Jinja2 errors propagate."""
    template = _environment.get_template(f"{event.value}.txt.j2")
    variables = template.new_context(dict(context))
    subject, body = (
        "".join(template.blocks[name](variables)).strip() for name in ("subject", "body")
    )
    return " ".join(subject.split()), body


def outbox_row(request: NotificationRequest) -> dict[str, Any]:
    """The rendered outbox row of `request`; a template error becomes a retryable failure."""
    try:
        subject, body = render(
            request.event, {"recipient_name": request.recipient_name, **request.context}
        )
    except (TemplateError, ValueError, TypeError) as exc:
        activity.logger.error(
            "Cannot render %s notification %s: %s", request.event.value, request.key, exc
        )
        raise ApplicationError(
            f"notification {request.key}: template {request.event.value}.txt.j2: {exc}",
            type=TEMPLATE_ERROR,
        ) from exc
    return {
        "key": request.key,
        "workflow_id": request.workflow_id,
        "event": request.event.value,
        "recipient_role": request.recipient_role.value,
        "recipient_name": request.recipient_name,
        "mobile": request.mobile,
        "email": request.email,
        "subject": subject,
        "body": body,
        # kept for the delivery: WeChat template fields are filled from it
        "context": request.model_dump(mode="json")["context"],
    }


async def put_in_outbox(conn: AsyncConnection, row: dict[str, Any]) -> bool:
    """Insert a rendered row inside the caller's transaction, once per key."""
    written = await insert_unless_exists(conn, OutboxMessage, row, ["key"])
    activity.logger.info(
        "Notification %s (%s to %s): %s",
        row["key"],
        row["event"],
        row["recipient_role"],
        "queued" if written else "already queued",
    )
    return written


@activity.defn
async def queue_notification(request: NotificationRequest) -> None:
    """A notification not tied to a transition (transitions carry theirs: record.py)."""
    row = outbox_row(request)
    async with get_engine().begin() as conn:
        await put_in_outbox(conn, row)
    await start_deliveries([row["key"]])
