"""The portal: server-rendered pages (Jinja2, Chinese) over the record database, acting on
declarations only through the Declaration workflow's updates (client.declarations.act).

Run: `uvicorn portal.app:app` (scripts/run.sh starts it beside the worker).
The actor sent to a workflow is always the logged-in account's role and id, never a form field.
`create_app` builds what the routes share in `app.state` and includes the routers
(portal/routers/, one per role); the routes get it through portal/deps.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware
from temporalio.client import Client

from portal import routers
from portal.context import Portal, portal_templates
from portal.routers.competent_unit import BoundInputs
from portal.security import LoginThrottle
from settings import Settings, load_settings, load_settings_or_exit

log = logging.getLogger(__name__)


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
    database, the templates, the secret), `throttle` (failed logins), `bound_inputs` (the
    competent unit's reading of declaration inputs) and, from settings.py on first use unless
    set before, `uploads` (portal.uploads.upload_config). The settings are read once, here
    (`settings`, else the environment), and every page uses them from `app.state.portal`.
    """
    settings = settings or load_settings()

    async def connect_with_settings() -> Client:
        from client.connection import connect  # the one connection: same converter

        return await connect(settings)

    portal = Portal(
        client=client,
        client_factory=client_factory or connect_with_settings,
        database_url=database_url,
        secret=secret or settings.portal_secret,  # derived in development only (settings.py)
        templates=portal_templates(),
        settings=settings,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await portal.temporal()
        except Exception as exc:  # Temporal not up yet (compose): connect on first use
            log.warning("Temporal not reachable at startup (%s); retrying on first use", exc)
        yield

    app = FastAPI(title="职称评审 门户", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.portal = portal
    app.state.throttle = throttle or LoginThrottle()
    app.state.bound_inputs = BoundInputs()
    app.add_middleware(
        SessionMiddleware,
        secret_key=portal.secret,
        session_cookie="zhicheng_session",
        max_age=8 * 3600,
        same_site="lax",
        https_only=https_only or settings.portal_https_only,
    )  # Starlette signs it with itsdangerous and sets HttpOnly
    app.include_router(routers.router)
    return app


def __getattr__(name: str) -> Any:  # `uvicorn portal.app:app`: built on first access
    if name == "app":  # a bad setting: one line each on stderr, exit status 2
        globals()["app"] = created = create_app(settings=load_settings_or_exit())
        return created
    raise AttributeError(name)
