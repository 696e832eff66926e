"""The portal: server-rendered pages (Jinja2, Chinese) over the record database, acting on
declarations only through the Declaration workflow's updates (control.act).

Run: `uvicorn portal.app:app` (scripts/run.sh starts it beside the worker).
The actor sent to a workflow is always the logged-in account's role and id, never a form field.
Shared parts are in portal/context.py; each role's pages in their own module (ROLE_PAGES).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware
from temporalio.client import Client

from models.common import Role
from portal import (
    applicant,
    committee,
    competent_unit,
    employer,
    evaluation,
    materials,
    supervisor,
)
from portal.accounts import find_account
from portal.context import Portal, Refusal
from portal.security import LoginThrottle, new_csrf_token, verify_password
from settings import load_settings

log = logging.getLogger(__name__)

ROLE_PAGES = (  # each has add_routes(app, portal)
    applicant,
    employer,
    competent_unit,
    evaluation,
    committee,
    supervisor,
    materials,
)
HOME = {
    Role.applicant: "/applicant",
    Role.employer: "/employer",
    Role.evaluation_body: "/evaluation",
    Role.supervisor: "/supervisor",
    Role.competent_unit: "/competent-unit",
    Role.committee: "/committee",
}


def portal_secret() -> str:
    """PORTAL_SECRET signs the session cookie and keys the blind codes; without it, one is
    derived from the applicant-key secret (stable across restarts and processes)."""
    settings = load_settings()
    if settings.portal_secret:
        return settings.portal_secret
    base = settings.applicant_key_secret
    return hmac.new(base.encode(), b"zhicheng-portal", hashlib.sha256).hexdigest()


def create_app(
    *,
    client: Client | None = None,
    client_factory: Callable[[], Awaitable[Client]] | None = None,
    database_url: str | None = None,
    secret: str | None = None,
    https_only: bool = False,
    throttle: LoginThrottle | None = None,
) -> FastAPI:
    """The app. Tests pass their Temporal client and database; `app` below connects through
    settings.py (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DATABASE_URL) at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await portal.temporal()
        except Exception as exc:  # Temporal not up yet (compose): connect on first use
            log.warning("Temporal not reachable at startup (%s); retrying on first use", exc)
        yield

    app = FastAPI(title="职称评审 门户", lifespan=lifespan, docs_url=None, redoc_url=None)
    portal = Portal(
        client=client,
        client_factory=client_factory or default_client,
        database_url=database_url,
        secret=secret or portal_secret(),
    )
    app.state.portal = portal
    app.state.throttle = throttle or LoginThrottle()
    app.add_middleware(
        SessionMiddleware,
        secret_key=portal.secret,
        session_cookie="zhicheng_session",
        max_age=8 * 3600,
        same_site="lax",
        https_only=https_only or load_settings().portal_https_only,
    )  # Starlette signs it with itsdangerous and sets HttpOnly

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        account = await portal.signed_in(request)
        if account is None:
            return RedirectResponse("/login", 303)
        return RedirectResponse(HOME[Role(account.role)], 303)

    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request) -> Response:
        return portal.render(request, "login.html", {"username": ""})

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await portal.form_checked(request)
        username, password = form.get("username", "").strip(), form.get("password", "")
        address = request.client.host if request.client else "?"
        throttle: LoginThrottle = app.state.throttle
        if throttle.blocked(username, address):
            refusal = Refusal("登录失败次数过多，请15分钟后再试。", status=429)
            return portal.render(request, "login.html", {"username": username}, refusal)
        account = await find_account(portal.engine(), username=username)
        if not verify_password(account.password_hash if account else None, password):
            throttle.failed(username, address)
            refusal = Refusal("用户名或密码不正确。", status=401)
            return portal.render(request, "login.html", {"username": username}, refusal)
        throttle.succeeded(username, address)
        request.session.clear()  # a fresh session (and CSRF token) at login
        request.session.update(uid=account.id, csrf=new_csrf_token())
        return RedirectResponse(HOME[Role(account.role)], 303)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await portal.form_checked(request)
        request.session.clear()
        return RedirectResponse("/login", 303)

    for pages in ROLE_PAGES:
        pages.add_routes(app, portal)
    return app


async def default_client() -> Client:
    from worker import connect  # the worker's own connection: same converter, same settings

    return await connect(load_settings())


def __getattr__(name: str) -> Any:  # `uvicorn portal.app:app`: built on first access
    if name == "app":
        globals()["app"] = created = create_app()
        return created
    raise AttributeError(name)
