"""/search and the supervisor's page over HTTP, on projection rows written straight into the
database (SQLite and PostgreSQL; no Temporal server: nothing here sends an update). Each role
finds only what it may see: an employer never another employer's staff, a competent unit its
employers' declarations only, the supervisor everything; the evaluation body, the committee
and the applicant do not search at all (R11). What is typed is posted, never in an address;
an ID-card number is never on a page; the supervisor's links go to the Web UI of the settings."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from models.common import Level, Role
from portal.app import create_app
from portal.bound import Bound
from portal.security import LoginThrottle, blind_code
from settings import load_settings
from store.accounts import create_account
from store.db import get_engine
from tests.helpers.portal_support import (
    OTHER_EMPLOYER,
    OTHER_USCC,
    PASSWORD,
    account,
    browser_for,
    csrf_of,
    login,
)
from tests.helpers.projection import UNIT, Person, put
from tests.helpers.samples import SAMPLE_USCC

UI = "https://temporal-ui.example.cn/ops"
NAMESPACE = "zhicheng-prod"


@dataclass
class Site:
    app: FastAPI
    database: str
    secret: str


@pytest.fixture
def site(database: str) -> Site:
    settings = load_settings().model_copy(
        update={
            "database_url": database,
            "temporal_ui_url": UI,
            "temporal_namespace": NAMESPACE,
        }
    )

    async def no_temporal() -> Any:
        raise RuntimeError("no Temporal server in these tests")

    app = create_app(
        client_factory=no_temporal,
        database_url=database,
        secret="portal-search-test-secret",
        throttle=LoginThrottle(per_account=5, per_address=100, window=900),
        settings=settings,
    )
    return Site(app, database, settings.applicant_key_secret)


@pytest.fixture
async def browser(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with await browser_for(site.app) as client:
        yield client


async def person(site: Site, name: str, serial: int, **fields: Any) -> Person:
    return await put(site.database, site.secret, name, serial=serial, **fields)


async def search(
    browser: httpx.AsyncClient, csrf: str, q: str = "", path: str = "/search", **fields: str
) -> httpx.Response:
    return await browser.post(path, data={"csrf_token": csrf, "q": q, **fields})


async def test_an_employer_finds_its_own_staff_only(site: Site, browser: httpx.AsyncClient):
    ours = await person(site, "王小明", 1)
    theirs = await person(site, "王小明", 2, employer_uscc=OTHER_USCC, employer_name=OTHER_EMPLOYER)
    csrf = await login(
        browser, await account(site.database, Role.employer, employer_uscc=SAMPLE_USCC)
    )
    assert 'href="/search"' in (await browser.get("/employer")).text  # in the header

    by_name = await search(browser, csrf, "小明")
    assert by_name.status_code == 200
    assert f'href="/employer/{ours.workflow_id}"' in by_name.text
    assert ours.number_text in by_name.text
    assert theirs.workflow_id not in by_name.text and OTHER_EMPLOYER not in by_name.text
    assert "共找到 <strong>1</strong> 份" in by_name.text

    by_card = await search(browser, csrf, ours.id_card)
    assert f"/employer/{ours.workflow_id}" in by_card.text
    assert ours.id_card not in by_card.text  # not shown back, not listed
    assert "按身份证号码查找" in by_card.text
    # another employer's staff: not by ID card, not by number
    for q in (theirs.id_card, theirs.number_text):
        found = await search(browser, csrf, q)
        assert theirs.workflow_id not in found.text and "没有找到符合条件的申报" in found.text
        assert theirs.id_card not in found.text
    by_number = await search(browser, csrf, ours.number_text)
    assert f"/employer/{ours.workflow_id}" in by_number.text
    # an ID card's check digit wrong: said so, nothing found
    wrong = ours.id_card[:-1] + ("1" if ours.id_card[-1] == "0" else "0")
    refused = await search(browser, csrf, wrong)
    assert "身份证号码校验位不正确" in refused.text and wrong not in refused.text


async def test_what_is_typed_is_never_in_the_address(site: Site, browser: httpx.AsyncClient):
    """GET takes the filters only: a name or ID card in the address is not searched for (the
    address goes to access logs); without the form's CSRF token nothing is searched."""
    ours = await person(site, "赵六", 3)
    await person(site, "钱七", 4)
    csrf = await login(browser, await account(site.database, Role.supervisor))
    listed = await browser.get("/search", params={"q": ours.id_card})
    assert listed.status_code == 200 and "钱七" in listed.text  # q ignored: everything listed
    assert ours.id_card not in listed.text
    assert (await browser.post("/search", data={"q": "赵六"})).status_code == 403  # no CSRF
    filtered = await browser.get("/search", params={"stage": "committee"})
    assert "赵六" not in filtered.text
    assert "赵六" in (await search(browser, csrf, "赵六")).text


