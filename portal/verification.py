"""Verification codes for an applicant's own account (portal/routers/accounts.py): a 6-digit
code to a mobile or an e-mail address, through the notification outbox, for registering and
for resetting a password (docs/security.md "Registration and password reset").

- A code is kept as an HMAC under the portal's secret (store/verification.py), lives
  `lifetime` (10 minutes) and takes `tries` (5) entries, each counted before it is compared;
  after 5 wrong ones it is dead and a new one must be asked for. A new code for an address
  ends the address's earlier ones.
- Sending is limited, counted in the record database (every replica): one code a minute per
  address, `per_address` (5) an hour per address and `per_client` (10) an hour per client
  address (portal.security.client_address).
- The browser holds a random token naming its code (a hidden field), never the code; the
  outbox row holds the code in its body (the message), never in its subject; no log line
  names the code, the address or the ID-card number.
- The outbox row is written in the same transaction as the code, and its Delivery workflow
  is started after the commit as record_transition starts a declaration's
  (delivery.dispatch.start_deliveries): in the background, so that the answer takes as long
  whether or not a message was queued; when Temporal is unreachable or no channel is
  configured the row waits as `pending` for `starter.py outbox deliver`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from delivery.dispatch import delivery_enabled, start_deliveries
from delivery.outbox import outbox_row, put_in_outbox
from models.accounts import AddressKind
from models.common import Role
from models.records import NotificationEvent, NotificationRequest
from portal.context import Portal, Refusal
from rules.timezone import shanghai_iso
from store.tables import utcnow
from store.verification import add_code, find_code, sends_since, take_try

log = logging.getLogger(__name__)

REGISTER, RESET = "register", "reset"
EVENTS = {
    REGISTER: NotificationEvent.registration_code,
    RESET: NotificationEvent.password_reset_code,
}
CODE_DIGITS = 6
EXPIRED = "验证码已失效，请重新获取验证码。"
TOO_MANY_TRIES = "验证码输入错误次数过多，该验证码已失效，请重新获取验证码。"


@dataclass(frozen=True)
class CodePolicy:
    lifetime: timedelta = timedelta(minutes=10)
    tries: int = 5  # wrong entries a code takes
    interval: timedelta = timedelta(minutes=1)  # between two codes to one address
    per_address: int = 5  # codes an hour to one address
    per_client: int = 10  # codes an hour asked from one client address


@dataclass(frozen=True)
class Issued:
    token: str  # the browser's: names the code (a hidden field of the next form)
    shown_to: str  # the address, masked, as the page says where the code went


def masked_address(kind: AddressKind | str, address: str) -> str:
    """138****8000, z***@example.com: where a code went, as a page says it."""
    if AddressKind(kind) is AddressKind.mobile:
        digits = address.removeprefix("+86")
        return f"{digits[:3]}****{digits[-4:]}"
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def masked_id_card(id_card: str) -> str:
    """1101**********002X: an ID-card number where it is not the applicant's own form."""
    return f"{id_card[:4]}{'*' * (len(id_card) - 8)}{id_card[-4:]}"


