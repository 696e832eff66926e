"""Each reviewer's page of a declaration over HTTP (httpx + ASGITransport on the time-skipping
test server): the dossier beside the actions, the confirmations, the feedback after an
action (issue 14, item 1).

- The employer and the competent unit (not blind) see every answer of the declaration form,
  the achievements, each material's original and masked copy on the page (its pages as PNG
  images) and, once recommended, the signed scans of attachments 2 and 3.
- The evaluation body and the committee (blind, R11) see the same facts without the
  applicant part, and the masked copies only; no page, confirm page, page image or download
  they are served holds the applicant's name, ID card, mobile, e-mail, employer or its USCC;
  and OCR reads nothing identifying on any page image or download served. A declaration built
  to leak (a scan with the name printed, masked with boxes that miss it) is refused at its
  submission by its masked copy's check (R11), so it never reaches them.
- Starting the publicity, a return for correction (with its count), accepting the materials,
  a defense score and an upheld objection are asked for confirmation: a post without it
  answers with the confirm page and changes nothing; with it, the action is done, and the
  page then says what was done.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import update
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.declarations import act as client_act
from client.masked_checks import start_masked_copy_check
from documents.ocr import read_words
from documents.page_images import PDF, PNG, each_page_image
from models.common import Level, Role, Stage
from models.declaration import (
    Achievement,
    AchievementKind,
    Applicant,
    EligibilityFacts,
    Employer,
)
from portal.masking import masked_copy
from portal.security import blind_code
from rules.blind_review import page_findings
from rules.recommendation import RECOMMENDATION_OPINION
from rules.timezone import cn_datetime
from settings import Settings
from store.accounts import Account
from store.db import get_engine
from tests.helpers.declaration_support import (
    SECOND,
    act,
    sleep_until,
    start,
    state,
    to_publicity,
)
from tests.helpers.portal_applicant_support import (
    certificate,
    checks_finished,
    identity_scan,
    mask_boxes,
    ocr_worker_running,
    pdf_of,
    png_of,
)
from tests.helpers.portal_support import (
    APPLICANT_NAME,
    EMPLOYER_NAME,
    OTHER_USCC,
    SAMPLE_EMAIL,
    Scanned,
    account,
    action_form,
    assert_blind,
    browser_for,
    forbidden_texts,
    keep_material,
    local_input,
    login,
    rendered_form,
    reviewers_app,
    scanned,
    snapshot,
    to_review_together,
)
from tests.helpers.samples import (
    SAMPLE_ID_CARD,
    SAMPLE_MOBILE,
    SAMPLE_USCC,
    sample_declaration_input,
)
from tests.helpers.signing import TEST_SIGNER

SECRET = "portal-dossier-secret"
APPLICANT = sample_declaration_input().applicant  # the sample's: 张三, 新疆示例硅业有限公司
PATENT = "多晶硅还原炉节能装置"  # tests.helpers.samples: the sample's achievement


@pytest_asyncio.fixture(scope="module")
async def portal(
    time_env: WorkflowEnvironment, time_worker: Worker, database_url: str, session_dir: Path
) -> FastAPI:
    return reviewers_app(time_env, database_url, SECRET, session_dir / "dossier-uploads")


@pytest_asyncio.fixture(scope="module")
async def ocr_worker(
    portal: FastAPI, time_env: WorkflowEnvironment, time_worker: Worker, session_settings: Settings
) -> AsyncIterator[Worker]:
    """The OCR of masked copies (R11) from the portal's upload store, as worker.py runs it."""
    async with ocr_worker_running(
        time_env.client, time_worker.task_queue, session_settings, portal.state.uploads.directory
    ) as worker:
        yield worker


async def identifying_text_on(where: str, body: bytes, media_type: str) -> list[str]:
    """What OCR reads on a served page image or download that identifies the applicant
    (rules/blind_review.py page_findings), as the findings say it (never the text)."""
    said = []
    pages = await asyncio.to_thread(lambda: list(each_page_image(body, media_type)))
    for number, image in enumerate(pages, 1):
        words = await read_words(image)
        said += [
            f"{where}: {f.text_zh}" for f in page_findings(words, number, image.size, APPLICANT)
        ]
    return said


