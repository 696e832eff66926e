"""Issue 14, item 4: what an applicant reads is Chinese. One declaration is driven through
every stage an applicant can see (the applicant's own steps through the portal's forms, the
reviewers' as signed updates, the deadlines by the time-skipping server), and other
declarations into each ending; at each stage every page and fragment the applicant can reach
is fetched (home, notice, attachment 1, the creation form, each material's masking tool, a
missing page, a malformed address) and every refusal they can provoke (submitting or
resubmitting in the wrong stage or after the deadline, a form field too long, a file that is
not PDF/PNG/JPEG, a title naming them, no file, bad mask boxes, removing a fixed material, a
form not sent from the portal). No page may show a Latin-letter word beyond the allowed ones
(PDF, PNG, JPEG, UTC of the offset, ...; tags and links' URLs are not text) or a rule code; and
each deadline shown is explained (how it was computed)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import STAGE_NAMES_ZH, Role, Stage
from portal.app import create_app
from portal.security import LoginThrottle
from portal.uploads import UploadConfig
from settings import Settings
from store.db import get_engine
from store.uploads import DeclarationMaterial
from tests.helpers.declaration_support import (
    RECOMMENDATION,
    SECOND,
    act,
    arrange_defense,
    sleep_until,
    state,
)
from tests.helpers.portal_applicant_support import (
    EMPLOYER_NAME,
    browser,
    certificate,
    checks_finished,
    created,
    declaration_form,
    key_of,
    latin_words,
    login,
    make_account,
    new_id_card,
    ocr_worker_running,
    png_of,
    portal_round,
    rule_codes,
    upload,
)
from tests.helpers.portal_support import action_form

SECRET = "applicant-crawl-test-secret"
UNIT = "甘泉堡经济技术开发区（工业区）管理委员会"
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(4000)
BOXES = [  # over the name and the employer on `certificate`
    {"page": 0, "x": 55, "y": 145, "w": 260, "h": 45},
    {"page": 0, "x": 55, "y": 215, "w": 460, "h": 45},
]
TOO_LONG = "长" * 2001  # a note longer than the form allows
# The deadlines a page explains when it shows them (rules/: how each was computed).
EXPLAINED = {
    "submission_closes_at",
    "review_closes_at",
    "publicity_ends_at",
    "correction_deadline",
    "payment_due_at",
    "result_publicity_ends_at",
}


@pytest_asyncio.fixture(scope="module")
async def portal(
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    database_url: str,
    session_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("applicant-crawl")
    store = tmp / "uploads"
    # the OCR of masked copies (R11), reading this portal's upload store
    ocr = ocr_worker_running(time_env.client, time_worker.task_queue, session_settings, store)
    with portal_round(tmp, await time_env.get_current_time(), time_worker.task_queue):
        async with ocr:
            app = create_app(
                client=time_env.client,
                database_url=database_url,
                secret=SECRET,
                throttle=LoginThrottle(per_account=50, per_address=1000, window=900),
            )
            app.state.uploads = UploadConfig(store, 400_000)
            yield app


@dataclass
class Declarer:
    """An applicant in the portal with their declaration."""

    client: httpx.AsyncClient
    token: str
    workflow_id: str
    handle: WorkflowHandle[Any, Any]
    name: str
    stages: list[str] = field(default_factory=list)  # crawled in
    home: str = ""  # the home page at the last crawl


@dataclass
class Crawl:
    """What every crawl saw: (stage, what was fetched) -> the page, and the problems."""

    problems: list[str] = field(default_factory=list)
    fetched: int = 0

    def check(self, where: str, response: httpx.Response) -> None:
        self.fetched += 1
        if response.status_code >= 500:
            self.problems.append(f"{where}: {response.status_code}")
        if not response.headers.get("content-type", "").startswith("text/html"):
            self.problems.append(f"{where}: {response.headers.get('content-type')} is no page")
            return
        words, codes = latin_words(response.text), rule_codes(response.text)
        if words or codes:
            self.problems.append(f"{where}: {sorted(words | codes)}")


async def declarer(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment, name: str, **fields: str
) -> Declarer:
    client, token, workflow_id, _ = await created(portal, database_url, name, **fields)
    handle = time_env.client.get_workflow_handle(workflow_id)
    return Declarer(client, token, workflow_id, handle, name)


async def material_ids(database_url: str, workflow_id: str) -> list[int]:
    query = select(DeclarationMaterial.id).where(DeclarationMaterial.workflow_id == workflow_id)
    async with get_engine(database_url).connect() as conn:
        return list((await conn.execute(query.order_by(DeclarationMaterial.id))).scalars())


async def masked_material(who: Declarer, database_url: str) -> None:
    """A scan uploaded and masked over the name and the employer (R11)."""
    scan = png_of(certificate(who.name, EMPLOYER_NAME))
    # a file name in Chinese: the page shows the applicant's own name of it as they gave it
    response = await upload(who.client, who.token, "学历证书", "学历证书扫描件", scan, "image/png")
    assert response.status_code == 303, response.text
    *_, material = await material_ids(database_url, who.workflow_id)
    response = await who.client.post(
        f"/applicant/materials/{material}/mask",
        data={"csrf_token": who.token, "boxes": json.dumps(BOXES)},
    )
    assert response.status_code == 303, response.text
    await checks_finished(database_url, who.workflow_id)  # R11: OCR of the masked copy


async def send(who: Declarer, action: str) -> None:
    """Submit (resubmit) through the portal's form."""
    response = await who.client.post(f"/applicant/{action}", data=action_form(who.token))
    assert response.status_code == 303, response.text


