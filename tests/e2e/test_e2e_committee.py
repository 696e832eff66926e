"""A committee member's session in a real browser (Debian Chromium, Playwright), against the
portal served by uvicorn (tests/e2e/test_e2e_browser.py `served`): the member logs in,
confirms the seat, signs in declaring a conflict, and — once the secretary has opened the
session — reads a blind dossier and casts a secret ballot through its confirmation. The
screenshots go to docs/screenshots/committee-*.png with ZHICHENG_UPDATE_SCREENSHOTS=1
(docs/portal.md shows them)."""

from __future__ import annotations

import itertools
from typing import Any

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.committee import start_session
from models.committee import SessionInput, SessionStatus
from models.common import Role, Stage
from portal.security import blind_code
from settings import Settings
from store.db import get_engine
from tests.e2e.test_e2e_browser import (
    SECRET,
    Shots,
    pytestmark,
    served,
    signed_in,
    update_docs,
)
from tests.helpers.committee_support import (
    ID_CARDS,
    SECRETARY,
    SUPERVISOR,
    committee_round,
    expert_pool,
    session_until,
    session_update,
    to_committee,
)
from tests.helpers.declaration_support import state
from tests.helpers.portal_applicant_support import make_account

__all__ = ["pytestmark", "served"]  # the browser module's fixture and skip mark, used here

YEARS = itertools.count(2061)
SPECIALTY = "pv-e2e"
DOCS = {
    "71-expert-session.png": "screenshots/committee-expert-session.png",
    "72-expert-blind-dossier.png": "screenshots/committee-expert-blind-dossier.png",
    "73-expert-confirm-ballot.png": "screenshots/committee-expert-confirm-ballot.png",
    "74-expert-voted.png": "screenshots/committee-expert-voted.png",
    "75-secretary-session.png": "screenshots/committee-secretary-session.png",
}


async def test_a_member_signs_in_reads_blind_and_votes_in_the_browser(
    served: dict[str, Any],
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    database_url: str,
    session_settings: Settings,
) -> None:
    base, shots = served["base"], Shots(served["shots"])
    secret = session_settings.applicant_key_secret
    year = next(YEARS)
    round_input = await committee_round(time_env, time_worker, year)
    declarations = await to_committee(time_env, time_worker, round_input, secret)
    ids = [handle.id for handle in declarations]
    await expert_pool(secret, SPECIALTY, related_to=ID_CARDS[0])
    session = SessionInput(
        year=year,
        session_id="01",
        members=9,
        alternates=2,
        minimum_members=9,
        specialty=SPECIALTY,
        place="甘泉堡经济技术开发区人力资源服务中心第一会议室",
        requested_by=SUPERVISOR,
    )
    engine = get_engine(database_url)
    handle = await start_session(time_env.client, engine, session, time_worker.task_queue)
    drawn = await session_until(handle, SessionStatus.confirming)
    members = [seat.code for seat in drawn.members]
    member = members[0]
    username, _ = await make_account(database_url, Role.expert, expert_code=member)
    conflict = blind_code(ids[1], SECRET)

    async with signed_in(base, username) as page:
        await page.click(f'a[href="/expert/sessions/{handle.id}"]')
        await page.click("#accept")
        await page.wait_for_selector("#notice")
        await page.check(f'input[name="conflict"][value="{conflict}"]')
        await shots(page, "71-expert-session.png")
        await page.click("#sign-in")
        await page.wait_for_selector("#notice")
        assert "已签到" in await page.inner_text("#notice")
        # six more sign in and the secretary opens the session
        for code in members[1:7]:
            await session_update(time_env, handle.id, "sign_in", {"role": "expert", "id": code})
        await session_update(time_env, handle.id, "open", SECRETARY)
        await page.reload()
        ballots = await page.inner_text("#ballots")
        assert "已回避" in ballots  # the declared conflict: no dossier, no ballot
        assert f'declarations/{conflict}"' not in await page.content()
        third = blind_code(ids[2], SECRET)
        await page.click(f'a[href="/expert/sessions/{handle.id}/declarations/{third}"] >> nth=0')
        await page.wait_for_selector("#ballot")
        text = await page.inner_text("main")
        assert "申报条件" in text and third in text
        await shots(page, "72-expert-blind-dossier.png")
        await page.check('input[name="choice"][value="yes"]')
        await page.click("#cast")
        await page.wait_for_selector("#consequence")
        assert "不能更改" in await page.inner_text("#consequence")
        await shots(page, "73-expert-confirm-ballot.png")
        await page.check('input[name="confirmed"]')
        await page.click("#confirm")
        await page.wait_for_selector("#notice")
        assert "已投票" in await page.inner_text("#notice")
        row = await page.inner_text("#ballots")
        assert "已投票" in row and "同意" not in row  # never how
        await shots(page, "74-expert-voted.png")

    secretary, _ = await make_account(database_url, Role.committee)
    async with signed_in(base, secretary) as page:
        await page.goto(f"{base}/committee/sessions/{handle.id}")
        assert "会议进行中" in await page.inner_text("#status")
        await shots(page, "75-secretary-session.png")
    assert (await state(declarations[2])).stage is Stage.committee  # not voted until the close
    update_docs(shots, DOCS)
