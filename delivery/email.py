"""E-mail over SMTP (aiosmtplib): the message as sent and one SMTP transaction."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
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
from models.records import BLIND_ROLES
from rules.timezone import to_shanghai
from settings import Settings

# --- e-mail ---------------------------------------------------------------------------------


def message_id(key: str, from_address: str) -> str:
    """The same Message-ID for every attempt and resend of a message: readable, derived from
    the outbox key (no personal data: the key holds the pseudonymous workflow id)."""
    domain = from_address.rpartition("@")[2] or "zhicheng.invalid"
    return f"<{safe_id_part(key)}.zhicheng@{domain}>"


BLIND_ROLE_NAMES = frozenset(role.value for role in BLIND_ROLES)


def shown_key(message: Mapping[str, Any]) -> str:
    """The key as the recipient's mail shows it (Message-ID, X-Zhicheng-Outbox-Key): the key
    itself, except to a blind reviewer (R11), whose messages never show the workflow id (it
    carries the applicant key): "blind-" and the first 32 hex digits of the key's SHA-256."""
    key: str = message["key"]
    if message.get("recipient_role") in BLIND_ROLE_NAMES:
        return "blind-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return key


def build_email(message: Mapping[str, Any], to: str, settings: Settings) -> EmailMessage:
    """The message as sent: UTF-8 subject (RFC 2047) and body (base64), CRLF line ends. It is
    the same bytes on every attempt, Date included (the time it was queued)."""
    email = EmailMessage(policy=SMTP_POLICY)
    email["Subject"] = message["subject"]
    email["From"] = Address(display_name=settings.smtp_from_name, addr_spec=settings.smtp_from)
    email["To"] = Address(display_name=message["recipient_name"], addr_spec=to)
    email["Date"] = format_datetime(to_shanghai(message["created_at"]))
    email["Message-ID"] = message_id(shown_key(message), settings.smtp_from)
    email["Auto-Submitted"] = "auto-generated"
    email["X-Zhicheng-Outbox-Key"] = shown_key(message)
    email.set_content(message["body"], charset="utf-8", cte="base64")
    return email


def _smtp_reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


# What aiosmtplib's SMTPProtocol.execute_data_command does to the message before sending it:
# every line ending CRLF (a lone CR or LF too), a final CRLF, a leading "." doubled (RFC 5321
# 4.5.2 transparency), so that the only line "." the server sees is the end of the data.
_LINE_ENDINGS = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")
END_OF_DATA = b".\r\n"  # after the body's final CRLF: the <CRLF>.<CRLF> that ends the data


def data_lines(data: bytes) -> bytes:
    """The message as it is sent after DATA's 354, without the end-of-data line."""
    body = _LINE_ENDINGS.sub(b"\r\n", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return _LEADING_DOT.sub(b"..", body)


BeforeEndOfData = Callable[[], Awaitable[None]]


async def _transmit(
    smtp: aiosmtplib.SMTP, data: bytes, before_end: BeforeEndOfData, timeout: float
) -> aiosmtplib.SMTPResponse:
    """DATA in two steps, so that the end of the data is sent only once `before_end` has
    recorded that the message may now be accepted. Up to that point the server cannot have
    accepted it: only the end of the data makes it process the transaction (RFC 5321), and
    one whose connection ends before discards what it received, so an attempt that stops
    there is safely made again. Raises Temporary before the end of the data is written, and
    MaybeSent after it when no final answer comes (an answer is returned, whatever its code)."""
    reply = await smtp.execute_command(b"DATA", timeout=timeout)
    if reply.code != 354:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    protocol = smtp.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    # As execute_data_command does: a reply arriving from here on is the message's (the
    # protocol drops data no command awaits).
    protocol._response_pending = True
    try:
        protocol.write(data_lines(data))
        try:
            await before_end()
        except Exception as exc:
            raise Temporary(
                "not sent: the end of the message data was held back, since it could not be "
                f"recorded that the message may be accepted ({type(exc).__name__}: {exc})"
            ) from None
        protocol.write(END_OF_DATA)  # raises if the connection is gone: then nothing was written
        try:
            return await protocol.read_response(timeout=timeout)
        except Exception as exc:  # the end of the data has left, and no answer came
            raise MaybeSent(
                f"no reply after the end of the message data ({type(exc).__name__}: {exc})"
            ) from None
    except BaseException:
        # Inside DATA nothing more is sent (a QUIT would be data): closing the connection
        # before the end of the data makes the server discard the message; after it, the
        # connection is out of step (as SMTP.data closes it on a timeout).
        smtp.close()
        raise


async def send_smtp(
    settings: Settings,
    data: bytes,
    sender: str,
    recipient: str,
    before_end: BeforeEndOfData,
) -> str:
    """One SMTP transaction. `before_end` is awaited once the message's data has been written
    and before its end is: it records, durably, that the message may be accepted from now
    on; if it raises, the end is not sent and nothing is (Temporary). Returns the server's
    reply to the end of the data; raises Temporary or Permanent (the server said so, or the
    end of the data was never sent: nothing can have been accepted) or MaybeSent (only once
    the end of the data has left and no final reply came)."""
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
            reply = await _transmit(smtp, data, before_end, settings.smtp_timeout)
        except aiosmtplib.SMTPDataError as exc:  # DATA itself refused
            if 500 <= exc.code < 600:
                raise Permanent(f"message refused: {_smtp_reply(exc)}") from None
            raise Temporary(f"message deferred: {_smtp_reply(exc)}") from None
        answer = f"{reply.code} {reply.message}".strip()
        if 200 <= reply.code < 300:
            return answer
        if 500 <= reply.code < 600:
            raise Permanent(f"message refused: {answer}")
        if 400 <= reply.code < 500:
            raise Temporary(f"message deferred: {answer}")
        raise MaybeSent(f"no final reply after the end of the message data: {answer}")
    except (Temporary, Permanent, MaybeSent):
        raise
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise Temporary(f"SMTP login refused: {_smtp_reply(exc)}") from None
    except aiosmtplib.SMTPResponseException as exc:
        raise Temporary(f"SMTP server said {_smtp_reply(exc)}") from None
    except UnicodeError as exc:  # a non-ASCII address: this client does not speak SMTPUTF8
        raise Permanent(f"address not sendable without SMTPUTF8: {exc}") from None
    except Exception as exc:  # before the end of the data: nothing can have been accepted
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        raise Temporary(f"SMTP {where}: {type(exc).__name__}: {exc}") from None
    finally:
        if smtp.is_connected:
            with suppress(Exception):
                await asyncio.wait_for(smtp.quit(), timeout=5)
            smtp.close()