class Verification:
    """The codes of one app (`app.state.verification`)."""

    def __init__(self, portal: Portal, policy: CodePolicy | None = None) -> None:
        self.portal, self.policy = portal, policy or CodePolicy()
        self._deliveries: set[asyncio.Task[Any]] = set()  # started in the background

    def _key(self, kind: str, value: str) -> str:
        """What a code is counted against (an address, a client address), keyed: a mobile
        number is too small a space for a plain hash."""
        message = f"verification-{kind}:{value}".encode()
        return hmac.new(self.portal.secret.encode(), message, hashlib.sha256).hexdigest()

    def _code_hash(self, token_hash: str, code: str) -> str:
        message = f"verification-code:{token_hash}:{code}".encode()
        return hmac.new(self.portal.secret.encode(), message, hashlib.sha256).hexdigest()

    async def within_limits(self, address: str, client: str) -> tuple[str, str]:
        """Refusal (429) when `address` had a code in the last minute, or the hour's codes to
        it or from `client` are used up; else the keys they are counted against."""
        policy, now = self.policy, utcnow()
        address_key, client_key = self._key("address", address), self._key("client", client)
        by_address, by_client, latest = await sends_since(
            self.portal.engine(), address_key, client_key, now - timedelta(hours=1)
        )
        if latest is not None and now - latest < policy.interval:
            raise Refusal("获取验证码过于频繁，请1分钟后再试。", "one code a minute", 429)
        if by_address >= policy.per_address or by_client >= policy.per_client:
            log.warning("verification code refused: hourly limit")
            raise Refusal("获取验证码次数过多，请1小时后再试。", "hourly limit", 429)
        return address_key, client_key

    async def issue(
        self,
        purpose: str,
        kind: AddressKind,
        address: str,
        client: str,
        *,
        recipient_name: str,
        pending: dict[str, Any],
        account_id: int | None = None,
        send: bool = True,
    ) -> Issued:
        """A new code for `address`; sent when `send` (a reset to an address of no account
        makes a code all the same, counted and answered the same, and sends nothing).
        Refusal (429) past the limits."""
        engine, policy, now = self.portal.engine(), self.policy, utcnow()
        address_key, client_key = await self.within_limits(address, client)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        token = secrets.token_urlsafe(32)
        token_hash = hashlib.sha256(token.encode()).hexdigest()
        ref = secrets.token_hex(8)  # the outbox key's: no personal data in it
        expires_at = now + policy.lifetime
        row = {
            "token_hash": token_hash,
            "ref": ref,
            "purpose": purpose,
            "address_key": address_key,
            "client_key": client_key,
            "code_hash": self._code_hash(token_hash, code),
            "expires_at": expires_at,
            "account_id": account_id,
            "pending": pending,
        }
        keys = []
        async with engine.begin() as conn:
            await add_code(conn, row, now)
            if send:
                event = EVENTS[purpose]
                request = NotificationRequest(
                    key=f"account-{ref}/1/{event.value}/{Role.applicant.value}",
                    workflow_id=f"account-{ref}",
                    event=event,
                    recipient_role=Role.applicant,
                    recipient_name=recipient_name,
                    mobile=address if kind is AddressKind.mobile else None,
                    email=address if kind is AddressKind.email else None,
                    context={
                        "code": code,
                        "minutes": int(policy.lifetime.total_seconds() // 60),
                        "expires_at": shanghai_iso(expires_at),
                    },
                )
                await put_in_outbox(conn, outbox_row(request))
                keys.append(request.key)
        log.info("verification code %s made (%s)", ref, purpose)
        if keys:
            task = asyncio.create_task(self._deliver(keys))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        return Issued(token, masked_address(kind, address))

    async def _deliver(self, keys: list[str]) -> None:
        settings = self.portal.settings
        if not delivery_enabled(settings):  # the row waits as pending (outbox deliver)
            return
        try:
            client = await self.portal.temporal()
            await start_deliveries(
                keys, client=client, task_queue=settings.task_queue, settings=settings
            )
        except Exception as exc:  # Temporal unreachable: `starter.py outbox deliver` later
            log.warning("delivery of %s not started: %s", keys, type(exc).__name__)

    async def delivered(self) -> None:
        """Waits for the deliveries started in the background (tests, shutdown)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    async def earlier_code(self, purpose: str, token: str) -> Any:
        """The code the token names, if neither used nor replaced (expired or past its
        tries too: a resend takes its details); None otherwise."""
        if not token or len(token) > 100:
            return None
        row = await find_code(self.portal.engine(), hashlib.sha256(token.encode()).hexdigest())
        if row is None or row.purpose != purpose or row.used_at is not None:
            return None
        return row

    async def pending_code(self, purpose: str, token: str) -> Any:
        """The live code the token names (not used, not replaced, not expired, not past its
        tries); Refusal otherwise."""
        row = await self.earlier_code(purpose, token)
        if row is None:
            raise Refusal(EXPIRED, "unknown or used code", 400)
        if utcnow() >= row.expires_at:
            raise Refusal("验证码已过期（10分钟内有效），请重新获取验证码。", "expired", 400)
        if row.attempts >= self.policy.tries:
            raise Refusal(TOO_MANY_TRIES, "too many wrong codes", 429)
        return row

    async def check(self, purpose: str, token: str, code: str) -> Any:
        """The code's row when `code` is right (to be used up by the caller, in its
        transaction: store.verification.use_code). Every entry takes one of the code's tries
        before it is compared; a wrong one is a Refusal saying how many are left."""
        row = await self.pending_code(purpose, token)
        entries = await take_try(self.portal.engine(), row.id, self.policy.tries)
        if entries is None:
            raise Refusal(TOO_MANY_TRIES, "too many wrong codes", 429)
        given = code.strip()[: CODE_DIGITS * 2]
        if hmac.compare_digest(self._code_hash(row.token_hash, given), row.code_hash):
            return row
        left = self.policy.tries - entries
        if left <= 0:
            raise Refusal(TOO_MANY_TRIES, "too many wrong codes", 429)
        raise Refusal(f"验证码不正确，还可以再试{left}次。", "wrong code", 400)
