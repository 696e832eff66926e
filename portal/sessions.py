"""Server-side sessions (rows of the record database: store/sessions.py), as an ASGI middleware.

The session cookie holds only a random id. Each request's `request.session` is a plain dict:
`{"uid": account id, "csrf": token}` for a live session, `{"csrf": token}` (or empty) before
login. A session ends at logout, when its account's password changes (every session of the
account), after PORTAL_SESSION_IDLE_MINUTES without a request and PORTAL_SESSION_ABSOLUTE_HOURS
after its login; an ended or unknown id is refused and its cookie cleared. A login always makes
a new session (a new id and CSRF token: the id is rotated) and ends the one before.

Before login there is no row (an anonymous visitor writes nothing to the database): the login
form's CSRF token travels in a cookie of its own, signed with PORTAL_SECRET, and the form must
send the same token back (a double-submit check).

Both cookies are HttpOnly, SameSite=Lax, Path=/; with PORTAL_HTTPS_ONLY also Secure and named
with the `__Host-` prefix (no subdomain can set or overwrite them).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.security import new_csrf_token
from store.sessions import (
    create_session,
    end_expired_sessions,
    end_session,
    find_session,
    touch_session,
)
from store.tables import utcnow

SESSION_COOKIE = "zhicheng_session"
CSRF_COOKIE = "zhicheng_csrf"  # the login form's token, before there is a session
STATE = "zhicheng.session"  # the scope key of the request's SessionState


@dataclass
class SessionState:
    """What the middleware knows about the request's session, and what the response does
    to the cookies (set by `Sessions.begin` / `Sessions.end`)."""

    session_id: str | None = None  # the live session's id, from the cookie (or just made)
    new_session_id: str | None = None  # made during this request: the cookie to set
    clear_session: bool = False  # the cookie named a session that is gone: remove it
    anonymous_csrf: str | None = None  # the login form's token as the request brought it
    data: dict[str, Any] = field(default_factory=dict)  # request.session


class Sessions:
    """The session policy of one app (`app.state.sessions`) and its middleware's work."""

    def __init__(
        self,
        engine: Callable[[], AsyncEngine],
        *,
        secret: str,
        idle: timedelta,
        absolute: timedelta,
        https_only: bool,
    ) -> None:
        self.engine, self.secret = engine, secret
        self.idle, self.absolute, self.https_only = idle, absolute, https_only
        self.touch_every = min(timedelta(minutes=1), idle / 10)  # last_seen_at's resolution
        self._swept_at: datetime | None = None  # when this app last deleted expired sessions
        prefix = "__Host-" if https_only else ""
        self.session_cookie, self.csrf_cookie = prefix + SESSION_COOKIE, prefix + CSRF_COOKIE

    # --- the cookies -------------------------------------------------------------------------

    def _cookie(self, name: str, value: str, max_age: int) -> str:
        parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
        if max_age == 0:
            parts.insert(2, "Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        if self.https_only:
            parts.append("Secure")
        return "; ".join(parts)

    def _signed(self, token: str) -> str:
        mac = hmac.new(self.secret.encode(), f"login-csrf:{token}".encode(), hashlib.sha256)
        return f"{token}.{mac.hexdigest()}"

    def _unsigned(self, value: str | None) -> str | None:
        token = (value or "").rpartition(".")[0]
        return token if token and hmac.compare_digest(self._signed(token), value or "") else None

    def cookies(self, state: SessionState) -> list[str]:
        """The Set-Cookie values of the response."""
        if state.new_session_id:
            lifetime = int(self.absolute.total_seconds())
            cleared = [self._cookie(self.csrf_cookie, "", 0)] if state.anonymous_csrf else []
            return [self._cookie(self.session_cookie, state.new_session_id, lifetime), *cleared]
        cookies = [self._cookie(self.session_cookie, "", 0)] if state.clear_session else []
        csrf = state.data.get("csrf")
        if state.session_id is None and csrf and csrf != state.anonymous_csrf:
            lifetime = int(self.absolute.total_seconds())  # a login page left open all day
            cookies.append(self._cookie(self.csrf_cookie, self._signed(csrf), lifetime))
        return cookies

    # --- a request's session -----------------------------------------------------------------

    def live(self, row: Any, now: datetime) -> bool:
        return now - row.last_seen_at < self.idle and now - row.created_at < self.absolute

    async def load(self, scope: Scope) -> SessionState:
        cookies = HTTPConnection(scope).cookies
        state = SessionState()
        session_id = cookies.get(self.session_cookie)
        if session_id:
            row = await find_session(self.engine(), session_id)
            now = utcnow()
            if row is not None and self.live(row, now):
                state.session_id = session_id
                state.data = {"uid": row.account_id, "csrf": row.csrf}
                if now - row.last_seen_at >= self.touch_every:
                    await touch_session(self.engine(), row.id_hash, now)
            else:
                if row is not None:  # timed out: gone for good
                    await end_session(self.engine(), session_id)
                state.clear_session = True
        if state.session_id is None:
            state.anonymous_csrf = self._unsigned(cookies.get(self.csrf_cookie))
            if state.anonymous_csrf:
                state.data = {"csrf": state.anonymous_csrf}
        return state

    async def begin(self, request: Request, account_id: int) -> None:
        """A new session of `account_id` for this browser (a login, a password change): a
        new id and CSRF token; the browser's session before, if any, ends."""
        state: SessionState = request.scope[STATE]
        now = utcnow()
        if self._swept_at is None or now - self._swept_at > timedelta(minutes=1):
            self._swept_at = now  # at most once a minute per replica: a scan of the table
            await end_expired_sessions(
                self.engine(), idle_before=now - self.idle, created_before=now - self.absolute
            )
        csrf = new_csrf_token()
        session_id = await create_session(
            self.engine(), account_id, csrf, now, replaces=state.session_id
        )
        state.session_id = state.new_session_id = session_id
        state.clear_session = False
        request.session.clear()
        request.session.update(uid=account_id, csrf=csrf)

    async def end(self, request: Request) -> None:
        """This browser's session ends (logout)."""
        state: SessionState = request.scope[STATE]
        if state.session_id:
            await end_session(self.engine(), state.session_id)
            state.clear_session = True
        state.session_id = state.new_session_id = None
        request.session.clear()


class SessionMiddleware:
    """`request.session` from the session cookie (Sessions.load), and the response's cookies
    (Sessions.cookies)."""

    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app, self.sessions = app, sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        state = await self.sessions.load(scope)
        scope[STATE] = state
        scope["session"] = state.data

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for cookie in self.sessions.cookies(state):
                    headers.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookies)
