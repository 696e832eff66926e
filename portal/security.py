"""CSRF tokens, the client's address, login throttling, passwords checked off the event loop,
the blind-review code (passwords: store/passwords.py; sessions: portal/sessions.py)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from store.passwords import hash_password, verify_password
from store.sessions import clear_failures, count_failures, failure_key, record_failure
from store.tables import utcnow

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def blind_code(workflow_id: str, secret: str) -> str:
    """R11: the anonymous code the evaluation body sees instead of the workflow id (which
    carries the applicant key) — keyed, so it cannot be recomputed from a guessed id."""
    mac = hmac.new(secret.encode(), f"blind:{workflow_id}".encode(), hashlib.sha256)
    return "R" + mac.hexdigest()[:10].upper()


def message_ref(key: str, secret: str) -> str:
    """How the inbox's forms name a message (portal/routers/inbox.py): keyed, as the blind
    code, since the outbox key carries the workflow id (R11: never shown to a blind
    reviewer)."""
    return hmac.new(secret.encode(), f"message:{key}".encode(), hashlib.sha256).hexdigest()[:32]


# --- the client's address --------------------------------------------------------------------


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(text: str, proxies: Sequence[Network]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]
) -> str:
    """Who is asking: the connection's peer, unless the peer is a trusted proxy
    (PORTAL_TRUSTED_PROXIES); then X-Forwarded-For read from the right (each proxy appends
    the address it was connected from), the first hop that is not itself a trusted proxy.
    What a client writes into X-Forwarded-For itself is to the left of that: never read."""
    peer = peer or "?"
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            address = _address(hop)
            return str(address) if address is not None else hop[:64]
    return hops[0] if hops else peer  # only proxies: the farthest one


# --- login throttling ------------------------------------------------------------------------


class LoginThrottle:
    """Failed logins, counted in the record database (every portal replica shares them):
    within `window` seconds at most `per_account` failures for one username, from any address,
    and at most `per_address` from one client address, whatever the usernames (password
    spraying). Past either, logins are refused without checking the password until the
    window has moved past the failures. A success clears the account's failures, never the
    address's (one's own account cannot reset a sprayer's count)."""

    def __init__(self, *, per_account: int = 5, per_address: int = 20, window: float = 900) -> None:
        self.per_account, self.per_address = per_account, per_address
        self.window = timedelta(seconds=window)

    @classmethod
    def from_settings(cls, settings: Any) -> LoginThrottle:
        return cls(
            per_account=settings.portal_login_account_failures,
            per_address=settings.portal_login_address_failures,
            window=settings.portal_login_window_minutes * 60,
        )

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return failure_key("account", username.strip().lower()), failure_key("address", address)

    async def blocked(self, engine: AsyncEngine, username: str, address: str) -> bool:
        account, by_address = self._keys(username, address)
        counts = await count_failures(engine, (account, by_address), utcnow() - self.window)
        if counts[by_address] >= self.per_address:
            log.warning("login refused: %d failures from %s", counts[by_address], address)
            return True
        if counts[account] >= self.per_account:
            log.warning("login refused: %d failures for one account", counts[account])
            return True
        return False

    async def failed(self, engine: AsyncEngine, username: str, address: str) -> None:
        now = utcnow()
        await record_failure(
            engine, self._keys(username, address), now, forget_before=now - self.window
        )

    async def succeeded(self, engine: AsyncEngine, username: str, address: str) -> None:
        await clear_failures(engine, self._keys(username, address)[0])


# --- passwords, off the event loop -----------------------------------------------------------

# argon2id takes tens of milliseconds and 64 MiB a hash: a few threads of their own, so that a
# burst of logins neither stalls the event loop nor runs the memory out (they queue here).
_PASSWORD_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="argon2")


async def check_password(password_hash: str | None, password: str) -> bool:
    """store.passwords.verify_password in a password thread (None: an unknown account, checked
    against a dummy hash all the same)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_PASSWORD_THREADS, verify_password, password_hash, password)


async def new_password_hash(password: str) -> str:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_PASSWORD_THREADS, hash_password, password)
