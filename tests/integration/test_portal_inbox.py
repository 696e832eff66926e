"""The in-portal inbox (站内消息, portal/routers/inbox.py, store/inbox.py) over HTTP (httpx +
ASGITransport) on the time-skipping test server, with the session's worker writing the
outbox (no e-mail or WeChat configured: the rows are there all the same): each account sees
the messages of its own organisation or person and no other's, the header counts the unread,
marking read is each account's own, a blind reviewer's inbox names nobody (R11), and a
message names its declaration by its 申报编号 (the workflow id for one without)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select, update
from stdnum.cn import uscc as uscc_code
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Level, Role, Stage
from models.declaration import Applicant, EligibilityFacts, Employer
from portal.security import blind_code, message_ref
from settings import DEFAULT_PORTAL_URL
from store.accounts import Account, find_account
from store.db import get_engine
from store.inbox import InboxRead, inbox_page
from tests.helpers.declaration_support import SECOND, act, sleep_until, start
from tests.helpers.portal_support import (
    account,
    assert_blind,
    browser_for,
    csrf_of,
    forbidden_texts,
    login,
    publicized_together,
    reviewers_app,
)
from tests.helpers.samples import SAMPLE_ID_CARD, SAMPLE_MOBILE

SECRET = "portal-inbox-secret"


def new_uscc() -> str:
    """A valid unified social credit code of an employer no other test uses."""
    body = "91650100" + uuid.uuid4().hex[:9].upper().translate(str.maketrans("IOSVZ", "12345"))
    return body + uscc_code.calc_check_digit(body)


def applicant_of(name: str, employer: str, uscc: str, unit: str | None = None) -> Applicant:
    return Applicant(
        name=name,
        id_card=SAMPLE_ID_CARD,
        mobile=SAMPLE_MOBILE,
        employer=Employer(name=employer, uscc=uscc, competent_unit=unit),
    )


@pytest_asyncio.fixture(scope="module")
async def portal(
    time_env: WorkflowEnvironment, time_worker: Worker, database_url: str, tmp_path_factory: Any
) -> FastAPI:
    return reviewers_app(time_env, database_url, SECRET, tmp_path_factory.mktemp("uploads"))


@pytest_asyncio.fixture
async def browser(portal: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with await browser_for(portal) as client:
        yield client


def subjects(html: str) -> list[str]:
    return re.findall(r"<h2>(?:<span class=\"badge\">未读</span>)?(.*?)</h2>", html)


def unread_in_header(html: str) -> int:
    found = re.search(r"站内消息(?:<span[^>]*>（(\d+)条未读）</span>)?</a>", html)
    assert found, "no inbox link in the header"
    return int(found.group(1) or 0)


async def inbox_of(client: httpx.AsyncClient, username: str) -> str:
    await login(client, username)
    response = await client.get("/inbox")
    assert response.status_code == 200, response.text
    return response.text


@pytest_asyncio.fixture(scope="module")
async def declared(time_env: WorkflowEnvironment, time_worker: Worker) -> dict[str, Any]:
    a, b = new_uscc(), new_uscc()
    unit = f"测试主管局{uuid.uuid4().hex[:6]}"
    number = f"2090-{uuid.uuid4().int % 10**9:09d}"
    own = await start(
        time_env,
        time_worker,
        applicant=applicant_of("赵一", "甲示例光伏有限公司", a, unit),
        number=number,
    )
    other = await start(  # stationed in a village: exempt from the defense (R19)
        time_env,
        time_worker,
        applicant=applicant_of("钱二", "乙示例硅材料有限公司", b),
        eligibility=EligibilityFacts(
            continuing_education_completed=True,
            current_level=Level.junior,
            years_at_current_level=5,
            village_stationed_months_this_year=6,
        ),
    )
    states = await publicized_together(time_env, own, other)
    assert [s.stage for s in states] == [Stage.competent_unit_review, Stage.evaluation_review]
    # the review window opens (and `own`, still with its unit, is not submitted: R10)
    opens = datetime.fromisoformat(states[1].deadlines["review_opens_at"])
    await sleep_until(time_env, opens, SECOND)
    return {
        "a": a,
        "b": b,
        "unit": unit,
        "number": number,
        "own": own,
        "other": other,
        "own_key": own.id.rsplit("-", 1)[-1],
        "other_key": other.id.rsplit("-", 1)[-1],
    }


async def unit_account(database_url: str, unit: str) -> str:
    """A competent unit's account: bound by its display name (the unit's name)."""
    username = await account(database_url, Role.competent_unit)
    async with get_engine(database_url).begin() as conn:
        await conn.execute(
            update(Account).where(Account.username == username).values(display_name=f" {unit} ")
        )
    return username


async def test_each_account_sees_its_own_organisations_messages(
    portal: FastAPI, declared: dict[str, Any], database_url: str
) -> None:
    d = declared
    own, other, number = d["own"], d["other"], d["number"]

    async with await browser_for(portal) as client:  # employer A
        page = await inbox_of(
            client, await account(database_url, Role.employer, employer_uscc=d["a"])
        )
    titles = subjects(page)
    assert any("赵一" in t and number in t for t in titles), titles  # declaration_submitted
    assert any("公示期满待推荐" in t for t in titles), titles
    assert "钱二" not in page and other.id not in page
    assert f'href="/employer/{own.id}"' in page  # the declaration's page for the employer
    assert f"{DEFAULT_PORTAL_URL}/employer/{own.id}" in page  # the message's own link

    async with await browser_for(portal) as client:  # employer B: its own, by workflow id
        page = await inbox_of(
            client, await account(database_url, Role.employer, employer_uscc=d["b"])
        )
    titles = subjects(page)
    assert titles and all("钱二" in t for t in titles), titles
    assert any(other.id in t for t in titles), titles  # no number: named by its workflow id
    assert "赵一" not in page and number not in page

    async with await browser_for(portal) as client:  # competent unit U: the recommendation
        page = await inbox_of(client, await unit_account(database_url, d["unit"]))
    assert [t for t in subjects(page) if "待主管单位审核" in t and number in t], subjects(page)
    assert f'href="/competent-unit/{own.id}"' in page
    async with await browser_for(portal) as client:  # another unit: none of it
        page = await inbox_of(
            client, await unit_account(database_url, f"别的局{uuid.uuid4().hex[:4]}")
        )
    assert "赵一" not in page and number not in page and "暂无消息" in page

    async with await browser_for(portal) as client:  # the applicant of `own`: only its own
        page = await inbox_of(
            client, await account(database_url, Role.applicant, applicant_key=d["own_key"])
        )
    titles = subjects(page)
    assert titles and all(number in t for t in titles), titles  # receipt, publicity, recommended
    assert "钱二" not in page and other.id not in page and 'href="/applicant"' in page
    body = re.search(r'<pre class="body">(.*?)</pre>', page, re.S)
    assert body and f"申报编号：{number}" in body.group(1)
    assert f"{DEFAULT_PORTAL_URL}/applicant" in page

    async with await browser_for(portal) as client:  # the evaluation body: blind (R11)
        username = await account(database_url, Role.evaluation_body)
        page = await inbox_of(client, username)
    assert any("新申报送达提醒" in t for t in subjects(page)), subjects(page)
    assert f'href="/evaluation/{blind_code(other.id, SECRET)}"' in page
    assert_blind("the evaluation body's inbox", page.encode(), await forbidden_texts())


async def test_unread_count_and_marking_read_are_each_accounts_own(
    portal: FastAPI, declared: dict[str, Any], database_url: str
) -> None:
    d = declared
    first = await account(database_url, Role.employer, employer_uscc=d["a"])
    second = await account(database_url, Role.employer, employer_uscc=d["a"])
    stranger = await account(database_url, Role.employer, employer_uscc=d["b"])
    engine = get_engine(database_url)
    owner = await find_account(engine, username=first)
    assert owner is not None
    mine = await inbox_page(engine, owner)
    assert mine.total == mine.unread >= 2
    newest_first = [m.created_at for m in mine.messages]
    assert newest_first == sorted(newest_first, reverse=True)
    assert (await inbox_page(engine, owner, page=2, per_page=1)).messages == mine.messages[1:2]
    refs = [message_ref(m.key, SECRET) for m in mine.messages]

    async with await browser_for(portal) as client:
        await login(client, stranger)
        page = (await client.get("/inbox")).text
        before = unread_in_header(page)
        # another employer's message: not the stranger's to mark; nothing changes
        response = await client.post(
            "/inbox/read", data={"csrf_token": csrf_of(page), "ref": refs[0]}
        )
        assert response.status_code == 303
        assert unread_in_header((await client.get("/inbox")).text) == before
    async with engine.connect() as conn:
        marked = select(func.count()).where(InboxRead.message_key == mine.messages[0].key)
        assert (await conn.execute(marked)).scalar_one() == 0

    async with await browser_for(portal) as client:
        await login(client, first)
        page = (await client.get("/employer")).text  # every page's header counts them
        assert unread_in_header(page) == mine.unread
        response = await client.post(
            "/inbox/read", data={"csrf_token": csrf_of(page), "ref": refs[0]}
        )
        assert response.status_code == 303 and response.headers["location"] == "/inbox"
        page = (await client.get("/inbox")).text
        assert unread_in_header(page) == mine.unread - 1
        assert page.count('class="message unread"') == mine.unread - 1
        # no CSRF token: refused, nothing marked
        assert (await client.post("/inbox/read-all", data={})).status_code == 403
        assert unread_in_header((await client.get("/inbox")).text) == mine.unread - 1

    async with await browser_for(portal) as client:  # the other account of the employer
        await login(client, second)
        page = (await client.get("/inbox")).text
        assert unread_in_header(page) == mine.unread
        await client.post("/inbox/read-all", data={"csrf_token": csrf_of(page)})
        page = (await client.get("/inbox")).text
        assert unread_in_header(page) == 0 and 'class="message unread"' not in page
        assert "全部标为已读" not in page

    async with await browser_for(portal) as client:  # the first still has its own count
        await login(client, first)
        assert unread_in_header((await client.get("/inbox")).text) == mine.unread - 1


async def test_the_committee_is_told_blind_when_a_declaration_reaches_it(
    portal: FastAPI, declared: dict[str, Any], database_url: str
) -> None:
    """A declaration exempt from the defense goes to the committee once paid: its secretary
    gets a blind message linking the blind dossier."""
    other = declared["other"]
    await act(other, "accept_materials", "evaluation_body")
    current = await act(other, "confirm_payment", "evaluation_body", receipt_no="R-1")
    assert current.stage is Stage.defense  # intermediate (R18), exempt (R19): the average
    current = await act(other, "supply_defense_average", "evaluation_body", score=80.0)
    assert current.stage is Stage.committee
    async with await browser_for(portal) as client:
        page = await inbox_of(client, await account(database_url, Role.committee))
    assert any("待评审委员会评议" in t for t in subjects(page)), subjects(page)
    assert f'href="/committee/declarations/{blind_code(other.id, SECRET)}"' in page
    assert_blind("the committee's inbox", page.encode(), await forbidden_texts())
