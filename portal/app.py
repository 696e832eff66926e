"""The portal: server-rendered pages (Jinja2, Chinese) over the record database, acting on
declarations only through the Declaration workflow's updates (client.declarations.act).

Run: `uvicorn portal.app:app --no-proxy-headers` (scripts/run.sh starts it beside the worker;
the client address behind a proxy is PORTAL_TRUSTED_PROXIES's business, not uvicorn's).
The actor sent to a workflow is always the logged-in account's role and id, never a form field.
`create_app` builds what the routes share in `app.state` and includes the routers
(portal/routers/, one per role); the routes get it through portal/deps.py. Around them, from
the outside in: the security headers and the request body limit (portal/middleware.py), the
server-side sessions (portal/sessions.py). docs/security.md says why.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from temporalio.client import Client

from portal import routers
from portal.bound import BoundInputs
from portal.context import Portal, portal_templates
from portal.error_pages import HANDLERS
from portal.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware, security_headers
from portal.security import LoginThrottle
from portal.sessions import SessionMiddleware, Sessions
from portal.uploads import body_limit
from portal.verification import Verification
from settings import Settings, load_settings, load_settings_or_exit

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"  # portal.css, mask.js


def create_app(
    *,
    client: Client | None = None,
    client_factory: Callable[[], Awaitable[Client]] | None = None,
    database_url: str | None = None,
    secret: str | None = None,
    https_only: bool = False,
    throttle: LoginThrottle | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    """The app. Tests pass their Temporal client and database; `app` below connects through
    settings.py (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DATABASE_URL) at startup.

    `app.state`: `portal` (the shared context: Temporal client or its factory, the record
    database, the templates, the secret), `sessions` (portal.sessions.Sessions), `throttle`
    (failed logins, in the record database), `trusted_proxies` (PORTAL_TRUSTED_PROXIES),
    `bound_inputs` (the competent unit's reading of declaration inputs), `verification`
    (the codes of registration and password reset, portal/verification.py) and, from settings.py
    on first use unless set before, `uploads` (portal.uploads.upload_config). The settings are
    read once, here (`settings`, else the environment), and every page uses them from
    `app.state.portal`. `secret` (tests) stands in for PORTAL_SECRET; `https_only` for
    PORTAL_HTTPS_ONLY. The API description (/openapi.json) only in development; /docs never
    (its page would need another site's scripts).
    """
    settings = settings or load_settings()

    async def connect_with_settings() -> Client:
        from client.connection import connect  # the one connection: same converter

        return await connect(settings)

    portal = Portal(
        client=client,
        client_factory=client_factory or connect_with_settings,
        database_url=database_url,
        secret=secret or settings.portal_secret,
        templates=portal_templates(settings),
        settings=settings,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await portal.temporal()
        except Exception as exc:  # Temporal not up yet (compose): connect on first use
            log.warning("Temporal not reachable at startup (%s); retrying on first use", exc)
        yield

    development = settings.environment == "development"
    app = FastAPI(
        title="职称评审 门户",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if development else None,
    )
    https_only = https_only or settings.portal_https_only
    app.state.portal = portal
    app.state.sessions = Sessions(
        portal.engine,
        secret=portal.secret,
        idle=timedelta(minutes=settings.portal_session_idle_minutes),
        absolute=timedelta(hours=settings.portal_session_absolute_hours),
        https_only=https_only,
    )
    app.state.throttle = throttle or LoginThrottle.from_settings(settings)
    app.state.trusted_proxies = settings.trusted_proxy_networks
    app.state.bound_inputs = BoundInputs()
    app.state.verification = Verification(portal)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # add_middleware: the last added is the outermost
    app.add_middleware(SessionMiddleware, sessions=app.state.sessions)
    app.add_middleware(
        BodyLimitMiddleware,
        limit_for=lambda scope: body_limit(app, scope["path"], settings.portal_body_max_bytes),
    )
    app.add_middleware(SecurityHeadersMiddleware, https_only=https_only)

    async def server_error(request: Request, exc: Exception) -> PlainTextResponse:
        # sent by Starlette's outermost middleware, past the headers middleware: its own
        headers = security_headers(request.url.path, https_only)
        return PlainTextResponse("系统内部错误，请稍后重试。", status_code=500, headers=headers)

    app.add_exception_handler(Exception, server_error)
    for kind, handler in HANDLERS.items():  # in Chinese, never FastAPI's English JSON
        app.add_exception_handler(kind, handler)
    app.include_router(routers.router)
    return app


def __getattr__(name: str) -> Any:  # `uvicorn portal.app:app`: built on first access
    if name == "app":  # a bad setting: one line each on stderr, exit status 2
        globals()["app"] = created = create_app(settings=load_settings_or_exit())
        return created
    raise AttributeError(name)