def explained_on(home: str, deadlines: dict[str, str]) -> list[str]:
    """The deadlines shown without their explanation."""
    shown = set(deadlines) & EXPLAINED
    return [] if home.count('<small class="explained">') >= len(shown) else sorted(shown)


async def crawl(who: Declarer, database_url: str, seen: Crawl) -> Stage:
    """Every page, fragment and refusal the applicant can reach now, checked; the stage."""
    current = await state(who.handle)
    stage = current.stage
    who.stages.append(stage.value)
    client, token = who.client, who.token
    editable = stage in (Stage.draft, Stage.correction)

    async def get(path: str) -> httpx.Response:
        response = await client.get(path, follow_redirects=True)
        seen.check(f"{stage.value} GET {path}", response)
        return response

    async def post(path: str, data: dict[str, Any], **kwargs: Any) -> httpx.Response:
        response = await client.post(path, data=data, follow_redirects=True, **kwargs)
        seen.check(f"{stage.value} POST {path}", response)
        return response

    home = await get("/applicant")
    assert home.status_code == 200 and STAGE_NAMES_ZH[stage] in home.text, home.text
    who.home = home.text
    assert home.text.count("UTC+08:00") == 1, "the offset is said once on the page"
    missing = explained_on(home.text, current.deadlines)
    if missing:
        seen.problems.append(f"{stage.value}: {missing} shown unexplained")
    await get("/notice")
    await get("/applicant/new")
    attachment = await client.get("/applicant/material-requirements")
    assert attachment.status_code == 200 and attachment.content.startswith(b"%PDF")
    materials = await material_ids(database_url, who.workflow_id)
    for material in materials:
        assert (await get(f"/applicant/materials/{material}/mask")).status_code == 200
    assert (await get("/applicant/materials/999999999/mask")).status_code == 404
    assert (await get("/applicant/materials/not-a-number/mask")).status_code == 422
    assert (await get("/applicant/no-such-page")).status_code == 404

    # refusals: nothing below changes the declaration
    if stage is not Stage.draft:
        refused = await post("/applicant/submit", action_form(token))
        assert refused.status_code == 409 and "不能提交" in refused.text, refused.text
    if stage is not Stage.correction:
        refused = await post("/applicant/resubmit", action_form(token))
        assert refused.status_code == 409 and "不能重新提交" in refused.text, refused.text
    for action in ("submit", "resubmit"):
        too_long = await post(f"/applicant/{action}", action_form(token, note=TOO_LONG))
        assert too_long.status_code in (400, 409), too_long.text
    not_a_scan = await post(
        "/applicant/materials",
        {"csrf_token": token, "title": "学历证书"},
        files={"file": ("scan.pdf", ELF, "application/pdf")},
    )
    assert not_a_scan.status_code == (415 if editable else 409), not_a_scan.text
    naming = await post(
        "/applicant/materials",
        {"csrf_token": token, "title": f"{who.name}的学历证书"},
        files={"file": ("scan.png", png_of(certificate("某", "某")), "image/png")},
    )
    assert naming.status_code == (400 if editable else 409), naming.text
    no_file = await post("/applicant/materials", {"csrf_token": token, "title": "学历证书"})
    assert no_file.status_code in (400, 409), no_file.text
    for material in materials[:1]:
        bad_boxes = await post(
            f"/applicant/materials/{material}/mask", {"csrf_token": token, "boxes": "[{"}
        )
        assert bad_boxes.status_code in (400, 409), bad_boxes.text
        if not editable:
            fixed = await post(f"/applicant/materials/{material}/remove", {"csrf_token": token})
            assert fixed.status_code == 409, fixed.text
    forged = await post("/applicant/submit", {"note": "x"})  # no CSRF token
    assert forged.status_code == 403
    assert (await state(who.handle)).stage is stage  # nothing above was applied
    return stage


