"""The portal's ASGI middleware besides the sessions (portal/sessions.py): the security headers
of every response, and the request body limit, enforced before anything reads the body.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = "/static/"  # the portal's own scripts and styles (portal/static/): cacheable

# Only the portal's own scripts, styles and images: no inline script or style (the pages
# link portal/static/), no plugin, no other site's form target, never in a frame.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def security_headers(path: str, https_only: bool) -> dict[str, str]:
    """The headers every response carries. Everything but the static files is `no-store`:
    the pages show personal data, and a page after logout must not come from a cache."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if not path.startswith(STATIC):
        headers["Cache-Control"] = "no-store"
    if https_only:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, https_only: bool) -> None:
        self.app, self.https_only = app, https_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = security_headers(scope["path"], self.https_only)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    if name == "Cache-Control" and "no-store" in headers.get(name, ""):
                        continue  # the route's own ("private, no-store") says as much
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- the request body limit ------------------------------------------------------------------


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the body has passed its limit: nothing reads further."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_text(limit))


def too_large_text(limit: int) -> str:
    size = f"{limit / 1024 / 1024:.0f}MB" if limit >= 1024 * 1024 else f"{limit // 1024}KB"
    return f"提交的内容过大：不能超过{size}。"


class BodyLimitMiddleware:
    """Every request's body within `limit_for(scope)` bytes. A Content-Length above it is
    answered 413 at once (the app is not called, the body not read); a body without one (or
    longer than it said) is counted as it streams in, and the first message past the limit
    raises BodyTooLarge: 413, and nothing more is received."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[Scope], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received, started = 0, False

        async def receive_within_limit() -> Message:
            nonlocal received
            if received > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def send_started(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_within_limit, send_started)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = PlainTextResponse(too_large_text(limit), status_code=413)
        response.headers["Connection"] = "close"  # the rest of the body is never read
        await response(scope, receive, send)
