"""The applicant's portal over HTTP (httpx + ASGITransport) on the time-skipping test server:
creating a declaration with field-level validation, uploads judged by content, the masking
tool, submission (R11), the evaluation body's blind downloads, correction and resubmission
with replaced materials, and who may see what."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pypdfium2 as pdfium
import pytest
import pytest_asyncio
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import func, select, update
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Role, Stage
from models.declaration import Material
from portal.app import create_app
from portal.materials import HIDDEN_TITLE, accepted_materials, blind_materials, started_input
from portal.security import LoginThrottle, blind_code
from portal.uploads import UploadConfig, read_upload
from rules.identity import declaration_workflow_id
from settings import Settings
from store.accounts import Account
from store.db import get_engine
from store.uploads import DeclarationMaterial, Upload
from tests.helpers.declaration_support import (
    RECOMMENDATION,
    SECOND,
    act,
    sleep_until,
    start,
    state,
)
from tests.helpers.portal_applicant_support import (
    EMPLOYER_NAME,
    EMPLOYER_USCC,
    browser,
    certificate,
    checks_finished,
    created,
    csrf_of,
    declaration_form,
    key_of,
    latin_words,
    login,
    make_account,
    new_id_card,
    ocr_worker_running,
    pdf_of,
    png_of,
    portal_round,
    projected,
    this_year,
    upload,
)
from tests.helpers.portal_support import action_form

SECRET = "applicant-portal-test-secret"
MAX_BYTES = 400_000
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(4000)


@pytest_asyncio.fixture(scope="module")
async def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uploads")


@pytest_asyncio.fixture(scope="module")
async def portal(
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    database_url: str,
    session_settings: Settings,
    store: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("applicant-portal")
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
            app.state.uploads = UploadConfig(store, MAX_BYTES)
            yield app


async def unbound_applicant(database_url: str) -> tuple[str, int]:
    """An applicant account bound to nobody yet (bound when it creates its declaration)."""
    username, account_id = await make_account(database_url, Role.applicant, applicant_key="x")
    async with get_engine(database_url).begin() as conn:
        await conn.execute(
            update(Account).where(Account.id == account_id).values(applicant_key=None)
        )
    return username, account_id


async def bound_key(database_url: str, account_id: int) -> str | None:
    async with get_engine(database_url).connect() as conn:
        query = select(Account.applicant_key).where(Account.id == account_id)
        return (await conn.execute(query)).scalar_one()


async def exists(env: WorkflowEnvironment, workflow_id: str) -> bool:
    try:
        await env.client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND
        return False
    return True


def field_error(html: str, name: str) -> str | None:
    """The error shown in the form row of field `name` (next to it), if any."""
    for row in re.findall(r'<div class="form-row[^"]*">(.*?)</div>', html, re.S):
        if f'name="{name}"' in row:
            found = re.search(r'class="field-error"[^>]*>([^<]*)<', row)
            return found.group(1) if found else None
    raise AssertionError(f"no field {name} on the page")


async def materials(database_url: str, workflow_id: str) -> list[Any]:
    query = (
        select(
            DeclarationMaterial.id,
            DeclarationMaterial.upload_id,
            DeclarationMaterial.title,
            Upload.sha256,
            Upload.media_type,
            Upload.pages,
            Upload.masked_sha256,
        )
        .join(Upload, Upload.id == DeclarationMaterial.upload_id)
        .where(DeclarationMaterial.workflow_id == workflow_id)
        .order_by(DeclarationMaterial.id)
    )
    async with get_engine(database_url).connect() as conn:
        return list((await conn.execute(query)).all())


async def upload_count(database_url: str, account_id: int) -> int:
    async with get_engine(database_url).connect() as conn:
        query = select(func.count()).where(Upload.owner_account_id == account_id)
        return (await conn.execute(query)).scalar_one()


def store_files(store: Path) -> set[Path]:
    return {p for p in store.rglob("*") if p.is_file()}


NAME_BOX = {"x": 55, "y": 145, "w": 260, "h": 45}  # over 姓名：… on the certificate
EMPLOYER_BOX = {"x": 55, "y": 215, "w": 460, "h": 45}  # over 单位：…


# --- creating a declaration -------------------------------------------------------------------


async def test_bad_fields_shown_next_to_each_field_nothing_started(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment
) -> None:
    username, account_id = await unbound_applicant(database_url)
    async with browser(portal) as client:
        token = await login(client, username)
        assert "填写申报" in (await client.get("/applicant")).text
        page = await client.get("/applicant/new")
        assert page.status_code == 200 and "网上申报时间" in page.text
        bad = declaration_form(
            "110105199001011234",  # wrong check digit
            **{
                "applicant.name": "",
                "applicant.mobile": "12345",
                "applicant.email": "not-an-email",
                "applicant.employer.uscc": "123",
                "level": "",
                "eligibility.years_at_current_level": "五年",
                "eligibility.village_stationed_months_this_year": "13",
                "achievements[0].title": "",
            },
        )
        response = await client.post("/applicant/new", data={"csrf_token": token, **bad})
        assert response.status_code == 400
        html = response.text
        expected = {
            "applicant.name": "此项必填",
            "applicant.id_card": "身份证号码无效",
            "applicant.mobile": "手机号码无效",
            "applicant.email": "电子邮箱格式不正确",
            "applicant.employer.uscc": "统一社会信用代码无效",
            "level": "请从列表中选择",
            "eligibility.years_at_current_level": "请填写数字",
            "eligibility.village_stationed_months_this_year": "不能大于12",
            "achievements[0].title": "此项必填",
        }
        for name, message in expected.items():
            shown = field_error(html, name)
            assert shown and message in shown, (name, shown)
        assert field_error(html, "applicant.employer.name") is None  # the good ones: none
        assert f"有{len(expected)}处填写有误" in html
        assert 'value="not-an-email"' in html  # what was typed stays in the form
        assert await bound_key(database_url, account_id) is None

        # one bad field with a valid ID card: still nothing started for that applicant
        id_card = new_id_card()
        one_bad = declaration_form(id_card, **{"applicant.mobile": "1380013800"})
        response = await client.post("/applicant/new", data={"csrf_token": token, **one_bad})
        assert response.status_code == 400
        assert "手机号码无效" in (field_error(response.text, "applicant.mobile") or "")
        workflow_id = declaration_workflow_id(this_year(), key_of(id_card))
        assert not await exists(time_env, workflow_id)

        # R2: a retired person is refused before anything starts (one declaration per round)
        retired = declaration_form(id_card, **{"eligibility.employment_status": "retired"})
        response = await client.post("/applicant/new", data={"csrf_token": token, **retired})
        assert response.status_code == 400 and "不符合申报条件：申报对象：" in response.text
        shown = re.sub(r'value="[^"]*"', "", response.text)  # not the forms' random tokens
        assert "R2" not in shown  # the condition's name, never its code
        assert not await exists(time_env, workflow_id)
        assert await bound_key(database_url, account_id) is None


async def test_good_creation_binds_the_account_and_starts_once(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment
) -> None:
    username, account_id = await unbound_applicant(database_url)
    id_card = new_id_card()
    workflow_id = declaration_workflow_id(this_year(), key_of(id_card))
    async with browser(portal) as client:
        token = await login(client, username)
        form = {"csrf_token": token, **declaration_form(id_card)}
        response = await client.post("/applicant/new", data=form)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/applicant"
        assert await bound_key(database_url, account_id) == key_of(id_card)
        current = await state(time_env.client.get_workflow_handle(workflow_id))
        assert current.stage is Stage.draft and current.level.value == "intermediate"
        row = await projected(database_url, workflow_id)
        assert (row.applicant_name, row.employer_uscc) == ("张三丰", EMPLOYER_USCC)
        # its 申报编号, allocated when it was opened: in the state, the projection, the page
        assert current.number is not None and current.number.startswith(f"{this_year()}-")
        assert row.number == current.number
        page = (await client.get("/applicant")).text
        assert "填报中" in page and "申报材料" in page and current.number in page
        assert (await client.get("/applicant/new")).status_code == 303  # has one this year

        again = await client.post("/applicant/new", data=form)
        assert again.status_code == 409 and "已有一份申报" in again.text

        other_card = declaration_form(new_id_card())
        response = await client.post("/applicant/new", data={"csrf_token": token, **other_card})
        assert response.status_code == 400
        assert "不一致" in (field_error(response.text, "applicant.id_card") or "")
        assert await bound_key(database_url, account_id) == key_of(id_card)


async def test_the_home_before_declaring_shows_the_way(portal: FastAPI, database_url: str) -> None:
    """Not an error: the steps, the round's dates, what each level needs, the notice and
    attachment 1; all in Chinese."""
    username, _ = await unbound_applicant(database_url)
    async with browser(portal) as client:
        await login(client, username)
        page = (await client.get("/applicant")).text
        assert "尚未找到" not in page
        assert '<li class="current">填写申报、上传并遮盖材料</li>' in page
        assert page.count('<li class="todo">') == 9  # the rest of the path ahead
        assert "网上材料申报时间：" in page and page.count("UTC+08:00") == 1  # said once
        assert (
            "申报中级职称" in page
            and "须具备初级职称（或相应职业资格、市外职称、高级工职业技能等级）满4年" in page
        )
        assert "开始填写申报" in page and 'href="/notice"' in page
        assert latin_words(page) == set(), latin_words(page)

        attachment = await client.get("/applicant/material-requirements")
        assert attachment.status_code == 200 and attachment.content.startswith(b"%PDF")
        assert "attachment" in attachment.headers["content-disposition"]
        notice = await client.get("/notice")
        assert notice.status_code == 200 and "网上材料申报时间: 9月1日—9月29日" in notice.text


async def test_no_open_round_is_said_clearly(
    portal: FastAPI, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    year = this_year()
    closed = {
        "year": year,
        "submission_opens_at": f"{year - 1}-09-01T00:00:00+08:00",
        "submission_closes_at": f"{year - 1}-09-30T00:00:00+08:00",
        "review_opens_at": f"{year - 1}-10-01T00:00:00+08:00",
        "review_closes_at": f"{year - 1}-10-31T00:00:00+08:00",
        "payment_closes_at": f"{year - 1}-11-15T00:00:00+08:00",
    }
    (tmp_path / f"{year}.json").write_text(json.dumps(closed), encoding="utf-8")
    shared = portal.state.portal  # the settings the app was built with, with this rounds dir
    monkeypatch.setattr(
        shared, "settings", shared.settings.model_copy(update={"rounds_dir": tmp_path})
    )
    username, _ = await unbound_applicant(database_url)
    async with browser(portal) as client:
        token = await login(client, username)
        page = await client.get("/applicant/new")
        assert page.status_code == 409 and "目前没有开放申报的评审年度" in page.text
        response = await client.post(
            "/applicant/new", data={"csrf_token": token, **declaration_form(new_id_card())}
        )
        assert response.status_code == 409 and "截止" in response.text


# --- who may see what ---------------------------------------------------------------------------


async def test_another_applicant_cannot_see_mask_or_download(
    portal: FastAPI, database_url: str
) -> None:
    owner, owner_token, owner_workflow, _ = await created(portal, database_url, "司马光")
    scan = pdf_of(certificate("司马光", EMPLOYER_NAME))
    assert (
        await upload(owner, owner_token, "学历证书", "a.pdf", scan, "application/pdf")
    ).status_code == 303
    [item] = await materials(database_url, owner_workflow)
    intruder, token, _, _ = await created(portal, database_url, "诸葛亮")
    boxes = json.dumps([{"page": 0, **NAME_BOX}])
    assert (await intruder.get(f"/applicant/uploads/{item.upload_id}/pages/0")).status_code == 404
    assert (await intruder.get(f"/applicant/materials/{item.id}/mask")).status_code == 404
    response = await intruder.post(
        f"/applicant/materials/{item.id}/mask", data={"csrf_token": token, "boxes": boxes}
    )
    assert response.status_code == 404
    response = await intruder.post(
        f"/applicant/materials/{item.id}/remove", data={"csrf_token": token}
    )
    assert response.status_code == 404
    code = blind_code(owner_workflow, SECRET)
    assert (await intruder.get(f"/materials/{code}/1")).status_code == 403
    page = (await intruder.get("/applicant")).text
    assert f"/applicant/materials/{item.id}/" not in page and "a.pdf" not in page
    [item] = await materials(database_url, owner_workflow)
    assert item.masked_sha256 is None  # nothing was masked for the owner
    await owner.aclose()
    await intruder.aclose()


async def test_csrf_missing_is_refused_and_nothing_changes(
    portal: FastAPI, database_url: str, store: Path, time_env: WorkflowEnvironment
) -> None:
    client, token, workflow_id, account_id = await created(portal, database_url, "林则徐")
    before = store_files(store)
    scan = pdf_of(certificate("林则徐", EMPLOYER_NAME))
    response = await client.post(
        "/applicant/materials",
        data={"title": "学历证书"},
        files={"file": ("a.pdf", scan, "application/pdf")},
    )
    assert response.status_code == 403
    assert store_files(store) == before and await upload_count(database_url, account_id) == 0
    assert (
        await upload(client, token, "学历证书", "a.pdf", scan, "application/pdf")
    ).status_code == 303
    [item] = await materials(database_url, workflow_id)
    boxes = json.dumps([{"page": 0, **NAME_BOX}])
    for path, data in (
        (f"/applicant/materials/{item.id}/mask", {"boxes": boxes}),
        (f"/applicant/materials/{item.id}/mask", {"boxes": boxes, "csrf_token": "forged"}),
        (f"/applicant/materials/{item.id}/remove", {}),
        ("/applicant/submit", {}),
        ("/applicant/new", declaration_form(new_id_card())),
    ):
        assert (await client.post(path, data=data)).status_code == 403, path
    [item] = await materials(database_url, workflow_id)
    assert item.masked_sha256 is None
    assert (await state(time_env.client.get_workflow_handle(workflow_id))).stage is Stage.draft
    assert csrf_of((await client.get("/applicant")).text) == token
    await client.aclose()


# --- R11: titles that identify the applicant -----------------------------------------------


async def test_a_title_that_identifies_the_applicant_is_refused_in_chinese(
    portal: FastAPI, database_url: str, store: Path, time_env: WorkflowEnvironment
) -> None:
    """The portal checks a title with the workflow's own rule (rules/blind_review.py) against
    the applicant the workflow holds: the name spaced or in pinyin, the ID card, the mobile,
    the employer's short form. Nothing is stored; the page names the kind in Chinese."""
    client, token, workflow_id, account_id = await created(portal, database_url, "瞿翾翀")
    id_card = (await started_input(time_env.client, workflow_id)).applicant.id_card
    scan = pdf_of(certificate("瞿翾翀", EMPLOYER_NAME))
    before = store_files(store)
    tries = {
        "瞿 翾翀学历证书": "本人姓名",
        "瞿　翾翀": "本人姓名",
        "Qu Xuanchong 业绩证明": "本人姓名",
        "QUXUANCHONG": "本人姓名",
        f"身份证 {id_card[:6]} {id_card[6:14]}-{id_card[14:].lower()}": "身份证号码",
        "联系电话 +86 138-0013-8000": "手机号码",
        "示例硅业业绩证明": "工作单位",
        EMPLOYER_NAME: "工作单位",
    }
    for title, kind in tries.items():
        response = await upload(client, token, title, "a.pdf", scan, "application/pdf")
        assert response.status_code == 400, title
        assert f"材料名称中不能含有{kind}（盲评" in response.text, title
    assert store_files(store) == before and await upload_count(database_url, account_id) == 0
    for n, title in enumerate(("学历证书", "业绩证明 (专利)", "继续教育证明")):
        other = pdf_of(certificate("瞿翾翀", EMPLOYER_NAME, (600 + n, 420)))  # not one file
        response = await upload(client, token, title, "a.pdf", other, "application/pdf")
        assert response.status_code == 303, title
    listed = await materials(database_url, workflow_id)
    assert [m.title for m in listed] == ["学历证书", "业绩证明 (专利)", "继续教育证明"]

    # a title on the list that identifies (listed before the check): submission refused
    boxes = json.dumps([{"page": 0, **NAME_BOX}, {"page": 0, **EMPLOYER_BOX}])
    for item in listed:
        response = await client.post(
            f"/applicant/materials/{item.id}/mask", data={"csrf_token": token, "boxes": boxes}
        )
        assert response.status_code == 303, response.text
    async with get_engine(database_url).begin() as conn:
        await conn.execute(
            update(DeclarationMaterial)
            .where(DeclarationMaterial.id == listed[1].id)
            .values(title="Xuanchong Qu 业绩")
        )
    response = await client.post("/applicant/submit", data={"csrf_token": token})
    assert response.status_code == 409
    assert "第2份材料“Xuanchong Qu 业绩”的名称含有本人姓名" in response.text
    assert (await state(time_env.client.get_workflow_handle(workflow_id))).stage is Stage.draft
    await client.aclose()