async def test_a_competent_unit_finds_its_employers_declarations(
    site: Site, browser: httpx.AsyncClient
):
    queued = await person(site, "孙一", 5, competent_unit=UNIT, stage="competent_unit_review")
    later = await person(site, "孙二", 6, competent_unit=UNIT, stage="evaluation_review")
    elsewhere = await person(site, "孙三", 7, competent_unit="另一个管理委员会")
    before = await person(site, "孙四", 8, competent_unit=None)  # recorded before the column
    stranger = await person(site, "孙五", 9, competent_unit=None)

    class Inputs:  # what the workflows' inputs say (portal/routers/competent_unit.py)
        async def get(self, portal: Any, workflow_id: str) -> Bound:
            unit = UNIT if workflow_id == before.workflow_id else None
            return Bound(unit, "孙", OTHER_EMPLOYER, Level.intermediate, 2026)

    site.app.state.bound_inputs = Inputs()
    username = f"unit-{uuid.uuid4().hex[:8]}"
    engine = get_engine(site.database)
    await create_account(
        engine, role=Role.competent_unit, username=username, password=PASSWORD, display_name=UNIT
    )
    csrf = await login(browser, username)
    page = (await search(browser, csrf, "孙")).text
    assert f'href="/competent-unit#{queued.workflow_id}"' in page  # its queue lists it
    # listed, without a page of theirs to open
    assert later.number_text in page and before.number_text in page
    assert elsewhere.number_text not in page and stranger.number_text not in page
    assert (await search(browser, csrf, elsewhere.id_card)).text.count("孙三") == 0


@pytest.mark.parametrize("role", [Role.evaluation_body, Role.committee, Role.applicant])
async def test_the_blind_reviewers_and_the_applicant_do_not_search(
    site: Site, browser: httpx.AsyncClient, role: Role
):
    await person(site, "周八", 10)
    bound = {"applicant_key": "0" * 16} if role is Role.applicant else {}
    username = await account(site.database, role, **bound)
    token = csrf_of((await browser.get("/login")).text)
    data = {"username": username, "password": PASSWORD, "csrf_token": token}
    assert (await browser.post("/login", data=data)).status_code == 303
    other_page = (await browser.get("/account/password")).text  # a page of every role
    assert 'href="/search"' not in other_page  # not in the header
    assert (await browser.get("/search")).status_code == 403
    refused = await search(browser, csrf_of(other_page), "周八")
    assert refused.status_code == 403 and "周八" not in refused.text


async def test_pages_counts_and_the_order_by_deadline(site: Site, browser: httpx.AsyncClient):
    people = [
        await person(site, f"吴{n:02d}", 100 + n, due_in=timedelta(days=n + 1)) for n in range(23)
    ]
    late = await person(site, "郑逾期", 200, stage="payment", due_in=-timedelta(hours=5))
    csrf = await login(
        browser, await account(site.database, Role.employer, employer_uscc=SAMPLE_USCC)
    )
    first = (await search(browser, csrf)).text
    assert "共找到 <strong>24</strong> 份" in first and "第1页，共2页（第1–20份）" in first
    assert first.index("郑逾期") < first.index("吴00") < first.index("吴18")  # soonest first
    assert "吴19" not in first and "已逾期" in first
    assert "仅看已逾期（1）" in first and "用人单位审核（23）" in first and "待缴费（1）" in first
    second = (await search(browser, csrf, page="2")).text
    assert "第2页，共2页（第21–24份）" in second
    assert all(p.name in second for p in people[19:]) and "吴18" not in second
    overdue = (await search(browser, csrf, overdue="1")).text
    assert "共找到 <strong>1</strong> 份" in overdue and late.number_text in overdue
    staged = (await search(browser, csrf, stage="payment")).text
    assert "郑逾期" in staged and "吴00" not in staged