async def to_evaluation(who: Declarer, env: WorkflowEnvironment) -> None:
    """Submitted (materials masked before), publicized, recommended: with the evaluation
    body once its review window opens."""
    await send(who, "submit")
    current = await act(who.handle, "start_publicity", "employer")
    await sleep_until(env, datetime.fromisoformat(current.deadlines["publicity_ends_at"]), SECOND)
    await act(who.handle, "recommend", "employer", **RECOMMENDATION)


async def test_every_page_an_applicant_reaches_is_chinese_at_every_stage(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment
) -> None:
    seen = Crawl()
    env = time_env
    main = await declarer(
        portal, database_url, env, "欧阳明", **{"applicant.employer.competent_unit": UNIT}
    )
    others = {
        ending: await declarer(portal, database_url, env, name)
        for ending, name in (
            (Stage.rejected, "司马光"),
            (Stage.withdrawn, "诸葛亮"),
            (Stage.not_submitted, "上官婉"),
            (Stage.locked, "欧阳修"),
            (Stage.abandoned, "东方朔"),
            (Stage.unpaid, "令狐冲"),
            (Stage.not_passed, "慕容复"),
        )
    }
    assert await crawl(main, database_url, seen) is Stage.draft  # nothing uploaded yet
    for who in (main, *others.values()):
        await masked_material(who, database_url)
    assert await crawl(main, database_url, seen) is Stage.draft

    # the endings before the evaluation body
    withdrawn = others[Stage.withdrawn]
    await act(withdrawn.handle, "withdraw", "applicant")
    assert await crawl(withdrawn, database_url, seen) is Stage.withdrawn
    rejected = others[Stage.rejected]
    await send(rejected, "submit")
    await act(rejected.handle, "start_publicity", "employer")
    await act(rejected.handle, "raise_objection", "employer", summary="业绩材料与实际不符")
    assert await crawl(rejected, database_url, seen) is Stage.publicity  # with an objection
    await act(
        rejected.handle,
        "resolve_objection",
        "employer",
        objection_id=1,
        upheld=True,
        resolution="经核实属实",
    )
    assert await crawl(rejected, database_url, seen) is Stage.rejected

    # the main declaration: returned by its employer, resubmitted, publicized, objected to
    await send(main, "submit")
    assert await crawl(main, database_url, seen) is Stage.employer_review
    await act(main.handle, "employer_return", "employer", reason="学历证书扫描件不清晰")
    assert await crawl(main, database_url, seen) is Stage.draft
    await send(main, "submit")
    current = await act(main.handle, "start_publicity", "employer")
    assert await crawl(main, database_url, seen) is Stage.publicity
    await act(main.handle, "raise_objection", "employer", summary="匿名反映")
    await act(
        main.handle,
        "resolve_objection",
        "employer",
        objection_id=1,
        upheld=False,
        resolution="经核实不属实",
    )
    assert await crawl(main, database_url, seen) is Stage.publicity
    with_body = [others[s] for s in (Stage.locked, Stage.abandoned, Stage.unpaid)]
    with_body.append(others[Stage.not_passed])
    for who in with_body:  # publicized alongside
        await send(who, "submit")
        await act(who.handle, "start_publicity", "employer")
    ends = datetime.fromisoformat(current.deadlines["publicity_ends_at"])
    for who in with_body:
        theirs = (await state(who.handle)).deadlines["publicity_ends_at"]
        ends = max(ends, datetime.fromisoformat(theirs))
    await sleep_until(env, ends, SECOND)
    assert await crawl(main, database_url, seen) is Stage.recommendation
    await act(main.handle, "recommend", "employer", **RECOMMENDATION)
    assert await crawl(main, database_url, seen) is Stage.competent_unit_review
    await act(main.handle, "competent_unit_recommend", "competent_unit", opinion="同意推荐")
    for who in with_body:
        await act(who.handle, "recommend", "employer", **RECOMMENDATION)
    assert await crawl(main, database_url, seen) is Stage.evaluation_review  # not open yet

    # the review window opens; the draft left behind was never sent on
    opens = datetime.fromisoformat((await state(main.handle)).deadlines["review_opens_at"])
    await sleep_until(env, opens, SECOND)
    assert await crawl(others[Stage.not_submitted], database_url, seen) is Stage.not_submitted
    await act(main.handle, "return_for_correction", "evaluation_body", reason="证书不清晰")
    assert await crawl(main, database_url, seen) is Stage.correction
    assert "起计48小时，夜间和节假日照常计算" in main.home
    await send(main, "resubmit")
    assert await crawl(main, database_url, seen) is Stage.evaluation_review

    locked = others[Stage.locked]  # a 4th return locks it (R15)
    for _ in range(3):
        await act(locked.handle, "return_for_correction", "evaluation_body", reason="不清晰")
        await send(locked, "resubmit")
    await act(locked.handle, "return_for_correction", "evaluation_body", reason="仍不清晰")
    assert await crawl(locked, database_url, seen) is Stage.locked
    abandoned = others[Stage.abandoned]  # not corrected within 48 hours
    current = await act(abandoned.handle, "return_for_correction", "evaluation_body", reason="缺页")
    await sleep_until(env, datetime.fromisoformat(current.deadlines["correction_deadline"]), SECOND)
    assert await crawl(abandoned, database_url, seen) is Stage.abandoned

    # accepted, paid, defended, voted, publicized: approved
    for who in (main, others[Stage.unpaid], others[Stage.not_passed]):
        await act(who.handle, "accept_materials", "evaluation_body")
    assert await crawl(main, database_url, seen) is Stage.payment
    assert "缴费截止：" in main.home and "自材料受理时（" in main.home  # R17, explained
    assert "按本年度评审通知，网上材料申报自" in main.home
    assert "按本年度评审通知，评审机构审核自" in main.home
    for who in (main, others[Stage.not_passed]):
        await act(who.handle, "confirm_payment", "evaluation_body", receipt_no="R-1")
    assert await crawl(main, database_url, seen) is Stage.defense
    starts = await arrange_defense(env, main.handle, timedelta(hours=2))
    assert await crawl(main, database_url, seen) is Stage.defense  # with its arrangement
    later = await arrange_defense(env, others[Stage.not_passed].handle, timedelta(hours=2))
    starts = max(starts, later)
    await sleep_until(env, starts, SECOND)
    for who in (main, others[Stage.not_passed]):
        await act(who.handle, "record_defense_score", "evaluation_body", score=82.5)
    assert await crawl(main, database_url, seen) is Stage.committee
    vote = {"session_id": "S1", "members": 9, "attending": 7}
    await act(others[Stage.not_passed].handle, "committee_vote", "committee", **vote, yes_votes=2)
    assert await crawl(others[Stage.not_passed], database_url, seen) is Stage.not_passed
    current = await act(main.handle, "committee_vote", "committee", **vote, yes_votes=5)
    assert await crawl(main, database_url, seen) is Stage.result_publicity
    assert main.home.count("起计5个工作日") == 2  # the employer's and the result publicity
    ends = datetime.fromisoformat(current.deadlines["result_publicity_ends_at"])
    await sleep_until(env, ends, SECOND)
    assert await crawl(main, database_url, seen) is Stage.approved
    unpaid = others[Stage.unpaid]
    due = datetime.fromisoformat((await state(unpaid.handle)).deadlines["payment_due_at"])
    await sleep_until(env, due, SECOND)
    assert await crawl(unpaid, database_url, seen) is Stage.unpaid

    crawled = {s for who in (main, *others.values()) for s in who.stages}
    assert crawled >= {s.value for s in Stage} - {"ineligible", "revoked"}, crawled
    assert seen.fetched > 300
    assert seen.problems == [], "\n".join(seen.problems)
    for who in (main, *others.values()):
        await who.client.aclose()


