"""The supervisor's expert pool pages (portal/routers/experts.py) on the `database` fixture:
list, search, add with a related person's ID card that is never shown back, edit, deactivate
with a confirmation, the history, import (errors per row) and export; other roles get 403."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from documents.expert_sheets import COLUMNS
from models.common import Role
from portal.app import create_app
from portal.security import LoginThrottle
from settings import load_settings
from store.db import get_engine
from store.experts import expert_changes
from tests.helpers.experts import uscc_of
from tests.helpers.portal_support import account, browser_for, csrf_of, login
from tests.helpers.projection import id_card

LINK = 'href="/supervisor/experts/E0001"'


@pytest.fixture
async def portal(database: str) -> FastAPI:
    return create_app(
        database_url=database,
        settings=load_settings(),
        throttle=LoginThrottle(per_account=50, per_address=1000, window=900),
    )


@pytest.fixture
async def supervisor(
    portal: FastAPI, database: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with await browser_for(portal) as browser:
        csrf = await login(browser, await account(database, Role.supervisor))
        yield browser, csrf


def _fields(csrf: str, **changes: str) -> dict[str, str]:
    fields = {
        "csrf_token": csrf,
        "name": "王建国",
        "employer_uscc": uscc_of(1),
        "employer_name": "示例单位",
        "specialty": "光伏硅基",
        "title": "正高级工程师",
        "mobile": "13800138000",
        "email": "",
        "past_employers": f"{uscc_of(2)}|旧单位|2025-03-31",
        "relations": "",
    }
    return fields | changes


async def test_the_supervisor_keeps_the_pool(
    supervisor: tuple[httpx.AsyncClient, str], database: str
) -> None:
    browser, csrf = supervisor
    home = await browser.get("/supervisor")
    assert 'href="/supervisor/experts"' in home.text
    card = id_card(8)
    refused = await browser.post(
        "/supervisor/experts/new", data=_fields(csrf, employer_uscc="123", relations=f"{card}|配偶")
    )
    assert refused.status_code == 422
    assert "工作单位统一社会信用代码：不是有效的统一社会信用代码" in refused.text
    assert card not in refused.text  # not even typed back

    added = await browser.post(
        "/supervisor/experts/new", data=_fields(csrf, relations=f"{card}|配偶")
    )
    assert added.status_code == 303 and added.headers["location"].startswith(
        "/supervisor/experts/E0001"
    )
    page = await browser.get(added.headers["location"])
    assert "已加入专家库" in page.text and card not in page.text
    assert 'id="relations-count">1<' in page.text and "旧单位" in page.text

    listed = await browser.get("/supervisor/experts", params={"q": "建国"})
    assert LINK in listed.text and "共 <strong>1</strong> 位专家" in listed.text
    nobody = await browser.get("/supervisor/experts", params={"q": "无此人"})
    assert LINK not in nobody.text

    edited = await browser.post("/supervisor/experts/E0001", data=_fields(csrf, title="研究员"))
    assert edited.headers["location"].endswith("done=saved")
    kept = await browser.get("/supervisor/experts/E0001")
    assert 'id="relations-count">1<' in kept.text  # the relations left empty: kept

    ask = await browser.post(
        "/supervisor/experts/E0001/active", data={"csrf_token": csrf, "active": "no"}
    )
    assert ask.status_code == 200 and "将不再被抽取为评审专家" in ask.text
    done = await browser.post(
        "/supervisor/experts/E0001/active",
        data={"csrf_token": csrf, "active": "no", "confirmed": "yes", "note": "退休"},
    )
    assert done.headers["location"].endswith("done=deactivated")
    assert LINK not in (await browser.get("/supervisor/experts")).text  # the active ones
    history = await browser.get("/supervisor/experts/E0001")
    assert "停用" in history.text and "退休" in history.text and "职称" in history.text
    actions = [c.action for c in await expert_changes(get_engine(database), "E0001")]
    assert actions == ["created", "updated", "deactivated"]

    xlsx = await browser.get("/supervisor/experts/export.xlsx")
    assert xlsx.status_code == 200
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert list(rows[0]) == list(COLUMNS.values()) and rows[1][0] == "E0001"
    csv = await browser.get("/supervisor/experts/export.csv")
    assert csv.content.decode("utf-8-sig").startswith("专家编号,姓名") and card not in csv.text

    header = ",".join(COLUMNS.values())
    bad = (
        f"{header}\n,李四,{uscc_of(3)},单位,光伏,教授,,,也许,,\n"
        f"E0042,王五,{uscc_of(3)},单位,光伏,教授,,,是,,\n"
    )
    files = {"file": ("pool.csv", bad.encode(), "text/csv")}
    imported = await browser.post(
        "/supervisor/experts/import", data={"csrf_token": csrf}, files=files
    )
    assert imported.status_code == 422
    assert "第2行 在库（是/否）：应填「是」或「否」" in imported.text
    good = f"{header}\n,李四,{uscc_of(3)},单位,光伏,教授,,,是,,\n"
    files = {"file": ("pool.csv", good.encode(), "text/csv")}
    imported = await browser.post(
        "/supervisor/experts/import", data={"csrf_token": csrf}, files=files
    )
    assert imported.status_code == 200 and "新增 1 位" in imported.text


async def test_other_roles_get_403(portal: FastAPI, database: str) -> None:
    async with await browser_for(portal) as browser:
        await login(browser, await account(database, Role.employer, employer_uscc=uscc_of(1)))
        for path in (
            "/supervisor/experts",
            "/supervisor/experts/new",
            "/supervisor/experts/export.csv",
        ):
            assert (await browser.get(path)).status_code == 403
        page = await browser.get("/employer")
        posted = await browser.post("/supervisor/experts/new", data=_fields(csrf_of(page.text)))
        assert posted.status_code == 403