async def test_the_supervisor_sees_numbers_names_employers_and_the_ui_of_the_settings(
    site: Site, browser: httpx.AsyncClient
):
    ours = await person(site, "冯甲", 11)
    theirs = await person(site, "陈乙", 12, employer_uscc=OTHER_USCC, employer_name=OTHER_EMPLOYER)
    late = await person(site, "褚丙", 13, stage="correction", due_in=-timedelta(days=1, hours=2))
    csrf = await login(browser, await account(site.database, Role.supervisor))
    page = (await browser.get("/supervisor")).text
    link = f"{UI}/namespaces/{NAMESPACE}/workflows/{ours.workflow_id}"
    assert f'href="{link}"' in page and "localhost:8233" not in page
    declarations = page[page.index('<h2 id="declarations">') :]
    for who in (ours, theirs, late):
        assert who.number_text in declarations and who.name in declarations
        assert who.id_card not in page
    assert OTHER_EMPLOYER in declarations and "新疆示例硅业有限公司" in declarations
    overdue = page[page.index('<h2 id="overdue">') : page.index('<h2 id="refused">')]
    assert "逾期事项（1）" in overdue and late.number_text in overdue and "1天2小时" in overdue
    assert ours.number_text not in overdue
    found = (await search(browser, csrf, theirs.id_card, path="/supervisor")).text
    shown = found[found.index('<h2 id="declarations">') :]
    assert theirs.number_text in shown and ours.number_text not in shown
    assert theirs.id_card not in found


# --- the role lists: the same search, filters, counts, pages and order (issue 14, item 3) ---


def listed(page: str) -> str:
    """The list's part of a page (its form, from the search box on)."""
    return page[page.index('class="search"') :]


async def test_the_employer_list_filters_pages_and_keeps_to_its_staff(
    site: Site, browser: httpx.AsyncClient
):
    people = [
        await person(site, f"何{n:02d}", 300 + n, due_in=timedelta(days=n + 1)) for n in range(21)
    ]
    senior = await person(site, "吕高级", 330, level="associate_senior", due_in=timedelta(days=30))
    late = await person(site, "施逾期", 331, stage="payment", due_in=-timedelta(hours=3))
    theirs = await person(
        site, "何外单位", 332, employer_uscc=OTHER_USCC, employer_name=OTHER_EMPLOYER
    )
    csrf = await login(
        browser, await account(site.database, Role.employer, employer_uscc=SAMPLE_USCC)
    )
    first = listed((await browser.get("/employer")).text)
    assert "共找到 <strong>23</strong> 份" in first and "第1页，共2页（第1–20份）" in first
    assert first.index("施逾期") < first.index("何00") < first.index("何18")  # soonest first
    assert "何19" not in first and "已逾期" in first and "仅看已逾期（1）" in first
    assert "用人单位审核（22）" in first and "待缴费（1）" in first  # counts per stage
    assert theirs.workflow_id not in first and "何外单位" not in first
    assert f'href="/employer/{people[0].workflow_id}"' in first  # each to its own page
    second = listed((await search(browser, csrf, path="/employer", page="2")).text)
    assert "第2页，共2页（第21–23份）" in second and "吕高级" in second and "何18" not in second
    by_level = listed((await browser.get("/employer", params={"level": "associate_senior"})).text)
    assert "共找到 <strong>1</strong> 份" in by_level and senior.number_text in by_level
    overdue = listed((await browser.get("/employer", params={"overdue": "1"})).text)
    assert "共找到 <strong>1</strong> 份" in overdue and late.number_text in overdue
    staged = listed((await browser.get("/employer", params={"stage": "payment"})).text)
    assert "施逾期" in staged and "何00" not in staged
    by_name = listed((await search(browser, csrf, "何0", path="/employer")).text)
    assert "共找到 <strong>10</strong> 份" in by_name  # 何00–何09, not 何外单位
    for q in (theirs.number_text, theirs.id_card, "外单位"):
        found = (await search(browser, csrf, q, path="/employer")).text
        assert theirs.workflow_id not in found and "没有找到符合条件的申报" in found
    elsewhere = await browser.get(
        "/employer", params={"jurisdiction": "other"}, follow_redirects=True
    )
    assert elsewhere.status_code == 200  # an unknown filter value counts as not given


