"""The reviewers' side of the portal over HTTP (httpx + ASGITransport on the time-skipping
test server): the employer (objections, recommendation with the signed scans, attachments
2 and 3), the competent unit, the evaluation body (payment, defense, blind view), the
committee secretary (sessions, the R20 tally before it is recorded, votes) and the
supervisor's overdue items. Every refused request changes nothing: the workflow's stage and
timeline (or the round's sessions and operations) are compared before and after."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import delete, insert, select, update
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.rounds import round_state, start_round, wait_for_operation
from documents.publication import publication_dir
from models.calendar import YearCalendar
from models.common import Level, Role, Stage
from models.declaration import Applicant, DeclarationState, EligibilityFacts, Employer
from models.documents import DocumentKind, DocumentStatus
from models.round import Committee, CommitteeMember, ListingSource, OperationStatus, RoundInput
from portal.routers.evaluation import serves_materials
from portal.security import blind_code
from rules.calendar_source import build_calendar
from rules.recommendation import RECOMMENDATION_OPINION
from rules.timezone import SHANGHAI, cn_datetime
from rules.update_ids import new_form_token
from store.accounts import Account
from store.db import get_engine
from store.tables import AuditEvent, DeclarationRow
from tests.helpers.declaration_support import (
    SECOND,
    act,
    outbox_events,
    round_around,
    sleep_until,
    start,
    state,
)
from tests.helpers.portal_support import (
    APPLICANT_NAME,
    EMPLOYER_NAME,
    OTHER_EMPLOYER,
    OTHER_USCC,
    account,
    action_form,
    assert_blind,
    browser_for,
    forbidden_texts,
    local_input,
    login,
    other_employer_applicant,
    publicized_together,
    rendered_form,
    reviewers_app,
    snapshot,
    submitted,
    to_review_together,
)
from tests.helpers.samples import SAMPLE_ID_CARD, SAMPLE_MOBILE, SAMPLE_USCC

SECRET = "portal-reviewers-secret"
FORGED = {"actor": "supervisor", "actor_role": "supervisor", "actor_id": "forged", "role": "x"}
COMMITTEE_YEAR = 2081  # a round of its own (tests/workflows/test_round.py uses 2091 on)
COMMITTEE = Committee(
    members=[CommitteeMember(id=f"expert-{n}", name=f"专家{n}") for n in range(1, 10)]
)


@pytest_asyncio.fixture(scope="module")
async def portal(
    time_env: WorkflowEnvironment, time_worker: Worker, database_url: str, session_dir: Path
) -> FastAPI:
    return reviewers_app(time_env, database_url, SECRET, session_dir / "uploads")


@pytest_asyncio.fixture
async def browser(portal: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with await browser_for(portal) as client:
        yield client


def pairs(*items: tuple[str, str]) -> dict[str, list[str]]:
    """Form fields with repeated names (httpx takes a dict of lists for them)."""
    data: dict[str, list[str]] = {}
    for name, value in items:
        data.setdefault(name, []).append(value)
    return data


def pdf_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 280), "white").save(buffer, "PDF", resolution=100)
    return buffer.getvalue()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 280), "white").save(buffer, "PNG")
    return buffer.getvalue()


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "".join("".join((page.extract_text() or "").split()) for page in reader.pages)


async def published(handle: WorkflowHandle[Any, Any], kind: DocumentKind) -> DeclarationState:
    """Wait (real time: the activity renders the PDF) until the document is published."""
    for _ in range(300):
        current = await state(handle)
        found = {d.kind: d for d in current.documents}.get(kind)
        if found is not None and found.status is not DocumentStatus.publishing:
            assert found.status is DocumentStatus.published, found
            return current
        await asyncio.sleep(0.1)
    raise AssertionError(f"{kind} of {handle.id} not published")


async def audit_details(workflow_id: str, action: str) -> list[dict[str, Any]]:
    async with get_engine().connect() as conn:
        rows = await conn.execute(
            select(AuditEvent.details).where(
                AuditEvent.workflow_id == workflow_id, AuditEvent.action == action
            )
        )
        return [row.details for row in rows]


# --- employer ----------------------------------------------------------------------------------


async def test_employer_objection_recommendation_and_attachments(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    own = await submitted(time_env, time_worker)
    other = await submitted(time_env, time_worker, applicant=other_employer_applicant())
    employer = await account(database_url, Role.employer, employer_uscc=SAMPLE_USCC)
    stranger = await account(database_url, Role.employer, employer_uscc=OTHER_USCC)
    async with await browser_for(portal) as hr:
        token = await login(hr, employer)
        response = await hr.post(
            f"/employer/{own.id}/approve", data=action_form(token, confirmed="yes")
        )
        assert response.status_code == 303
        assert (await state(own)).stage is Stage.publicity
        page = (await hr.get(f"/employer/{own.id}")).text
        assert "登记公示异议" in page and "+08:00" in page

        # an objection during the publicity, with a forged actor: the session's account acts
        response = await hr.post(
            f"/employer/{own.id}/object",
            data=action_form(token, summary="业绩材料存疑", **FORGED),
        )
        assert response.status_code == 303, response.text
        current = await state(own)
        assert [o.summary for o in current.objections] == ["业绩材料存疑"]
        assert current.timeline[-1].actor.role is Role.employer
        assert current.timeline[-1].actor.id == f"employer:{employer}"

        # attachment 2 is the filled publicity notice; attachment 3 does not exist yet
        await published(own, DocumentKind.employer_publicity)
        response = await hr.get(f"/employer/{own.id}/attachments/2")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert "attachment" in response.headers["content-disposition"]
        text = pdf_text(response.content)
        assert APPLICANT_NAME in text and EMPLOYER_NAME in text
        # not in this portal's publication store: rendered again from the recorded request
        [stored_file] = publication_dir().glob(f"*/employer_publicity-{own.id}.pdf")
        stored_file.rename(stored_file.with_suffix(".moved"))
        try:
            response = await hr.get(f"/employer/{own.id}/attachments/2")
        finally:
            stored_file.with_suffix(".moved").rename(stored_file)
        assert response.status_code == 200 and pdf_text(response.content) == text
        response = await hr.get(f"/employer/{own.id}/attachments/3")
        assert response.status_code == 404 and "尚未生成" in response.text
        assert (await hr.get(f"/employer/{own.id}/attachments/4")).status_code == 404

        # another employer's declarations: 404 for every route, nothing changed
        async with await browser_for(portal) as outsider:
            foreign = await login(outsider, stranger)
            before = await snapshot(own)
            for path in (f"/employer/{own.id}", f"/employer/{own.id}/attachments/2"):
                assert (await outsider.get(path)).status_code == 404, path
            for what, data in (
                ("object", {"summary": "x"}),
                ("resolve", {"objection_id": "1", "upheld": "true", "resolution": "x"}),
                ("recommend", {"opinion": RECOMMENDATION_OPINION}),
                ("approve", {}),
            ):
                response = await outsider.post(
                    f"/employer/{own.id}/{what}", data=action_form(foreign, **data)
                )
                assert response.status_code == 404, what
            assert await snapshot(own) == before
        for path in (f"/employer/{other.id}", f"/employer/{other.id}/attachments/2"):
            assert (await hr.get(path)).status_code == 404

        # missing CSRF: 403, nothing changed
        before = await snapshot(own)
        response = await hr.post(f"/employer/{own.id}/object", data={"summary": "无令牌"})
        assert response.status_code == 403
        assert await snapshot(own) == before

        # the publicity ends; the objection is still open: recommending is refused (R13)
        ends = datetime.fromisoformat((await state(own)).deadlines["publicity_ends_at"])
        await sleep_until(time_env, ends, SECOND)
        assert (await state(own)).stage is Stage.recommendation
        page = (await hr.get(f"/employer/{own.id}")).text
        assert RECOMMENDATION_OPINION in page and 'type="file"' in page
        scan = pdf_bytes()
        files = {
            "publicity_original": ("公示原件.pdf", scan, "application/pdf"),
            "publicity_result": ("公示结果.png", png_bytes(), "image/png"),
        }
        form = action_form(token, opinion=RECOMMENDATION_OPINION)
        before = await snapshot(own)
        response = await hr.post(f"/employer/{own.id}/recommend", data=form, files=files)
        assert response.status_code == 409
        assert "异议尚未核实处理，请先处理异议，再推荐" in response.text
        assert "objections still open" not in response.text  # the English detail is not shown
        assert await snapshot(own) == before

        # resolved, not upheld: attachment 3 is produced
        response = await hr.post(
            f"/employer/{own.id}/resolve",
            data=action_form(
                token, objection_id="1", upheld="false", resolution="经核实，材料真实"
            ),
        )
        assert response.status_code == 303, response.text
        assert (await state(own)).objections[0].upheld is False
        await published(own, DocumentKind.publicity_result)
        response = await hr.get(f"/employer/{own.id}/attachments/3")
        assert response.status_code == 200 and "经核实，材料真实" in pdf_text(response.content)

        # R14: the opinion must be the mandated text; both scans must be there and be scans
        before = await snapshot(own)
        response = await hr.post(
            f"/employer/{own.id}/recommend",
            data=form | {"opinion": "同意推荐"},
            files=files,
        )
        assert response.status_code == 409
        assert f"推荐意见须为规定的表述：「{RECOMMENDATION_OPINION}」。" in response.text
        response = await hr.post(
            f"/employer/{own.id}/recommend",
            data=form,
            files={"publicity_original": files["publicity_original"]},
        )
        assert response.status_code == 400 and "请上传公示结果证明（附件3）" in response.text
        response = await hr.post(
            f"/employer/{own.id}/recommend",
            data=form,
            files=files
            | {"publicity_result": ("结果.pdf", b"MZ\x90\x00not a pdf", "application/pdf")},
        )
        assert response.status_code == 415 and "只能上传PDF、JPG或PNG" in response.text
        assert await snapshot(own) == before

        response = await hr.post(f"/employer/{own.id}/recommend", data=form | FORGED, files=files)
        assert response.status_code == 303, response.text
        current = await state(own)
        assert current.stage is Stage.evaluation_review
        assert current.timeline[-1].actor.id == f"employer:{employer}"
        [details] = await audit_details(own.id, "recommend")
        assert re.fullmatch(r"upload:[0-9a-f]{64}", details["publicity_original_ref"])
        assert re.fullmatch(r"upload:[0-9a-f]{64}", details["publicity_result_ref"])
        stored = Path(portal.state.uploads.directory)
        sha = details["publicity_original_ref"].removeprefix("upload:")
        assert (stored / sha[:2] / sha).read_bytes() == scan


async def test_an_upheld_objection_ends_the_declaration(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    handle = await submitted(time_env, time_worker)
    await act(handle, "start_publicity", "employer")
    await act(handle, "raise_objection", "employer", summary="学历造假")
    username = await account(database_url, Role.employer, employer_uscc=SAMPLE_USCC)
    async with await browser_for(portal) as hr:
        token = await login(hr, username)
        response = await hr.post(
            f"/employer/{handle.id}/resolve",
            data=action_form(token, objection_id="1", upheld="", resolution="x"),
        )
        assert response.status_code == 400  # upheld or not must be chosen
        upheld = {"objection_id": "1", "upheld": "true", "resolution": "经核实，学历证书系伪造"}
        # an upheld objection ends the declaration: asked first, nothing sent
        response = await hr.post(
            f"/employer/{handle.id}/resolve", data=action_form(token, **upheld)
        )
        assert response.status_code == 200 and "异议成立的，申报即终止，不能恢复" in response.text
        assert (await state(handle)).stage is Stage.publicity
        response = await hr.post(
            f"/employer/{handle.id}/resolve", data=action_form(token, confirmed="yes", **upheld)
        )
        assert response.status_code == 303
        current = await state(handle)
        assert current.stage is Stage.rejected
        page = (await hr.get(f"/employer/{handle.id}")).text
        assert "异议成立" in page and "经核实，学历证书系伪造" in page


# --- competent unit ----------------------------------------------------------------------------


async def test_competent_unit_acts_on_its_own_employers_only(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    unit = f"测试主管局{uuid.uuid4().hex[:6]}"
    via_unit = Applicant(
        name=APPLICANT_NAME,
        id_card=SAMPLE_ID_CARD,
        mobile=SAMPLE_MOBILE,
        employer=Employer(name=EMPLOYER_NAME, uscc=SAMPLE_USCC, competent_unit=unit),
    )
    via_other = via_unit.model_copy(
        update={"employer": Employer(name=OTHER_EMPLOYER, uscc=OTHER_USCC, competent_unit="别的局")}
    )
    own = await start(time_env, time_worker, applicant=via_unit)
    other = await start(time_env, time_worker, applicant=via_other)
    for current in await publicized_together(time_env, own, other):
        assert current.stage is Stage.competent_unit_review
    username = await account(database_url, Role.competent_unit)
    # the binding is the display name (portal/routers/competent_unit.py)
    async with get_engine(database_url).begin() as conn:
        await conn.execute(
            update(Account).where(Account.username == username).values(display_name=f" {unit} ")
        )

    async with await browser_for(portal) as cu:
        token = await login(cu, username)
        page = (await cu.get("/competent-unit")).text
        assert own.id in page and other.id not in page and OTHER_EMPLOYER not in page
        page = (await cu.get(f"/competent-unit/{own.id}")).text
        assert RECOMMENDATION_OPINION in page  # the employer's recommendation
        assert (await cu.get(f"/competent-unit/{other.id}")).status_code == 404

        # a declaration outside its units: 404 for everything, nothing changed
        before = await snapshot(other)
        for what, data in (("recommend", {"opinion": "同意"}), ("return", {"reason": "x"}),
                           ("preview", {"opinion": "同意"})):  # fmt: skip
            response = await cu.post(
                f"/competent-unit/{other.id}/{what}", data=action_form(token, **data)
            )
            assert response.status_code == 404, what
        assert (await cu.get(f"/competent-unit/{other.id}/attachments/2")).status_code == 404
        assert await snapshot(other) == before

        # attachment 2 of its own, and attachment 4 previewed with its opinion
        await published(own, DocumentKind.employer_publicity)
        before = await snapshot(own)
        response = await cu.get(f"/competent-unit/{own.id}/attachments/2")
        assert response.status_code == 200 and APPLICANT_NAME in pdf_text(response.content)
        response = await cu.post(
            f"/competent-unit/{own.id}/preview",
            data={"csrf_token": token, "opinion": "经审核，同意推荐。"},
        )
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        text = pdf_text(response.content)
        assert "主管单位推荐意见" in text and unit in text and "经审核，同意推荐。" in text
        assert await snapshot(own) == before  # a preview sends nothing

        # missing CSRF: 403, nothing changed
        before = await snapshot(own)
        response = await cu.post(f"/competent-unit/{own.id}/recommend", data={"opinion": "x"})
        assert response.status_code == 403
        assert await snapshot(own) == before

        # return to the employer, who recommends again; then recommend (forged actor ignored)
        response = await cu.post(
            f"/competent-unit/{own.id}/return",
            data=action_form(token, reason="请补充公示结果证明"),
        )
        assert response.status_code == 303
        assert (await state(own)).stage is Stage.recommendation
        response = await cu.post(
            f"/competent-unit/{own.id}/recommend", data=action_form(token, opinion="同意")
        )
        assert response.status_code == 409 and "当前所处阶段不能办理此事项" in response.text
        await act(
            own,
            "recommend",
            "employer",
            opinion=RECOMMENDATION_OPINION,
            publicity_original_ref="upload:" + "a" * 64,
            publicity_result_ref="upload:" + "b" * 64,
        )
        response = await cu.post(
            f"/competent-unit/{own.id}/recommend",
            data=action_form(token, opinion="经审核，同意推荐。", **FORGED),
        )
        assert response.status_code == 303, response.text
        current = await state(own)
        assert current.stage is Stage.evaluation_review
        assert current.timeline[-1].actor.role is Role.competent_unit
        assert current.timeline[-1].actor.id == f"competent_unit:{username}"
        assert own.id not in (await cu.get("/competent-unit")).text


# --- evaluation body ---------------------------------------------------------------------------


async def test_evaluation_body_payment_defense_and_blind_view(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    village = EligibilityFacts(
        village_stationed_months_this_year=8, current_level=Level.junior, years_at_current_level=5
    )
    review, correction, payment, defense = [await start(time_env, time_worker) for _ in range(4)]
    exempt = await start(time_env, time_worker, eligibility=village)
    handles = {"review": review, "correction": correction, "payment": payment,
               "defense": defense, "exempt": exempt}  # fmt: skip
    await to_review_together(time_env, *handles.values())
    await act(correction, "return_for_correction", "evaluation_body", reason="缺少继续教育证明")
    for handle in (payment, defense, exempt):
        await act(handle, "accept_materials", "evaluation_body")
    for handle in (defense, exempt):
        await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-0")
    code = {name: blind_code(handle.id, SECRET) for name, handle in handles.items()}
    forbidden = await forbidden_texts()
    reviewer = await account(database_url, Role.evaluation_body)

    async with await browser_for(portal) as evaluator:
        token = await login(evaluator, reviewer)
        seen: list[tuple[str, bytes]] = []

        async def get(path: str, status: int = 200) -> httpx.Response:
            response = await evaluator.get(path)
            assert response.status_code == status, (path, response.text)
            seen.append((f"GET {path}", response.content))
            return response

        async def post(path: str, data: dict[str, str], status: int) -> httpx.Response:
            response = await evaluator.post(path, data=action_form(token, **data))
            assert response.status_code == status, (path, response.text)
            seen.append((f"POST {path}", response.content))
            return response

        # the queue: every blind stage, by code, with its current deadline
        page = (await get("/evaluation")).text
        for name, c in code.items():
            assert f'<tr id="{c}"' in page, name
        row = page[page.index(f'<tr id="{code["correction"]}"') :]
        row = row[: row.index("</tr>")]
        assert "1 / 3" in row and "补正截止" in row
        assert "当前时限（北京时间，+08:00）" in page  # the offset said once, in the header
        row = page[page.index(f'<tr id="{code["exempt"]}"') :]
        assert "免于现场答辩" in row[: row.index("</tr>")]

        # every declaration's own page, and its materials if the app serves them
        for c in code.values():
            detail = (await get(f"/evaluation/{c}")).text
            assert c in detail and "+08:00" in detail
        assert "缺少继续教育证明" in (await get(f"/evaluation/{code['correction']}")).text
        if serves_materials(portal):
            for c in code.values():
                await get(f"/materials/{c}")
                listing = await evaluator.get(f"/materials/{c}/1")
                seen.append((f"GET /materials/{c}/1", listing.content))
                assert listing.status_code in (200, 404)

        # confirm the payment: the receipt number is needed; then the defense follows
        before = await snapshot(payment)
        await post(f"/evaluation/{code['payment']}/payment", {"receipt_no": " "}, 400)
        bad_time = {"starts_at": "x", "place": "y", "form": "现场答辩"}
        await post(f"/evaluation/{code['payment']}/arrange", bad_time, 400)
        assert await snapshot(payment) == before
        await post(f"/evaluation/{code['payment']}/payment", {"receipt_no": "XJ-2025-001"}, 303)
        current = await state(payment)
        assert current.stage is Stage.defense
        assert current.timeline[-1].actor.id == f"evaluation_body:{reviewer}"
        assert (await audit_details(payment.id, "confirm_payment"))[0][
            "receipt_no"
        ] == "XJ-2025-001"

        # announce the defense (R18) in Shanghai time, then record its score
        starts = (await time_env.get_current_time()) + timedelta(days=3)
        starts = starts.replace(second=0, microsecond=0)
        arrangement = {"starts_at": local_input(starts), "place": "甘泉堡经开区人力资源服务中心",
                       "form": "现场答辩", **FORGED}  # fmt: skip
        await post(f"/evaluation/{code['defense']}/arrange", arrangement, 303)
        [details] = await audit_details(defense.id, "arrange_defense")
        assert details["starts_at"] == starts.astimezone(SHANGHAI).isoformat()
        assert details["place"] == "甘泉堡经开区人力资源服务中心"
        detail = (await get(f"/evaluation/{code['defense']}")).text
        assert (
            "甘泉堡经开区人力资源服务中心" in detail
            and cn_datetime(starts) in detail  # as people read it, with its offset
        )
        past = {**arrangement, "starts_at": local_input(starts - timedelta(days=30))}
        response = await post(f"/evaluation/{code['defense']}/arrange", past, 409)
        assert "已经过去，请填写今后的时间" in response.text
        assert cn_datetime(starts - timedelta(days=30)) in response.text
        await post(f"/evaluation/{code['defense']}/score", {"score": "120"}, 400)
        # no score before the defense starts (R18): refused, naming its start
        score = {"score": "86.5", "confirmed": "yes"}
        response = await post(f"/evaluation/{code['defense']}/score", score, 409)
        assert f"答辩定于{cn_datetime(starts)}开始，答辩开始后才能录入答辩成绩。" in response.text
        assert (await state(defense)).stage is Stage.defense
        await sleep_until(time_env, starts, SECOND)
        await post(f"/evaluation/{code['defense']}/score", score, 303)
        current = await state(defense)
        assert (current.stage, current.defense_score) == (Stage.committee, 86.5)

        # the village-stationed applicant takes no on-site score (R19): refused inline
        before = await snapshot(exempt)
        response = await post(
            f"/evaluation/{code['exempt']}/score", {"score": "90", "confirmed": "yes"}, 409
        )
        assert "提交的内容不符合要求" in response.text
        assert await snapshot(exempt) == before

        # a wrong stage is refused inline; a workflow id or an unknown code is 404
        before = await snapshot(review)
        await post(f"/evaluation/{code['review']}/payment", {"receipt_no": "X"}, 409)
        for target in (review.id, "RFFFFFFFFFF"):
            response = await evaluator.post(f"/evaluation/{target}/accept", data=action_form(token))
            assert response.status_code == 404
            assert (await evaluator.get(f"/evaluation/{target}")).status_code == 404
        # missing CSRF: 403
        response = await evaluator.post(f"/evaluation/{code['review']}/accept", data={})
        assert response.status_code == 403
        assert await snapshot(review) == before

        # nothing naming the applicant is served to the evaluation body
        await get("/evaluation")
        for where, body in seen:
            assert_blind(where, body, forbidden)

        # and the pages that do name applicants are not the evaluation body's
        for path in (f"/employer/{review.id}", f"/employer/{review.id}/attachments/2",
                     "/employer", "/competent-unit", f"/competent-unit/{review.id}/attachments/2",
                     "/supervisor", "/committee", "/applicant"):  # fmt: skip
            assert (await evaluator.get(path)).status_code == 403, path
        response = await evaluator.post(f"/employer/{review.id}/approve", data=action_form(token))
        assert response.status_code == 403
        assert await snapshot(review) == before


async def test_a_masking_incomplete_return_is_its_own_button(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    """R11: the evaluation body returns a declaration because its masking is incomplete; by
    default that return does not count toward the 3 (R15), its confirmation and its pages say
    so in Chinese."""
    handle = await start(time_env, time_worker)
    await to_review_together(time_env, handle)
    code = blind_code(handle.id, SECRET)
    reviewer = await account(database_url, Role.evaluation_body)
    forbidden = await forbidden_texts()
    async with await browser_for(portal) as evaluator:
        token = await login(evaluator, reviewer)
        page = await evaluator.get(f"/evaluation/{code}")
        assert 'name="kind" value="masking_incomplete"' in page.text
        assert "遮盖不完整，退回重新遮盖" in page.text
        form = {"reason": "第2页单位公章未遮盖", "kind": "masking_incomplete"}
        response = await evaluator.post(
            f"/evaluation/{code}/return", data=action_form(token, **form)
        )
        assert response.status_code == 200, response.text  # asked first, nothing sent
        said = "因遮盖不完整退回，本次不计入退回次数（已计入0次，共3次）。"
        assert said + "申报人须在48小时内重新遮盖并提交" in response.text
        assert (await state(handle)).stage is Stage.evaluation_review
        confirm = rendered_form(response.text, f"/evaluation/{code}/return")
        assert confirm["kind"] == "masking_incomplete"
        response = await evaluator.post(
            f"/evaluation/{code}/return", data=confirm | {"confirmed": "yes"}
        )
        assert response.status_code == 303, response.text
        current = await state(handle)
        assert (current.stage, current.return_count, current.masking_return_count) == (
            Stage.correction,
            0,
            1,
        )
        assert await audit_details(handle.id, "return_for_correction") == [
            {"correction_deadline": current.deadlines["correction_deadline"],
             "masking_incomplete": True, "counted": False}
        ]  # fmt: skip
        detail = await evaluator.get(f"/evaluation/{code}")
        assert "第2页单位公章未遮盖（遮盖不完整，不计入退回次数）" in detail.text
        assert "0 / 3；因遮盖不完整退回1次" in detail.text
        for where, body in (("/evaluation", page.content), ("detail", detail.content)):
            assert_blind(where, body, forbidden)


# --- committee ---------------------------------------------------------------------------------


async def test_a_form_posted_twice_is_applied_once(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    """The same form, with the request token its page rendered in it, posted twice (a double
    click, a browser sending it again): one defense arrangement in the timeline and one
    notice in the outbox, and the second post answered as the first. A form without a valid
    token is refused and sends nothing; the page rendered again is a new request."""
    handle = await start(time_env, time_worker)
    await to_review_together(time_env, handle)
    await act(handle, "accept_materials", "evaluation_body")
    await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-2")
    path = f"/evaluation/{blind_code(handle.id, SECRET)}/arrange"
    starts = (await time_env.get_current_time()) + timedelta(days=3)
    fields = {
        "starts_at": local_input(starts),
        "place": "甘泉堡经开区人力资源服务中心",
        "form": "现场答辩",
    }

    async def arranged() -> tuple[int, int]:
        timeline = (await state(handle)).timeline
        notices = (await outbox_events(handle.id, database_url)).count("defense_arranged")
        return [t.action for t in timeline].count("arrange_defense"), notices

    async with await browser_for(portal) as evaluator:
        await login(evaluator, await account(database_url, Role.evaluation_body))
        detail = f"/evaluation/{blind_code(handle.id, SECRET)}"
        form = rendered_form((await evaluator.get(detail)).text, path) | fields
        assert set(form) >= {"csrf_token", "request_token"}
        first = await evaluator.post(path, data=form)
        second = await evaluator.post(path, data=form)
        assert (first.status_code, second.status_code) == (303, 303), second.text
        assert first.headers["location"] == second.headers["location"]
        assert await arranged() == (1, 1)

        before = await snapshot(handle)
        for token in ({}, {"request_token": ""}, {"request_token": "not-a-token"}):
            refused = {k: v for k, v in form.items() if k != "request_token"} | token
            response = await evaluator.post(path, data=refused)
            assert response.status_code == 400, response.text
            assert "请刷新页面后重新提交" in response.text
        assert await snapshot(handle) == before and await arranged() == (1, 1)

        # the page again: its form has a new token, and a new arrangement is made
        again = rendered_form((await evaluator.get(detail)).text, path)
        assert again["request_token"] != form["request_token"]
        response = await evaluator.post(path, data=again | fields | {"place": "三楼会议室"})
        assert response.status_code == 303, response.text
        assert await arranged() == (2, 2)


async def test_committee_sessions_tally_preview_and_votes(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    year = COMMITTEE_YEAR
    now = await time_env.get_current_time()
    years = {y: YearCalendar() for y in (now.year, now.year + 1, year)}
    config = round_around(now, year=year, calendar=build_calendar(years, years))
    round_input = RoundInput(config=config, committee=COMMITTEE, listing=ListingSource.record)
    await start_round(time_env.client, round_input, time_worker.task_queue)
    # passing: on-site defense scored 88; failing: junior (no defense); village: R19 exempt
    passing = await start(time_env, time_worker, config, level=Level.intermediate)
    failing = await start(
        time_env,
        time_worker,
        config,
        level=Level.junior,
        eligibility=EligibilityFacts(continuing_education_completed=True),
    )
    village = await start(
        time_env,
        time_worker,
        config,
        level=Level.intermediate,
        eligibility=EligibilityFacts(
            village_stationed_months_this_year=8,
            current_level=Level.junior,
            years_at_current_level=5,
        ),
    )
    await to_review_together(time_env, passing, failing, village)
    for handle in (passing, failing, village):
        await act(handle, "accept_materials", "evaluation_body")
        await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-1")
    await act(passing, "record_defense_score", "evaluation_body", score=88)
    assert (await state(village)).stage is Stage.defense
    code = {
        name: blind_code(handle.id, SECRET)
        for name, handle in (("passing", passing), ("failing", failing), ("village", village))
    }

    async def round_now() -> tuple[int, int]:
        progress = (await round_state(time_env.client, year)).progress
        return len(progress.sessions), len(progress.operations)

    # not the secretary: 403 for every committee route, nothing recorded
    outsider = await account(database_url, Role.evaluation_body)
    async with await browser_for(portal) as other:
        token = await login(other, outsider)
        before = await round_now()
        assert (await other.get(f"/committee?year={year}")).status_code == 403
        for path, data in (
            ("/committee/sessions", {"session_id": "X", "attending": "expert-1"}),
            ("/committee/votes/preview", {"session_id": "X", f"yes_{code['passing']}": "9"}),
            ("/committee/votes", {"session_id": "X", f"yes_{code['passing']}": "9"}),
        ):
            response = await other.post(path, data={"csrf_token": token, "year": str(year), **data})
            assert response.status_code == 403, path
        assert await round_now() == before

        # R19 from the evaluation body's page: the round averages the on-site scores
        evaluation = (await other.get("/evaluation")).text
        assert f'name="year" value="{year}"' in evaluation and "计算现场答辩平均分" in evaluation
        response = await other.post(
            "/evaluation/defense-averages", data=action_form(token, year=str(year))
        )
        assert response.status_code == 303, response.text
        progress = (await round_state(time_env.client, year)).progress
        [operation] = [op for op in progress.operations if op.kind.value == "defense_average"]
        assert operation.requested_by.id == f"evaluation_body:{outsider}"
        done = await wait_for_operation(
            time_env.client, year, operation.id, timeout=timedelta(seconds=60)
        )
        assert done.status is OperationStatus.done, done
        current = await state(village)
        assert (current.stage, current.defense_score) == (Stage.committee, 88)
        response = await other.post(
            "/evaluation/defense-averages", data=action_form(token, year="1999")
        )
        assert response.status_code == 409 and "1999年度评审轮次未在运行" in response.text

    secretary = await account(database_url, Role.committee)
    forbidden = await forbidden_texts()
    async with await browser_for(portal) as clerk:
        token = await login(clerk, secretary)
        page = await clerk.get(f"/committee?year={year}")
        assert page.status_code == 200
        assert "共9人，会议有效至少需出席6人" in page.text
        assert code["passing"] in page.text and code["failing"] in page.text
        assert_blind("committee page", page.content, forbidden)

        # missing CSRF: 403, no session
        before = await round_now()
        response = await clerk.post(
            "/committee/sessions", data={"year": str(year), "session_id": "S0"}
        )
        assert response.status_code == 403
        assert await round_now() == before

        def fresh() -> tuple[str, str]:  # each form as its page renders it: a token of its own
            return ("request_token", new_form_token())

        def attendance(count: int) -> list[tuple[str, str]]:
            return [("attending", f"expert-{n}") for n in range(1, count + 1)]

        base = [("csrf_token", token), ("year", str(year))]
        # 5 of 9: recorded as not valid (R20); its votes are refused before any preview
        response = await clerk.post(
            "/committee/sessions", data=pairs(*base, fresh(), ("session_id", "S1"), *attendance(5))
        )
        assert response.status_code == 303
        committee_html = (await clerk.get(f"/committee?year={year}")).text
        assert "无效（出席人数不足，不能表决）" in committee_html
        response = await clerk.post(
            "/committee/votes/preview",
            data=pairs(*base, ("session_id", "S1"), (f"yes_{code['passing']}", "5")),
        )
        assert response.status_code == 400 and "会议无效" in response.text
        # the same session twice: the round refuses, shown inline
        response = await clerk.post(
            "/committee/sessions", data=pairs(*base, fresh(), ("session_id", "S1"), *attendance(7))
        )
        assert response.status_code == 409
        assert "会议S1已经登记过，不能重复登记。" in response.text

        # 7 of 9, with a forged actor: valid, recorded by the session's account
        forged = list(FORGED.items())
        response = await clerk.post(
            "/committee/sessions",
            data=pairs(*base, fresh(), ("session_id", "S2"), *attendance(7), *forged),
        )
        assert response.status_code == 303, response.text
        [_, session] = (await round_state(time_env.client, year)).progress.sessions
        assert (session.valid, session.recorded_by.role) == (True, Role.committee)
        assert session.recorded_by.id == f"committee:{secretary}"

        # the preview: R20's tally, nothing recorded
        votes = [("session_id", "S2"),
                 (f"yes_{code['passing']}", "5"), (f"against_{code['passing']}", "1"),
                 (f"abstain_{code['passing']}", "1"),
                 (f"yes_{code['failing']}", "4"),
                 (f"yes_{code['village']}", "7")]  # fmt: skip
        before = await round_now()
        response = await clerk.post("/committee/votes/preview", data=pairs(*base, *votes))
        assert response.status_code == 200, response.text
        preview = response.text
        passing_row = preview[preview.index(f'<tr id="{code["passing"]}"') :]
        assert "通过" in passing_row[: passing_row.index("</tr>")]
        failing_row = preview[preview.index(f'<tr id="{code["failing"]}"') :]
        failing_row = failing_row[: failing_row.index("</tr>")]
        assert "未通过" in failing_row and "需5" in failing_row  # ceil(7 × 2/3) = 5
        assert "确认并记录表决结果" in preview
        assert_blind("vote preview", response.content, forbidden)
        assert await round_now() == before
        assert (await state(passing)).stage is Stage.committee

        # counts that do not add up, or more yes votes than members attending: no confirm
        for wrong in ([(f"yes_{code['passing']}", "4"), (f"against_{code['passing']}", "1")],
                      [(f"yes_{code['passing']}", "8")],
                      [(f"yes_{code['passing']}", "-1")]):  # fmt: skip
            response = await clerk.post(
                "/committee/votes/preview", data=pairs(*base, ("session_id", "S2"), *wrong)
            )
            assert response.status_code == 400, wrong
            assert "确认并记录表决结果" not in response.text
        assert await round_now() == before

        # recording needs its confirmation: without it, the preview again, nothing recorded
        confirm = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', preview)
        response = await clerk.post("/committee/votes", data=pairs(*confirm))
        assert response.status_code == 200 and "表决结果不能更改" in response.text
        assert await round_now() == before
        # confirmed: the round's committee_votes, as the secretary
        confirm = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', response.text)
        response = await clerk.post("/committee/votes", data=pairs(*confirm, ("confirmed", "yes")))
        assert response.status_code == 303, response.text
        progress = (await round_state(time_env.client, year)).progress
        [operation] = [op for op in progress.operations if op.kind.value == "committee_votes"]
        done = await wait_for_operation(
            time_env.client, year, operation.id, timeout=timedelta(seconds=60)
        )
        assert done.status is OperationStatus.done, done
        assert done.outcomes == {"result_publicity": 2, "not_passed": 1}
        current = await state(passing)
        assert current.stage is Stage.result_publicity
        assert current.timeline[-1].actor.id == f"committee:{secretary}"
        assert (await state(failing)).stage is Stage.not_passed
        page = await clerk.get(f"/committee?year={year}")
        assert "评审结果公示" in page.text
        assert_blind("committee page after the vote", page.content, forbidden)


# --- supervisor --------------------------------------------------------------------------------


async def test_supervisor_sees_overdue_items(
    portal: FastAPI, browser: httpx.AsyncClient, database_url: str
) -> None:
    """A declaration still in payment a day after its payment deadline (its worker behind):
    listed as overdue, linked to its workflow; one whose deadline is ahead is not."""
    now = datetime.now(UTC)
    late, fine = f"decl-2099-{uuid.uuid4().hex[:16]}", f"decl-2099-{uuid.uuid4().hex[:16]}"
    common = {"round_year": 2099, "applicant_key": "0" * 16, "applicant_name": "逾期测试",
              "employer_uscc": SAMPLE_USCC, "employer_name": EMPLOYER_NAME, "level": "junior",
              "jurisdiction": "urumqi_city", "stage": "payment", "return_count": 0,
              "last_seq": 1, "updated_at": now}  # fmt: skip
    due = {"late": now - timedelta(days=1, hours=2), "fine": now + timedelta(days=1)}
    async with get_engine(database_url).begin() as conn:
        await conn.execute(
            insert(DeclarationRow),
            [
                common
                | {
                    "workflow_id": workflow_id,
                    "deadlines": {"payment_due_at": due[which].isoformat()},
                    "next_deadline": due[which],  # as the record activity writes it
                }
                for which, workflow_id in (("late", late), ("fine", fine))
            ],
        )
    try:
        csrf = await login(browser, await account(database_url, Role.supervisor))
        page = (await browser.get("/supervisor")).text
        overdue = page[page.index('<h2 id="overdue">') : page.index('<h2 id="declarations">')]
        namespace = portal.state.portal.settings.temporal_namespace  # TEMPORAL_NAMESPACE
        assert f"http://localhost:8233/namespaces/{namespace}/workflows/{late}" in overdue
        assert fine not in overdue
        row = overdue[overdue.index(late) :]
        row = row[: row.index("</tr>")]
        assert "缴费截止" in row and "1天2小时" in row and "逾期测试" in row
        # the offset said once, in the table's header, not on each time (issue 14)
        assert "截止（北京时间，+08:00）" in overdue and "+08:00" not in row
        found = await browser.post("/supervisor", data={"csrf_token": csrf, "q": "逾期测试"})
        listed = found.text[found.text.index('<h2 id="declarations">') :]
        assert fine in listed and late in listed  # among all declarations, found by name
    finally:
        async with get_engine(database_url).begin() as conn:
            await conn.execute(
                delete(DeclarationRow).where(DeclarationRow.workflow_id.in_([late, fine]))
            )


async def test_supervisor_and_committee_pages_need_their_role(
    portal: FastAPI, browser: httpx.AsyncClient, database_url: str
) -> None:
    await login(browser, await account(database_url, Role.competent_unit))
    for path in ("/supervisor", "/committee", "/evaluation", "/employer"):
        assert (await browser.get(path)).status_code == 403, path
    assert (await browser.get("/competent-unit")).status_code == 200
