"""A committee session in the portal (portal/routers/sessions.py, R20, R27), on the
time-skipping server with the real worker: the supervisor draws it (with a confirmation),
the drawn list is invisible to other roles before the session opens, members confirm or
decline and sign in declaring a conflict, the secretary opens it, members vote in secret
through their own accounts — not twice, not on a declaration they recused from, not without
signing in, not after the close —, no page shows how a member voted, and the meeting record
is the secretary's and the supervisor's only."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import update
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Role, Stage
from portal.app import create_app
from portal.security import LoginThrottle, blind_code
from settings import Settings
from store.accounts import Account
from store.db import get_engine
from tests.helpers.committee_support import (
    ID_CARDS,
    committee_round,
    expert_pool,
    to_committee,
)
from tests.helpers.declaration_support import state
from tests.helpers.portal_support import account, browser_for, login

pytestmark = pytest.mark.asyncio(loop_scope="session")

YEARS = itertools.count(2071)  # a round of its own per test (2081: test_portal_reviewers)
SPECIALTY = "pv-portal"
SECRET = "committee-portal-secret"
CHOICE_WORDS = ("同意", "不同意", "弃权")


@pytest_asyncio.fixture(loop_scope="session")
async def portal(
    time_env: WorkflowEnvironment, time_worker: Worker, session_settings: Settings
) -> FastAPI:
    settings = session_settings.model_copy(update={"task_queue": time_worker.task_queue})
    return create_app(
        client=time_env.client,
        database_url=session_settings.database_url,
        secret=SECRET,
        settings=settings,
        throttle=LoginThrottle(per_account=100, per_address=5000, window=900),
    )


class People:
    """A browser per account, logged in; `post` sends a form with the page's tokens."""

    def __init__(self, portal: FastAPI) -> None:
        self.portal = portal
        self.browsers: dict[str, tuple[httpx.AsyncClient, str]] = {}

    async def add(self, name: str, username: str) -> None:
        browser = await browser_for(self.portal)
        self.browsers[name] = (browser, await login(browser, username))

    def browser(self, name: str) -> httpx.AsyncClient:
        return self.browsers[name][0]

    async def get(self, name: str, path: str) -> httpx.Response:
        return await self.browser(name).get(path)

    async def post(self, name: str, path: str, page: str, **fields: str) -> httpx.Response:
        """Post the form of `page` (its request token as rendered) that posts to `path`."""
        html = (await self.get(name, page)).text
        token = re.search(
            rf'action="{re.escape(path)}".*?name="request_token" value="([^"]+)"', html, re.S
        )
        assert token, f"no form for {path} on {page}"
        data = {"csrf_token": self.browsers[name][1], "request_token": token.group(1), **fields}
        return await self.browser(name).post(path, data=data)

    async def close(self) -> None:
        for browser, _ in self.browsers.values():
            await browser.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def people(portal: FastAPI) -> AsyncIterator[People]:
    found = People(portal)
    yield found
    await found.close()


