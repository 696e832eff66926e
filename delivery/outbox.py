"""Notifications rendered from their templates into the outbox, once per key (R16): the
row is written inside the caller's transaction, so a transition and its messages commit together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.records import BLIND_ROLES, NotificationEvent, NotificationRequest, message_path
from rules.timezone import cn_datetime
from settings import DEFAULT_PORTAL_URL, ROOT
from store.db import insert_unless_exists
from store.tables import OutboxMessage

TEMPLATES = ROOT / "templates" / "notifications"
# The error type a caller can list in RetryPolicy.non_retryable_error_types to fail fast;
# by default it retries, so deploying a fixed template lets the activity succeed.
TEMPLATE_ERROR = "NotificationTemplateError"


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


def message_context(request: NotificationRequest, portal_url: str) -> dict[str, Any]:
    """What the message's templates see besides the request's context: the portal's address
    (`portal_url`) and the page of the message's recipient there (`link`, absolute); and the
    declaration's 申报编号 (`declaration_number`) where a request made before it was carried
    has only the workflow id (`declaration_id`), which it then stands for. Blind messages
    (R11) get no number: their context names no declaration."""
    context = {
        **request.model_dump(mode="json")["context"],
        "portal_url": portal_url,
        "link": portal_url + message_path(request.recipient_role, request.workflow_id),
    }
    if request.recipient_role not in BLIND_ROLES and "declaration_id" in context:
        context["declaration_number"] = (
            context.get("declaration_number") or context["declaration_id"]
        )
    return context


def outbox_row(
    request: NotificationRequest, portal_url: str = DEFAULT_PORTAL_URL
) -> dict[str, Any]:
    """The rendered outbox row of `request`, its links to the portal at `portal_url`
    (ZHICHENG_PORTAL_URL); a template error becomes a retryable failure."""
    context = message_context(request, portal_url.rstrip("/"))
    try:
        subject, body = render(request.event, {"recipient_name": request.recipient_name, **context})
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
        # whose inbox shows it (store/inbox.py), as the accounts spell it
        "organisation": (request.organisation or "").strip() or None,
        "mobile": request.mobile,
        "email": request.email,
        "subject": subject,
        "body": body,
        # kept for the delivery: WeChat template fields (and its link) are filled from it
        "context": context,
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
