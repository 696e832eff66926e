"""The observer (R26: 纪检监察, invited to watch every stage): the supervisor's reading pages —
every declaration, its audit trail, the refused attempts, the committee sessions — and no
action of any kind (every form of the portal that acts is 403 for it), each page it opens
logged (store/observer_views.py)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import APIRoute
from openpyxl import load_workbook
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Role
from portal.app import create_app
from portal.security import LoginThrottle
from settings import Settings
from store.db import get_engine
from store.exports import export_records
from store.observer_views import views_of
from tests.helpers.portal_support import account, browser_for, login, submitted

pytestmark = pytest.mark.asyncio(loop_scope="session")

# What an observer may post: its own session and password, its inbox, the read-only search.
SELF_SERVICE = {
    "/login", "/logout", "/account/password", "/inbox/read", "/inbox/read-all", "/supervisor",
}  # fmt: skip


@pytest_asyncio.fixture(loop_scope="session")
async def portal(time_env: WorkflowEnvironment, session_settings: Settings) -> FastAPI:
    return create_app(
        client=time_env.client,
        database_url=session_settings.database_url,
        secret="observer-portal-secret",
        settings=session_settings,
        throttle=LoginThrottle(per_account=50, per_address=1000, window=900),
    )


@pytest_asyncio.fixture(loop_scope="session")
async def observer(
    portal: FastAPI, session_settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, str, str]]:
    username = await account(session_settings.database_url, Role.observer)
    async with await browser_for(portal) as browser:
        csrf = await login(browser, username)
        yield browser, csrf, username


async def test_the_observer_reads_and_every_page_it_opens_is_logged(
    observer: tuple[httpx.AsyncClient, str, str],
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    session_settings: Settings,
) -> None:
    browser, csrf, username = observer
    handle = await submitted(time_env, time_worker)
    opened = ["/supervisor", f"/supervisor/audit/{handle.id}", "/supervisor/sessions?year=2026"]
    for path in opened:
        page = await browser.get(path)
        assert page.status_code == 200, (path, page.text)
        assert 'method="post" action="/supervisor/sessions"' not in page.text  # no draw form
    assert "专家库" not in (await browser.get("/supervisor")).text
    searched = await browser.post("/supervisor", data={"csrf_token": csrf, "q": "张三"})
    assert searched.status_code == 200
    # an export: the round's roster, its row for the declaration, the export recorded
    year = handle.id.split("-")[1]
    export = f"/supervisor/exports/roster.xlsx?year={year}&stage=&employer="
    roster = await browser.get(export)
    assert roster.status_code == 200, roster.text
    sheet = load_workbook(io.BytesIO(roster.content)).active
    assert sheet is not None
    assert "张三" in [row[1] for row in sheet.iter_rows(values_only=True)]
    [*_, last] = await export_records(get_engine(session_settings.database_url))
    assert (last.actor_role, last.kind, last.identities) == ("observer", "roster", True)
    opened.append(export)
    views = await views_of(get_engine(session_settings.database_url), username)
    # the login's landing page, each page opened, the search; the audit trail's page too
    assert views[0] == ("GET", "/supervisor")
    assert views[1:] == [("GET", path) for path in opened[:3]] + [
        ("GET", "/supervisor"),
        ("POST", "/supervisor"),
        ("GET", opened[3]),
    ]


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every route of the app, through its included routers (no prefixes in the portal)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += api_routes(route.original_router.routes)
    return found


async def test_the_observer_is_refused_every_action(
    portal: FastAPI, observer: tuple[httpx.AsyncClient, str, str]
) -> None:
    browser, csrf, _ = observer
    acting = [
        route.path.format_map({name: "x" for name in ("workflow_id", "what", "code", "action",
                                                       "material_id", "number", "kind")})
        for route in api_routes(portal.routes)
        if "POST" in (route.methods or set())
        and route.path not in SELF_SERVICE
        and not route.path.startswith(("/register", "/password"))
    ]  # fmt: skip
    assert len(acting) > 20, acting
    for path in acting:
        response = await browser.post(path, data={"csrf_token": csrf, "confirmed": "yes"})
        assert response.status_code == 403, (path, response.status_code, response.text[:200])


async def test_the_statistics_page_draws_its_charts_on_the_server(
    observer: tuple[httpx.AsyncClient, str, str],
    time_env: WorkflowEnvironment,
    time_worker: Worker,
) -> None:
    browser, _, _ = observer
    handle = await submitted(time_env, time_worker)
    year = handle.id.split("-")[1]
    page = await browser.get(f"/supervisor/statistics?year={year}&by=employer")
    assert page.status_code == 200, page.text
    assert page.text.count("<svg") >= 2 and "<script" not in page.text
    assert "新疆示例硅业有限公司" in page.text  # the employer's bar and row
    assert "共" in page.text and "份申报" in page.text
