"""CSRF tokens, login throttling, the blind-review code (passwords: store/passwords.py)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import defaultdict, deque


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def blind_code(workflow_id: str, secret: str) -> str:
    """R11: the anonymous code the evaluation body sees instead of the workflow id (which
    carries the applicant key) — keyed, so it cannot be recomputed from a guessed id."""
    mac = hmac.new(secret.encode(), f"blind:{workflow_id}".encode(), hashlib.sha256)
    return "R" + mac.hexdigest()[:10].upper()


class LoginThrottle:
    """At most `limit` failed logins per (username, client address) within `window` seconds.

    Kept in the process (a restart forgets it; several portal processes each count their own)."""

    def __init__(self, limit: int = 5, window: float = 15 * 60) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def blocked(self, username: str, address: str) -> bool:
        return len(self._recent((username.lower(), address), time.monotonic())) >= self.limit

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        self._recent((username.lower(), address), now).append(now)

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop((username.lower(), address), None)
