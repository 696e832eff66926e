"""What every part of delivery shares: its logger and constants."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio import activity

log = logging.getLogger("zhicheng.delivery")
# httpx logs each request's URL at INFO; the token request's URL carries the app secret.
logging.getLogger("httpx").setLevel(logging.WARNING)

TEMPORARY_FAILURE = "DeliveryTemporaryFailure"  # the error type a retried attempt raises
SMTP_SECURITY = ("none", "starttls", "tls")
WECHAT_DEDUP_LIMIT = timedelta(minutes=10)  # WeChat's own client_msg_id window


def redacted(text: str, *addresses: str | None) -> str:
    """`text` with each address (an e-mail, a mobile, also without +86) as <recipient>: for log
    records and Temporal failure messages, which carry no personal data. The ledger's own
    error column keeps the whole text (the operator's listing; the row holds the address)."""
    for address in addresses:
        if not address:
            continue
        text = text.replace(address, "<recipient>")
        if address.startswith("+86") and len(address) > 6:
            text = text.replace(address[3:], "<recipient>")
    return text


def delivery_logger() -> logging.LoggerAdapter[logging.Logger] | logging.Logger:
    return activity.logger if activity.in_activity() else log