async def test_a_mask_box_below_the_minimum_does_not_count(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment
) -> None:
    """R11: one 1×1 box is refused in Chinese; no copy is made, so the material is not
    masked and the submission is refused."""
    client, token, workflow_id, _ = await created(portal, database_url, "郑板桥")
    scan = pdf_of(certificate("郑板桥", EMPLOYER_NAME))  # 600×420: at least 5 px a side
    response = await upload(client, token, "学历证书", "a.pdf", scan, "application/pdf")
    assert response.status_code == 303
    [item] = await materials(database_url, workflow_id)
    tool = (await client.get(f"/applicant/materials/{item.id}/mask")).text
    assert 'data-min-percent="1" data-min-pixels="5"' in tool and "过小的框选不计入遮盖" in tool
    for tiny in ({"x": 60, "y": 150, "w": 1, "h": 1}, {"x": 60, "y": 150, "w": 260, "h": 4}):
        boxes = json.dumps([{"page": 0, **NAME_BOX}, {"page": 0, **tiny}])
        response = await client.post(
            f"/applicant/materials/{item.id}/mask", data={"csrf_token": token, "boxes": boxes}
        )
        assert response.status_code == 400
        assert "第2处遮盖区域过小" in response.text and "至少要5像素" in response.text
    [item] = await materials(database_url, workflow_id)
    assert item.masked_sha256 is None
    response = await client.post("/applicant/submit", data={"csrf_token": token})
    assert response.status_code == 409 and "尚未遮盖" in response.text
    assert (await state(time_env.client.get_workflow_handle(workflow_id))).stage is Stage.draft
    await client.aclose()


