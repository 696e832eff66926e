"""E-mail over SMTP (aiosmtplib): the message as sent and one SMTP transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import suppress
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from typing import Any

import aiosmtplib

from delivery.failures import MaybeSent, Permanent, Temporary
from models.delivery import (
    safe_id_part,
)
from rules.timezone import to_shanghai
from settings import Settings

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