async def test_the_competent_unit_list_is_its_queue_filtered_and_paged(
    site: Site, browser: httpx.AsyncClient
):
    queued = [
        await person(
            site,
            f"孔{n:02d}",
            400 + n,
            competent_unit=UNIT,
            stage="competent_unit_review",
            due_in=timedelta(days=n + 1),
        )
        for n in range(21)
    ]
    await person(
        site,
        "孔高级",
        430,
        competent_unit=UNIT,
        stage="competent_unit_review",
        level="associate_senior",
        due_in=timedelta(days=30),
    )
    passed_on = await person(site, "孔已报送", 431, competent_unit=UNIT, stage="evaluation_review")
    elsewhere = await person(
        site, "孔别处", 432, competent_unit="另一个管理委员会", stage="competent_unit_review"
    )
    before = await person(
        site, "孔较早", 433, competent_unit=None, stage="competent_unit_review", due_in=None
    )

    class Inputs:  # what the workflows' inputs say: only `before` is this unit's
        async def get(self, portal: Any, workflow_id: str) -> Bound:
            unit = UNIT if workflow_id == before.workflow_id else None
            return Bound(unit, "孔", OTHER_EMPLOYER, Level.intermediate, 2026)

    site.app.state.bound_inputs = Inputs()
    username = f"unit-{uuid.uuid4().hex[:8]}"
    await create_account(
        get_engine(site.database),
        role=Role.competent_unit,
        username=username,
        password=PASSWORD,
        display_name=UNIT,
    )
    csrf = await login(browser, username)
    first = listed((await browser.get("/competent-unit")).text)
    assert "共找到 <strong>23</strong> 份" in first and "第1页，共2页（第1–20份）" in first
    assert first.index("孔00") < first.index("孔19") and "孔20" not in first
    assert f'href="/competent-unit/{queued[0].workflow_id}"' in first
    for absent in (passed_on, elsewhere):
        assert absent.workflow_id not in first
    second = listed((await search(browser, csrf, path="/competent-unit", page="2")).text)
    assert "第2页，共2页（第21–23份）" in second
    assert second.index("孔20") < second.index("孔高级") < second.index("孔较早")  # none: last
    by_level = listed(
        (await browser.get("/competent-unit", params={"level": "associate_senior"})).text
    )
    assert "共找到 <strong>1</strong> 份" in by_level and "孔高级" in by_level
    by_name = listed((await search(browser, csrf, "孔别处", path="/competent-unit")).text)
    assert "没有找到符合条件的申报" in by_name
    by_number = listed(
        (await search(browser, csrf, passed_on.number_text, path="/competent-unit")).text
    )
    assert "没有找到符合条件的申报" in by_number  # passed on: no longer in its queue


async def test_the_evaluation_list_is_blind_and_found_by_number_or_code_only(
    site: Site, browser: httpx.AsyncClient
):
    secret = site.app.state.portal.secret
    waiting = [
        await person(
            site, f"秦{n:02d}", 500 + n, stage="evaluation_review", due_in=timedelta(days=n + 1)
        )
        for n in range(20)
    ]
    paying = await person(site, "秦缴费", 530, stage="payment", level="associate_senior")
    late = await person(site, "秦逾期", 531, stage="correction", due_in=-timedelta(hours=2))
    not_yet = await person(site, "秦单位", 532, stage="employer_review")
    csrf = await login(browser, await account(site.database, Role.evaluation_body))
    page = (await browser.get("/evaluation")).text
    first = listed(page)
    assert "共找到 <strong>22</strong> 份" in first and "第1页，共2页（第1–20份）" in first
    assert first.index(blind_code(late.workflow_id, secret)) < first.index(
        blind_code(waiting[0].workflow_id, secret)
    )
    assert "评审机构审核（20）" in first and "待缴费（1）" in first and "退回补正（1）" in first
    assert "用人单位审核" not in first  # not a stage of its list
    for who in (*waiting, paying, late, not_yet):  # blind: no name, ID card, number, id
        for secret_text in (who.name, who.id_card, who.workflow_id):
            assert secret_text not in page
    assert blind_code(not_yet.workflow_id, secret) not in page
    second = listed((await search(browser, csrf, path="/evaluation", page="2")).text)
    assert "第2页，共2页（第21–22份）" in second
    by_stage = listed((await browser.get("/evaluation", params={"stage": "payment"})).text)
    assert "共找到 <strong>1</strong> 份" in by_stage
    assert blind_code(paying.workflow_id, secret) in by_stage
    overdue = listed((await browser.get("/evaluation", params={"overdue": "1"})).text)
    assert (
        "共找到 <strong>1</strong> 份" in overdue
        and blind_code(late.workflow_id, secret) in overdue
    )
    code = blind_code(waiting[3].workflow_id, secret)
    for q in (code, code.lower(), waiting[3].number_text):
        found = listed((await search(browser, csrf, q, path="/evaluation")).text)
        assert "共找到 <strong>1</strong> 份" in found and code in found, q
        assert waiting[3].number_text not in found.replace(f'value="{q}"', "")  # never listed
    for q in (
        "秦03",
        waiting[3].id_card,
        not_yet.number_text,
        blind_code(not_yet.workflow_id, secret),
    ):
        found = (await search(browser, csrf, q, path="/evaluation")).text
        assert "共找到 <strong>0</strong> 份" in found, q
        assert "秦03" not in found.replace(f'value="{q}"', "")
    by_name = (await search(browser, csrf, "秦03", path="/evaluation")).text
    assert "不能按姓名、身份证号码或单位查找" in by_name