async def test_before_declaring_every_page_and_form_error_is_chinese(
    portal: FastAPI, database_url: str
) -> None:
    """The home before declaring (the round's dates, the offset said once), the creation
    form, and the form sent back with a mistake in every kind of field."""
    seen = Crawl()
    id_card = new_id_card()
    username, _ = await make_account(database_url, Role.applicant, applicant_key=key_of(id_card))
    async with browser(portal) as client:
        token = await login(client, username)
        home = await client.get("/applicant")
        seen.check("GET /applicant", home)
        assert home.text.count("UTC+08:00") == 1, "the offset is said once on the page"
        seen.check("GET /applicant/new", await client.get("/applicant/new"))
        wrong = {
            "applicant.id_card": id_card[:-1] + ("1" if id_card[-1] == "0" else "0"),
            "applicant.mobile": "12345",
            "applicant.email": "not-an-address",
            "applicant.employer.uscc": "91110000802100433",
            "level": "no-such-level",
            "eligibility.years_at_current_level": "many",
            "achievements[0].kind": "poem",
        }
        refused = await client.post(
            "/applicant/new", data={"csrf_token": token, **declaration_form(id_card, **wrong)}
        )
        assert refused.status_code == 400, refused.text
        seen.check("POST /applicant/new", refused)
        assert refused.text.count('class="field-error"') >= 5
    assert seen.problems == [], "\n".join(seen.problems)