async def test_the_blind_list_hides_a_title_accepted_before_the_check(
    portal: FastAPI, time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    """A declaration whose workflow holds an identifying title (started before titles were
    checked, or with `start_declaration` as it is): the evaluation body's list shows
    HIDDEN_TITLE in its place."""
    handle = await start(
        time_env,
        time_worker,
        materials=[
            Material(name="学历证书", sha256="0" * 64, masked=True),
            Material(name="张三（新疆示例硅业）专利", sha256="1" * 64, masked=True),
        ],
    )
    row = SimpleNamespace(workflow_id=handle.id, applicant_key="none")
    listed = await blind_materials(portal.state.portal, row)
    assert [m.title for m in listed] == ["学历证书", HIDDEN_TITLE]


# --- materials, masking, submission, blind downloads, correction ------------------------------
# Last in the module: it moves the test server's clock past the round's submission close.


async def test_materials_masking_submission_and_blind_download(
    portal: FastAPI,
    database_url: str,
    store: Path,
    time_env: WorkflowEnvironment,
) -> None:
    client, token, workflow_id, account_id = await created(portal, database_url, "欧阳明")
    handle = time_env.client.get_workflow_handle(workflow_id)
    original_pdf = pdf_of(certificate("欧阳明", EMPLOYER_NAME), certificate("欧阳明", "（续页）"))
    original_png = png_of(certificate("欧阳明", EMPLOYER_NAME, (500, 360)))
    # an executable renamed .pdf, and an oversize file: refused, nothing stored
    before = store_files(store)
    for name, data in (("x.pdf", ELF), ("setup.pdf", b"MZ\x90\x00" + bytes(2000))):
        response = await upload(client, token, "学历证书", name, data, "application/pdf")
        assert response.status_code == 415, response.text
        assert "只能上传PDF、JPG或PNG格式" in response.text
    response = await upload(
        client,
        token,
        "学历证书",
        "big.pdf",
        b"%PDF-1.4\n" + bytes(MAX_BYTES),
        "application/pdf",
    )
    assert response.status_code == 413 and "文件过大" in response.text
    assert store_files(store) == before
    assert await upload_count(database_url, account_id) == 0
    assert await materials(database_url, workflow_id) == []

    # a title with the applicant's name is refused (R11)
    response = await upload(client, token, "欧阳明学历", "a.pdf", original_pdf, "application/pdf")
    assert response.status_code == 400 and "不能含有本人姓名" in response.text

    # a real PDF and PNG (the PNG sent as .jpg with a wrong type: content decides)
    response = await upload(client, token, "学历证书", "欧阳明-学历.pdf", original_pdf, "x/y")
    assert response.status_code == 303, response.text
    response = await upload(client, token, "专利证书", "patent.jpg", original_png, "image/jpeg")
    assert response.status_code == 303, response.text
    pdf_item, png_item = await materials(database_url, workflow_id)
    assert (pdf_item.media_type, pdf_item.pages) == ("application/pdf", 2)
    assert (png_item.media_type, png_item.pages) == ("image/png", 1)
    page = (await client.get("/applicant")).text
    assert "学历证书" in page and "未遮盖" in page

    # submission refused while a material is unmasked: by the portal and by the workflow
    response = await client.post("/applicant/submit", data=action_form(token))
    assert response.status_code == 409 and "尚未遮盖" in response.text
    with pytest.raises(WorkflowUpdateFailedError):
        unmasked = [{"name": "学历证书", "sha256": pdf_item.sha256, "masked": False}]
        await act(handle, "submit", "applicant", materials=unmasked)
    assert (await state(handle)).stage is Stage.draft

    # the masking tool: the pages as images, boxes over name and employer
    tool = await client.get(f"/applicant/materials/{pdf_item.id}/mask")
    assert tool.status_code == 200 and "<canvas" in tool.text
    shown = await client.get(f"/applicant/uploads/{pdf_item.upload_id}/pages/0")
    assert shown.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(shown.content)).size == (600, 420)
    assert (await client.get(f"/applicant/uploads/{pdf_item.upload_id}/pages/2")).status_code == 404
    off_page = [{"page": 0, "x": 500, "y": 0, "w": 200, "h": 10}]
    response = await client.post(
        f"/applicant/materials/{pdf_item.id}/mask",
        data={"csrf_token": token, "boxes": json.dumps(off_page)},
    )
    assert response.status_code == 400 and "超出了页面范围" in response.text
    pdf_boxes = [{"page": 0, **NAME_BOX}, {"page": 0, **EMPLOYER_BOX}, {"page": 1, **NAME_BOX}]
    response = await client.post(
        f"/applicant/materials/{pdf_item.id}/mask",
        data={"csrf_token": token, "boxes": json.dumps(pdf_boxes)},
    )
    assert response.status_code == 303, response.text
    png_boxes = [{"page": 0, **NAME_BOX}, {"page": 0, "x": 55, "y": 215, "w": 440, "h": 45}]
    # R11: a copy whose boxes miss the name is found by the check (OCR, in the background),
    # the list says where, and the submission is refused; masked again, it is clean
    response = await client.post(
        f"/applicant/materials/{png_item.id}/mask",
        data={"csrf_token": token, "boxes": json.dumps(png_boxes[1:])},
    )
    assert response.status_code == 303, response.text
    await checks_finished(database_url, workflow_id)
    page = (await client.get("/applicant")).text
    assert "遮盖检查：发现：第1页 中部 可见姓名 — 请重新遮盖" in page
    assert "遮盖检查：未发现可识别信息" in page  # the PDF's copy
    tool_page = (await client.get(f"/applicant/materials/{png_item.id}/mask")).text
    assert "遮盖检查：发现：第1页 中部 可见姓名" in tool_page  # outlined on the copy's page too
    finding = r'<span class="finding" title="中部 可见姓名" style="left:[\d.]+%;'
    assert re.search(finding, tool_page)
    response = await client.post("/applicant/submit", data=action_form(token))
    assert response.status_code == 409, response.text
    assert "第2份材料的遮盖副本中仍能识别出个人信息：第1页 中部 可见姓名" in response.text
    assert (await state(handle)).stage is Stage.draft
    response = await client.post(
        f"/applicant/materials/{png_item.id}/mask",
        data={"csrf_token": token, "boxes": json.dumps(png_boxes)},
    )
    assert response.status_code == 303, response.text
    pdf_item, png_item = await materials(database_url, workflow_id)
    assert pdf_item.masked_sha256 and png_item.masked_sha256
    assert "遮盖后的副本" in (await client.get(f"/applicant/materials/{pdf_item.id}/mask")).text

    # the PNG's copy: black exactly inside the boxes, every other pixel as it was
    masked_png = Image.open(io.BytesIO(read_upload(store, png_item.masked_sha256)))
    before_png = Image.open(io.BytesIO(original_png)).convert("RGB")
    assert masked_png.size == before_png.size

    def in_box(x: int, y: int) -> bool:
        return any(b["x"] <= x < b["x"] + b["w"] and b["y"] <= y < b["y"] + b["h"]
                   for b in png_boxes)  # fmt: skip

    masked_rgb = masked_png.convert("RGB")
    for y in range(0, before_png.height):
        for x in range(0, before_png.width, 3):
            expected = (0, 0, 0) if in_box(x, y) else before_png.getpixel((x, y))
            assert masked_rgb.getpixel((x, y)) == expected, (x, y)
    # the PDF's copy: a PDF of two pages, black in the boxes, no text layer left
    masked_pdf = read_upload(store, pdf_item.masked_sha256)
    document = pdfium.PdfDocument(masked_pdf)
    assert len(document) == 2
    first = document[0].render(scale=100 / 72 * (1 - 1e-6)).to_pil().convert("RGB")
    assert max(first.getpixel((60, 150))) <= 16 and max(first.getpixel((300, 230))) <= 16
    title = [first.getpixel((x, y)) for x in range(200, 400, 2) for y in range(40, 90, 2)]
    assert sum(1 for r, g, _ in title if r > 120 and g < 90) > 20  # the red title is still there

    # submitted, with the masked copies, once their checks found nothing
    await checks_finished(database_url, workflow_id)
    page = (await client.get("/applicant")).text
    assert page.count("遮盖检查：未发现可识别信息") == 2 and "发现：" not in page
    response = await client.post("/applicant/submit", data=action_form(token))
    assert response.status_code == 303, response.text
    assert (await state(handle)).stage is Stage.employer_review
    held = await accepted_materials(time_env.client, workflow_id)
    assert [(m.name, m.sha256, m.masked) for m in held] == [
        ("学历证书", pdf_item.masked_sha256, True),
        ("专利证书", png_item.masked_sha256, True),
    ]
    page = (await client.get("/applicant")).text
    assert "/remove" not in page and 'action="/applicant/materials"' not in page  # fixed now
    response = await client.post(
        f"/applicant/materials/{png_item.id}/remove", data={"csrf_token": token}
    )
    assert response.status_code == 409 and "不能修改材料" in response.text

    # employer, publicity, recommendation: to the evaluation body
    current = await act(handle, "start_publicity", "employer")
    page = (await client.get("/applicant")).text  # the end, and how it was counted (R13)
    assert re.search(
        r'<small class="explained">自\d{4}年\d+月\d+日起计5个工作日[^<]*24:00止</small>', page
    )
    await sleep_until(
        time_env, datetime.fromisoformat(current.deadlines["publicity_ends_at"]), SECOND
    )
    current = await act(handle, "recommend", "employer", **RECOMMENDATION)
    await sleep_until(
        time_env, datetime.fromisoformat(current.deadlines["review_opens_at"]), SECOND
    )
    assert (await state(handle)).stage is Stage.evaluation_review
    code = blind_code(workflow_id, SECRET)

    reviewer, _ = await make_account(database_url, Role.evaluation_body)
    async with browser(portal) as evaluator:
        await login(evaluator, reviewer)
        listing = await evaluator.get(f"/materials/{code}")
        assert listing.status_code == 200
        assert f"{code}-1.pdf" in listing.text and f"{code}-2.png" in listing.text
        for secret_text in ("欧阳明", EMPLOYER_NAME, workflow_id, "patent.jpg"):
            assert secret_text not in listing.text
        first_download = await evaluator.get(f"/materials/{code}/1")
        assert first_download.status_code == 200
        assert first_download.content == masked_pdf != original_pdf
        assert first_download.headers["content-type"] == "application/pdf"
        assert (
            first_download.headers["content-disposition"] == f'attachment; filename="{code}-1.pdf"'
        )
        headers = " ".join(f"{k}: {v}" for k, v in first_download.headers.items())
        for secret_text in ("欧阳明", "学历", workflow_id, workflow_id.rsplit("-", 1)[-1]):
            assert secret_text not in headers
        second = await evaluator.get(f"/materials/{code}/2")
        assert second.content == read_upload(store, png_item.masked_sha256) != original_png
        assert (await evaluator.get(f"/materials/{code}/3")).status_code == 404
        assert (await evaluator.get("/materials/RFFFFFFFFFF/1")).status_code == 404
        assert (await evaluator.get(f"/materials/{workflow_id}/1")).status_code == 404

    # the applicant and the employer never use the reviewers' route
    async with browser(portal) as other:
        employer, _ = await make_account(database_url, Role.employer, employer_uscc=EMPLOYER_USCC)
        await login(other, employer)
        assert (await other.get(f"/materials/{code}/1")).status_code == 403

    # returned: the applicant sees the reason and the countdown, replaces a material, resubmits
    await act(handle, "return_for_correction", "evaluation_body", reason="专利证书扫描件不清晰")
    page = (await client.get("/applicant")).text
    assert "专利证书扫描件不清晰" in page and "小时" in page and "重新提交" in page
    response = await client.post(
        f"/applicant/materials/{png_item.id}/remove", data={"csrf_token": token}
    )
    assert response.status_code == 303
    clearer = png_of(certificate("欧阳明", EMPLOYER_NAME, (520, 380)))
    response = await upload(client, token, "专利证书（清晰）", "p2.png", clearer, "image/png")
    assert response.status_code == 303
    *_, new_item = await materials(database_url, workflow_id)
    response = await client.post("/applicant/resubmit", data=action_form(token))
    assert response.status_code == 409 and "专利证书（清晰）" in response.text  # unmasked
    response = await client.post(
        f"/applicant/materials/{new_item.id}/mask",
        data={"csrf_token": token, "boxes": json.dumps(png_boxes)},
    )
    assert response.status_code == 303
    await checks_finished(database_url, workflow_id)
    response = await client.post("/applicant/resubmit", data=action_form(token, note="已重新扫描"))
    assert response.status_code == 303, response.text
    assert (await state(handle)).stage is Stage.evaluation_review
    *_, new_item = await materials(database_url, workflow_id)
    async with browser(portal) as evaluator:
        await login(evaluator, reviewer)
        replaced = await evaluator.get(f"/materials/{code}/2")
        assert replaced.content == read_upload(store, new_item.masked_sha256)
        assert (await evaluator.get(f"/materials/{code}/1")).content == masked_pdf
    await client.aclose()  # the ASGI transport holds nothing else