@pytest_asyncio.fixture
async def browser(portal: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with await browser_for(portal) as client:
        yield client


def png_size(response: httpx.Response) -> tuple[int, int]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert "no-store" in response.headers["cache-control"]
    return Image.open(io.BytesIO(response.content)).size


async def follow(client: httpx.AsyncClient, response: httpx.Response) -> httpx.Response:
    """The page a redirect after an action leads to."""
    assert response.status_code == 303, response.text
    return await client.get(response.headers["location"])


# --- employer and competent unit: not blind ------------------------------------------------------


async def test_employer_and_competent_unit_see_the_whole_dossier(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    unit = f"测试主管局{uuid.uuid4().hex[:6]}"
    applicant = Applicant(
        name=APPLICANT_NAME,
        id_card=SAMPLE_ID_CARD,
        mobile="13800138000",
        email=SAMPLE_EMAIL,
        employer=Employer(name=EMPLOYER_NAME, uscc=SAMPLE_USCC, competent_unit=unit),
    )
    scan = scanned(APPLICANT_NAME, EMPLOYER_NAME)
    number = f"2026-{uuid.uuid4().int % 10**6:06d}"  # as open_declaration allocates it
    handle = await start(
        time_env, time_worker, applicant=applicant, materials=[scan.material], number=number
    )
    original, masked = await keep_material(
        database_url, portal.state.uploads.directory, handle, scan
    )
    await act(handle, "submit", "applicant")
    employer = await account(database_url, Role.employer, employer_uscc=SAMPLE_USCC)
    here = f"/employer/{handle.id}"

    async with await browser_for(portal) as hr:
        token = await login(hr, employer)
        # the queue links to the page; no action is taken from the list
        queue = (await hr.get("/employer")).text
        assert f'href="{here}"' in queue and "/approve" not in queue
        page = await hr.get(here)
        assert f'<td id="number">{number}</td>' in page.text  # the 申报编号, to find it by
        # every answer of the form, under the form's labels and option names
        for text in (APPLICANT_NAME, SAMPLE_ID_CARD, "+8613800138000", SAMPLE_EMAIL,
                     EMPLOYER_NAME, SAMPLE_USCC, unit, "居民身份证号码", "手机号码",
                     "现有职称（职业资格）级别", "初级", "取得方式", "职称", "现级别任职年限",
                     "中级", "已完成继续教育", "专利成果", PATENT,
                     "继续教育", "已完成", "须参加专业水平答辩"):  # fmt: skip
            assert text in page.text, text
        # the material, original and masked copy, on the page and as downloads
        for version, stored in (("original", original), ("masked", masked)):
            url = f"{here}/materials/1/{version}"
            assert f'<img src="{url}/pages/0"' in page.text
            assert png_size(await hr.get(f"{url}/pages/0")) == (600, 420)
            assert (await hr.get(f"{url}/pages/1")).status_code == 404
            download = await hr.get(url)
            assert (
                download.status_code == 200
                and "attachment" in download.headers["content-disposition"]
            )
            assert download.content == (scan.original if version == "original" else scan.masked)
            assert stored.sha256 in (original.sha256, masked.sha256)
        assert (await hr.get(f"{here}/materials/2/original")).status_code == 404
        assert (await hr.get(f"{here}/materials/1/other")).status_code == 404
        assert 'action="' + here + '/approve"' in page.text and "公示5个工作日" in page.text

        # starting the publicity asks first: the confirm page, nothing sent
        before = await snapshot(handle)
        response = await hr.post(f"{here}/approve", data=action_form(token))
        assert response.status_code == 200, response.text
        assert "请确认：审核通过，开始单位内部公示" in response.text
        assert "公示5个工作日" in response.text and "不可撤回" in response.text
        assert await snapshot(handle) == before
        # confirmed (the confirm page's own form): done, and the page says so
        confirm = rendered_form(response.text, f"{here}/approve")
        assert set(confirm) == {"csrf_token", "request_token"}
        page = await follow(
            hr, await hr.post(f"{here}/approve", data=confirm | {"confirmed": "yes"})
        )
        current = await state(handle)
        assert current.stage is Stage.publicity
        ends = cn_datetime(current.deadlines["publicity_ends_at"])
        assert f"已审核通过，单位内部公示已开始，公示至{ends}结束。" in page.text
        # R26: the timeline names the person who decided, not only the organisation
        assert "<td>用人单位：测试用人单位</td><td>开始单位内部公示</td>" in page.text

        # another employer: none of it, files included
        async with await browser_for(portal) as outsider:
            await login(
                outsider, await account(database_url, Role.employer, employer_uscc=OTHER_USCC)
            )
            for path in (
                here,
                f"{here}/materials/1/original",
                f"{here}/materials/1/masked/pages/0",
            ):
                assert (await outsider.get(path)).status_code == 404, path

        # the publicity ends; the employer recommends with its two signed scans
        await sleep_until(
            time_env, datetime.fromisoformat(current.deadlines["publicity_ends_at"]), SECOND
        )
        signed = png_of(certificate("公示", EMPLOYER_NAME))
        files = {
            "publicity_original": ("公示原件.png", signed, "image/png"),
            "publicity_result": (
                "公示结果.pdf",
                pdf_of(certificate("结果", EMPLOYER_NAME)),
                "application/pdf",
            ),
        }
        form = action_form(token, opinion=RECOMMENDATION_OPINION)
        page = await follow(hr, await hr.post(f"{here}/recommend", data=form, files=files))
        assert "已推荐，申报已报送主管单位。" in page.text
        assert (await state(handle)).stage is Stage.competent_unit_review
        assert f'<img src="{here}/scans/2/pages/0"' in page.text
        assert png_size(await hr.get(f"{here}/scans/2/pages/0")) == (600, 420)
        assert (await hr.get(f"{here}/scans/2")).content == signed
        assert (await hr.get(f"{here}/scans/3/pages/0")).status_code == 200
        assert (await hr.get(f"{here}/scans/4")).status_code == 404

    # the competent unit: the same dossier, the scans, its actions on the page
    username = await account(database_url, Role.competent_unit)
    async with get_engine(database_url).begin() as conn:
        await conn.execute(
            update(Account).where(Account.username == username).values(display_name=unit)
        )
    there = f"/competent-unit/{handle.id}"
    async with await browser_for(portal) as cu:
        token = await login(cu, username)
        queue = (await cu.get("/competent-unit")).text
        assert f'href="{there}"' in queue and "/recommend" not in queue
        page = await cu.get(there)
        for text in (APPLICANT_NAME, SAMPLE_ID_CARD, EMPLOYER_NAME, SAMPLE_USCC, PATENT,
                     "现级别任职年限", RECOMMENDATION_OPINION, "公示原件（附件2，签章扫描件）",
                     f'action="{there}/recommend"', f'action="{there}/return"'):  # fmt: skip
            assert text in page.text, text
        for path in (f"{there}/materials/1/original/pages/0", f"{there}/materials/1/masked/pages/0",
                     f"{there}/scans/2/pages/0", f"{there}/scans/3/pages/0"):  # fmt: skip
            png_size(await cu.get(path))
        assert (await cu.get(f"{there}/materials/1/original")).content == scan.original
        page = await follow(
            cu,
            await cu.post(
                f"{there}/recommend", data=action_form(token, opinion="经审核，同意推荐。")
            ),
        )
        assert "已推荐至评审机构。" in page.text
        assert (await state(handle)).stage is Stage.evaluation_review
    async with await browser_for(portal) as stranger:
        await login(stranger, await account(database_url, Role.competent_unit))  # another unit
        for path in (there, f"{there}/materials/1/original", f"{there}/scans/2/pages/0"):
            assert (await stranger.get(path)).status_code == 404, path


async def test_an_upheld_objection_is_confirmed_first(
    portal: FastAPI,
    browser: httpx.AsyncClient,
    database_url: str,
    time_env: WorkflowEnvironment,
    time_worker: Worker,
) -> None:
    handle = await start(time_env, time_worker)
    await to_publicity(handle)
    await act(handle, "raise_objection", "employer", summary="业绩材料存疑")
    token = await login(
        browser, await account(database_url, Role.employer, employer_uscc=SAMPLE_USCC)
    )
    here = f"/employer/{handle.id}"
    fields = {"objection_id": "1", "upheld": "true", "resolution": "经核实，业绩材料不实"}
    response = await browser.post(f"{here}/resolve", data=action_form(token, **fields))
    assert response.status_code == 200 and "请确认：认定异议成立" in response.text
    assert "申报即终止，不能恢复" in response.text
    assert (await state(handle)).stage is Stage.publicity
    confirm = rendered_form(response.text, f"{here}/resolve")
    assert {k: confirm[k] for k in fields} == fields  # carried to the confirm step
    page = await follow(
        browser, await browser.post(f"{here}/resolve", data=confirm | {"confirmed": "yes"})
    )
    assert "异议处理结果已记录。" in page.text
    assert (await state(handle)).stage is Stage.rejected


# --- evaluation body and committee: blind ---------------------------------------------------------


async def test_evaluation_and_committee_see_a_blind_dossier(
    portal: FastAPI,
    database_url: str,
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    ocr_worker: Worker,
) -> None:
    store = portal.state.uploads.directory
    plain_scan = scanned(APPLICANT_NAME, EMPLOYER_NAME)
    village_scan = scanned(APPLICANT_NAME, EMPLOYER_NAME, "专利证书")

    # built to leak (R11): a scan with the name, ID card, mobile and employer printed, masked
    # with boxes that miss the name; its check finds it and the submission is refused, so it
    # never reaches the evaluation body or the committee
    printed = png_of(identity_scan(APPLICANT_NAME, SAMPLE_ID_CARD, SAMPLE_MOBILE, EMPLOYER_NAME))
    leaky_copy = masked_copy(printed, PNG, mask_boxes("id_card", "mobile", "employer")).data
    leaky_scan = Scanned("业绩证明", printed, leaky_copy)
    leaky = await start(time_env, time_worker, materials=[], masked_text_check=True)
    await keep_material(database_url, store, leaky, leaky_scan)
    await start_masked_copy_check(
        time_env.client, get_engine(database_url), declaration_id=leaky.id, applicant=APPLICANT,
        masked_sha256=leaky_scan.material.sha256, media_type=PNG, pages=1,
        task_queue=time_worker.task_queue,
    )  # fmt: skip
    [check] = (await checks_finished(database_url, leaky.id)).values()
    assert [(f.kind, f.page) for f in check.findings] == [("name", 1)]
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await client_act(
            time_env.client, leaky.id, "submit",
            {"actor": {"role": "applicant", "id": "applicant-1"},
             "materials": [leaky_scan.material.model_dump(mode="json")]},
            signer=TEST_SIGNER, update_id=f"test-{uuid.uuid4().hex}",
            engine=get_engine(database_url),
        )  # fmt: skip
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "MaskedTextFound"
    assert (await state(leaky)).stage is Stage.draft

    plain = await start(time_env, time_worker, materials=[plain_scan.material])
    village = await start(
        time_env,
        time_worker,
        level=Level.associate_senior,
        eligibility=EligibilityFacts(
            current_level=Level.intermediate,
            village_stationed_months_this_year=8,  # R4, R19: exempt
            consecutive_village_years=3,  # R6: the village route
            consecutive_excellent_assessments=3,
        ),
        achievements=[
            Achievement(kind=AchievementKind.patent, title=PATENT),
            Achievement(kind=AchievementKind.standard, title="光伏级多晶硅企业标准"),
        ],
        materials=[village_scan.material],
    )
    for handle, scan in ((plain, plain_scan), (village, village_scan)):
        await keep_material(database_url, store, handle, scan)
    await to_review_together(time_env, plain, village)
    code = {"plain": blind_code(plain.id, SECRET), "village": blind_code(village.id, SECRET)}
    code["leaky"] = blind_code(leaky.id, SECRET)
    forbidden = await forbidden_texts()
    seen: list[tuple[str, bytes]] = []

    async with await browser_for(portal) as evaluator:
        token = await login(evaluator, await account(database_url, Role.evaluation_body))

        async def get(path: str, status: int = 200) -> httpx.Response:
            response = await evaluator.get(path)
            assert response.status_code == status, (path, response.text)
            seen.append((f"GET {path}", response.content))
            return response

        async def post(path: str, status: int, **fields: str) -> httpx.Response:
            response = await evaluator.post(path, data=action_form(token, **fields))
            assert response.status_code == status, (path, response.text)
            seen.append((f"POST {path}", response.content))
            if status == 303:
                response = await get(response.headers["location"])
            return response

        queue = (await get("/evaluation")).text
        here = f"/evaluation/{code['plain']}"
        assert f'href="{here}"' in queue and "/accept" not in queue and "/return" not in queue
        # the leaky declaration was refused before it could get here: not listed, not served
        assert code["leaky"] not in queue
        await get(f"/evaluation/{code['leaky']}", 404)
        await get(f"/materials/{code['leaky']}/1", 404)
        await get(f"/materials/{code['leaky']}/1/pages/0", 404)

        # the blind dossier: the facts to judge eligibility, by the anonymous code only
        page = await get(here)
        for text in ("申报级别", "中级", "现有职称（职业资格）级别", "初级", "取得方式", "职称",
                     "现级别任职年限", "5", "专利成果", PATENT, "已完成继续教育", "继续教育",
                     "已完成", "须参加专业水平答辩", "学历证书"):  # fmt: skip
            assert text in page.text, text
        for label in (
            "居民身份证号码",
            "手机号码",
            "电子邮箱",
            "工作单位",
            "统一社会信用代码",
            "主管单位",
        ):
            assert f"<th>{label}</th>" not in page.text, label  # no applicant part at all
        page = await get(f"/evaluation/{code['village']}")
        for text in ("副高级", "本年度驻村8个月（满6个月），免于继续教育", "驻村直接申报副高级",
                     "适用：连续驻村3年、连续考核优秀3年，不受任职年限限制",
                     "免于现场答辩", "标准开发", "光伏级多晶硅企业标准"):  # fmt: skip
            assert text in page.text, text
        # the masked copy on the page (never the original), and as the download
        for name in ("plain", "village"):
            url = f"/materials/{code[name]}/1"
            assert f'<img src="{url}/pages/0"' in (await get(f"/evaluation/{code[name]}")).text
            assert png_size(await get(f"{url}/pages/0")) == (600, 420)
            await get(f"{url}/pages/1", 404)
            download = await get(url)
            scan = plain_scan if name == "plain" else village_scan
            assert download.content == scan.masked != scan.original
            assert download.headers["content-disposition"] == (
                f'attachment; filename="{code[name]}-1.pdf"'
            )
        await get(f"/materials/{code['plain']}/2/pages/0", 404)

        # a return asks first, naming its count; an empty reason is said beside its field
        before = await snapshot(plain)
        response = await post(f"{here}/return", 400, reason=" ")
        assert "此项必填" in response.text and "请确认" not in response.text
        response = await post(f"{here}/return", 200, reason="学历证书缺少毕业年份页")
        assert "这是第1次退回（共3次）；第4次退回将锁定申报，申报人不能再提交。" in response.text
        assert "48小时内补正" in response.text and "学历证书缺少毕业年份页" in response.text
        assert await snapshot(plain) == before
        confirm = rendered_form(response.text, f"{here}/return")
        assert confirm["reason"] == "学历证书缺少毕业年份页"
        response = await evaluator.post(f"{here}/return", data=confirm | {"confirmed": "yes"})
        page = await follow(evaluator, response)
        seen.append((f"GET {here}?done", page.content))
        assert "已退回补正，已通知申报人。" in page.text
        assert (await state(plain)).stage is Stage.correction
        await act(plain, "resubmit", "applicant")
        response = await post(f"{here}/return", 200, reason="继续教育证明不清晰")
        assert "这是第2次退回（共3次）；第4次退回将锁定申报" in response.text

        # accepting asks first; then it is done and said
        before = await snapshot(plain)
        response = await post(f"{here}/accept", 200)
        assert "请确认：材料齐全，受理" in response.text and "不能再退回补正" in response.text
        assert await snapshot(plain) == before
        page = await post(f"{here}/accept", 303, confirmed="yes")
        assert "已受理，申报进入缴费环节" in page.text
        assert (await state(plain)).stage is Stage.payment
        page = await post(f"{here}/payment", 303, receipt_no="XJ-2025-009")
        assert "缴费已确认。" in page.text

        # the defense: its arrangement is said back; its score asks first, and not before it
        starts = ((await time_env.get_current_time()) + timedelta(days=2)).replace(
            second=0, microsecond=0
        )
        place = "甘泉堡经开区人力资源服务中心"
        page = await post(
            f"{here}/arrange", 303, starts_at=local_input(starts), place=place, form="现场答辩"
        )
        assert (
            f"答辩安排已发布：{cn_datetime(starts)}，{place}，现场答辩，已通知申报人。" in page.text
        )
        before = await snapshot(plain)
        response = await post(f"{here}/score", 200, score="86.5")
        assert "请确认：录入答辩成绩" in response.text and "成绩不能修改" in response.text
        response = await post(f"{here}/score", 409, score="86.5", confirmed="yes")
        assert "答辩开始后才能录入答辩成绩" in response.text
        assert await snapshot(plain) == before
        await sleep_until(time_env, starts, SECOND)
        page = await post(f"{here}/score", 303, score="86.5", confirmed="yes")
        assert "答辩成绩已录入，申报进入评审委员会评议。" in page.text  # on the queue
        assert (await state(plain)).stage is Stage.committee
        await get(here, 404)  # with the committee now

        for where, body in seen:
            assert_blind(where, body, forbidden)
        served_images = [
            (where, body) for where, body in seen
            if where.startswith("GET /materials/") and body.startswith((b"\x89PNG", b"%PDF"))
        ]  # fmt: skip
        assert len(served_images) == 4  # each declaration's page image and download

    # the committee: the blind dossier of each declaration waiting for it, from the vote page
    await act(village, "accept_materials", "evaluation_body")
    await act(village, "confirm_payment", "evaluation_body", receipt_no="R-7")
    await act(village, "supply_defense_average", "system", score=80)
    seen = []
    dossiers: dict[str, str] = {}
    async with await browser_for(portal) as clerk:
        await login(clerk, await account(database_url, Role.committee))
        year = (await state(plain)).round_year
        page = await clerk.get(f"/committee?year={year}")
        seen.append(("committee page", page.content))
        for name in ("plain", "village"):
            there = f"/committee/declarations/{code[name]}"
            assert f'href="{there}"' in page.text
            dossier = await clerk.get(there)
            assert dossier.status_code == 200, dossier.text
            seen.append((there, dossier.content))
            dossiers[name] = dossier.text
            url = f"{there}/materials/1"
            assert f'<img src="{url}/pages/0"' in dossier.text
            image = await clerk.get(f"{url}/pages/0")
            png_size(image)
            download = await clerk.get(url)
            seen += [(f"{url}/pages/0", image.content), (url, download.content)]
            served_images += [(f"{url}/pages/0", image.content), (url, download.content)]
            assert download.content == (plain_scan if name == "plain" else village_scan).masked
        for text in ("86.5", "中级", "现级别任职年限", PATENT, "须参加专业水平答辩"):
            assert text in dossiers["plain"], text
        assert "按当年现场答辩平均分赋分" in dossiers["village"]
        assert "驻村直接申报副高级" in dossiers["village"]
        for where, body in seen:
            assert_blind(where, body, forbidden)
        assert f"/committee/declarations/{code['leaky']}" not in page.text
        assert (await clerk.get(f"/committee/declarations/{code['leaky']}")).status_code == 404
        # and what OCR reads on every page image and download they were served: nothing
        read: list[str] = []
        for where, body in served_images:
            media = PNG if body.startswith(b"\x89PNG") else PDF
            read += await identifying_text_on(where, body, media)
        assert read == []
        # a declaration not with the committee: 404; another role: 403
        other = await start(time_env, time_worker)
        assert (
            await clerk.get(f"/committee/declarations/{blind_code(other.id, SECRET)}")
        ).status_code == 404
    async with await browser_for(portal) as evaluator:
        await login(evaluator, await account(database_url, Role.evaluation_body))
        for path in (f"/committee/declarations/{code['plain']}",
                     f"/committee/declarations/{code['plain']}/materials/1/pages/0"):  # fmt: skip
            assert (await evaluator.get(path)).status_code == 403, path