async def test_a_session_in_the_portal(
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    session_settings: Settings,
    people: People,
) -> None:
    url, secret = session_settings.database_url, session_settings.applicant_key_secret
    year = next(YEARS)
    round_input = await committee_round(time_env, time_worker, year)
    declarations = await to_committee(time_env, time_worker, round_input, secret)
    ids = [handle.id for handle in declarations]
    codes = {wf: blind_code(wf, SECRET) for wf in ids}
    pool = await expert_pool(secret, SPECIALTY, related_to=ID_CARDS[0])
    for role in (Role.supervisor, Role.committee, Role.employer, Role.evaluation_body):
        await people.add(role.value, await account(url, role, **(
            {"employer_uscc": "91110000802100433B"} if role is Role.employer else {}
        )))  # fmt: skip
    applicant_key = f"key-{year}-committee-portal"
    await people.add("applicant", await account(url, Role.applicant, applicant_key=applicant_key))
    for code in pool:
        await people.add(code, await account(url, Role.expert, expert_code=code))
    # an expert account whose pool code was taken away (store/accounts.py needs one to create)
    codeless = await account(url, Role.expert, expert_code=pool[0])
    async with get_engine(url).begin() as conn:
        await conn.execute(
            update(Account).where(Account.username == codeless).values(expert_code=None)
        )
    await people.add("codeless", codeless)

    # the supervisor draws the session: a confirmation first, then the draw
    page = f"/supervisor/sessions?year={year}"
    fields = {"year": str(year), "session_id": "01", "members": "9", "alternates": "2",
              "specialty": SPECIALTY, "place": "第一会议室",
              "held_at": f"{year}-11-20T09:30"}  # fmt: skip
    bad_time = await people.post(
        "supervisor", "/supervisor/sessions", page, **{**fields, "held_at": "下周一"}
    )
    assert bad_time.status_code == 400 and "会议时间须为有效的日期和时间" in bad_time.text
    asked = await people.post("supervisor", "/supervisor/sessions", page, **fields)
    assert asked.status_code == 200 and "确认抽取" in asked.text and "不能重新抽取" in asked.text
    drawn = await people.post("supervisor", "/supervisor/sessions", page, **fields, confirmed="yes")
    assert drawn.status_code == 303, drawn.text
    session = f"/committee/sessions/committee-{year}-01"
    assert drawn.headers["location"].startswith(session)
    workflow_id = session.rsplit("/", 1)[1]
    secretary_view = await people.get("committee", session)
    for _ in range(100):
        if "已抽取，等待确认和签到" in secretary_view.text:
            break
        secretary_view = await people.get("committee", session)
    assert "已抽取，等待确认和签到" in secretary_view.text, secretary_view.text
    assert f"{year}年11月20日 09:30" in secretary_view.text  # entered as Beijing time
    seats = re.findall(r'<td data-label="编号">(E\d+)</td>', secretary_view.text)
    members, alternates = seats[:9], seats[9:]
    assert len(seats) == 11 and "评审专家" in secretary_view.text  # names, for the secretary
    names = [f"评审专家{pool.index(code) + 1}" for code in seats]

    # before the session opens the drawn list is the supervisor's and the secretary's only
    supervisor_view = (await people.get("supervisor", session)).text
    assert all(name in supervisor_view for name in names)
    homes = {"employer": "/employer", "evaluation_body": "/evaluation", "applicant": "/applicant"}
    for other, home in homes.items():
        assert (await people.get(other, session)).status_code == 403
        assert (await people.get(other, f"{session}/record.pdf")).status_code == 403
        seen = (await people.get(other, home)).text
        assert not any(name in seen for name in names) and not any(
            re.search(rf"\b{c}\b", seen) for c in seats
        )
    # an expert account without a pool code: a clear page, never a session
    unbound = await people.get("codeless", f"/expert/sessions/{workflow_id}")
    assert unbound.status_code == 403 and "尚未绑定专家库编号" in unbound.text
    assert "尚未绑定专家库编号" in (await people.get("codeless", "/expert")).text
    outsider = next(code for code in pool if code not in seats)
    assert (await people.get(outsider, f"/expert/sessions/{workflow_id}")).status_code == 404
    assert workflow_id not in (await people.get(outsider, "/expert")).text
    own = await people.get(members[1], f"/expert/sessions/{workflow_id}")
    assert own.status_code == 200 and not any(name in own.text for name in names)
    assert not any(code in own.text for code in seats if code != members[1])

    # a member declines (confirmed): the first alternate is seated
    expert_page = f"/expert/sessions/{workflow_id}"
    answer = f"{expert_page}/answer"
    asked = await people.post(members[0], answer, expert_page, accept="no")
    assert "由候补委员递补" in asked.text
    done = await people.post(members[0], answer, expert_page, accept="no", confirmed="yes")
    assert done.status_code == 303
    seated = [alternates[0], *members[1:]]
    # 7 sign in; the last declares a conflict with the second declaration
    for code in seated[:6]:
        assert (await people.post(code, f"{expert_page}/sign-in", expert_page)).status_code == 303
    conflict = await people.post(
        seated[6], f"{expert_page}/sign-in", expert_page, conflict=codes[ids[1]]
    )
    assert conflict.status_code == 303
    absent = seated[7]  # seated, not signed in
    early = await people.get(seated[0], f"{expert_page}/declarations/{codes[ids[2]]}")
    assert early.status_code == 409 and "会议尚未开始" in early.text

    opened = await people.post("committee", f"{session}/open", session)
    assert "签到名单即固定" in opened.text
    opened = await people.post("committee", f"{session}/open", session, confirmed="yes")
    assert opened.status_code == 303

    # ballots on the declaration everyone may vote on: 5 yes (of 7: 5 needed), 1 no, 1 abstain
    choices = ["yes", "yes", "yes", "yes", "yes", "no", "abstain"]
    third = ids[2]
    for code, choice in zip(seated[:7], choices, strict=True):
        page = f"{expert_page}/declarations/{codes[third]}"
        dossier = await people.get(code, page)
        assert dossier.status_code == 200 and "无记名投票" in dossier.text
        ballot = f"{page}/ballot"
        asked = await people.post(code, ballot, page, choice=choice)
        assert "不能更改" in asked.text
        cast = await people.post(code, ballot, page, choice=choice, confirmed="yes")
        assert cast.status_code == 303, cast.text
    # twice: refused
    page = f"{expert_page}/declarations/{codes[third]}"
    again = await people.browser(seated[0]).post(
        f"{page}/ballot",
        data={"csrf_token": people.browsers[seated[0]][1], "request_token": "0" * 32,
              "choice": "no", "confirmed": "yes"},
    )  # fmt: skip
    assert again.status_code == 409 and "只能投一票" in again.text
    # recused: neither the dossier nor a ballot; not signed in: the same
    recused = f"{expert_page}/declarations/{codes[ids[1]]}"
    assert (await people.get(seated[6], recused)).status_code == 404
    assert (await people.get(absent, page)).status_code == 404
    forged = await people.browser(absent).post(
        f"{page}/ballot",
        data={"csrf_token": people.browsers[absent][1], "request_token": "1" * 32,
              "choice": "yes", "confirmed": "yes"},
    )  # fmt: skip
    assert forged.status_code == 404

    # no page says how a member voted
    views = [(await people.get("committee", session)).text]
    views.append((await people.get("supervisor", session)).text)
    for code in seated[:7]:
        views.append((await people.get(code, expert_page)).text)
        voted = (await people.get(code, f"{expert_page}/declarations/{codes[third]}")).text
        ballot_part = voted.split('id="ballot"', 1)[1]
        assert "已投票" in ballot_part and not any(w in ballot_part for w in CHOICE_WORDS)
    for html in views:
        for row in re.findall(r"<tr>.*?</tr>", html, re.S):
            if any(code in row for code in seated):
                assert not any(word in row for word in CHOICE_WORDS), row
    progress = (await people.get("committee", session)).text
    assert "7 / 7" in progress  # the third declaration: 7 of 7 voted

    closed = await people.post("committee", f"{session}/close", session, confirmed="yes")
    assert closed.status_code == 303
    for _ in range(200):
        final = await people.get("committee", session)
        if "评审会议记录（PDF）" in final.text:
            break
    assert "评审会议记录（PDF）" in final.text
    assert (await state(declarations[2])).stage is Stage.result_publicity  # 5 of 7: passed
    late = await people.browser(seated[1]).post(
        f"{expert_page}/declarations/{codes[ids[0]]}/ballot",
        data={"csrf_token": people.browsers[seated[1]][1], "request_token": "2" * 32,
              "choice": "yes", "confirmed": "yes"},
    )  # fmt: skip
    assert late.status_code == 409 and "已闭会" in late.text  # closed: no later votes
    record = await people.get("committee", f"{session}/record.pdf")
    assert record.status_code == 200 and record.content.startswith(b"%PDF")
    assert (await people.get("supervisor", f"{session}/record.pdf")).status_code == 200
    assert (await people.get(seated[0], f"{session}/record.pdf")).status_code == 403
