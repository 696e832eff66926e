"""Shared by the applicant portal's tests (HTTP and browser): a round open now for the portal,
valid applicants of their own, sample scans made with Pillow, logging in."""

from __future__ import annotations

import asyncio
import io
import json
import random
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from stdnum.cn import ric
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.worker import Worker

from models.calendar import YearCalendar
from models.common import Role
from models.masked_check import CheckStatus, MaskedCheck
from models.round import RoundConfig
from portal.context import ROLE_NAMES_ZH
from rules.calendar import CalendarYearUnknown
from rules.calendar_source import year_from_package
from rules.identity import applicant_key, declaration_workflow_id, masked_check_workflow_id
from rules.timezone import SHANGHAI
from settings import Settings, load_settings
from store.accounts import create_account, find_account
from store.db import get_engine
from store.masked_checks import MaskedCopyCheck, checks_of
from store.tables import DeclarationRow
from tests.helpers.declaration_support import round_around
from worker import build_ocr_worker

PASSWORD = "correct-horse-battery"
EMPLOYER_NAME = "新疆示例硅业有限公司"
EMPLOYER_USCC = "91110000802100433B"


@contextmanager
def portal_round(
    tmp: Path, server_now: datetime, task_queue: str, **fields: Any
) -> Iterator[RoundConfig]:
    """The environment the portal reads (settings.py) for an open round of this year:
    config/rounds/{year}.json in a directory of the test's own, whose submission opens before
    both clocks (the wall clock the portal checks, the test server's the workflow checks) and
    closes 15 days after the server's now; calendar data for the years the package does not
    know; the test worker's task queue. `fields` replace the round's (RoundConfig).
    Yields the round as the portal will read it (without its calendar)."""
    wall = datetime.now(SHANGHAI)
    server_now = server_now.replace(second=0, microsecond=0)  # round windows on the minute
    years = range(min(wall.year, server_now.year), max(wall.year, server_now.year) + 2)
    overrides: dict[int, YearCalendar] = {}
    for year in years:
        try:
            year_from_package(year)
        except CalendarYearUnknown:
            overrides[year] = YearCalendar()  # Monday to Friday, as the other tests do
    opens = min(wall, server_now) - timedelta(days=1)
    config = round_around(server_now, year=wall.year, submission_opens_at=opens, **fields)
    rounds = tmp / "rounds"
    rounds.mkdir(parents=True, exist_ok=True)
    (rounds / f"{wall.year}.json").write_text(
        config.model_dump_json(exclude={"calendar"}), encoding="utf-8"
    )
    calendar = tmp / "calendar_overrides.json"
    calendar.write_text(
        json.dumps({str(y): c.model_dump(mode="json") for y, c in overrides.items()}),
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHICHENG_ROUNDS_DIR", str(rounds))
        patch.setenv("ZHICHENG_CALENDAR_OVERRIDES", str(calendar))
        patch.setenv("ZHICHENG_TASK_QUEUE", task_queue)
        yield config


def new_id_card() -> str:
    """A valid resident ID card number nobody else in the session has."""
    birth = datetime(1970, 1, 1) + timedelta(days=random.randrange(0, 30 * 365))
    body = f"110105{birth:%Y%m%d}{random.randrange(0, 1000):03d}"
    number = body + ric.calc_check_digit(body + "0")
    return ric.validate(number)


def key_of(id_card: str) -> str:
    return applicant_key(id_card, load_settings().applicant_key_secret)


def declaration_form(id_card: str, name: str = "张三丰", **fields: str) -> dict[str, str]:
    """A valid creation form (an eligible intermediate declaration)."""
    form = {
        "applicant.name": name,
        "applicant.id_card": id_card,
        "applicant.mobile": "13800138000",
        "applicant.email": "zhangsf@example.com",
        "applicant.employer.name": EMPLOYER_NAME,
        "applicant.employer.uscc": EMPLOYER_USCC,
        "level": "intermediate",
        "jurisdiction": "ftz_urumqi",
        "eligibility.employment_status": "in_service",
        "eligibility.employer_kind": "enterprise",
        "eligibility.continuing_education_completed": "on",
        "eligibility.current_level": "junior",
        "eligibility.current_level_basis": "title",
        "eligibility.years_at_current_level": "5",
        "achievements[0].kind": "patent",
        "achievements[0].title": "多晶硅还原炉节能装置",
    }
    return form | fields


# --- sample scans ------------------------------------------------------------------------------


def _font(size: int) -> Any:
    for path in (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    ):
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


NAME_BOX = (55, 145, 260, 45)  # x, y, w, h of the holder's name on `certificate`
EMPLOYER_BOX = (55, 215, 460, 45)  # and of the employer


def certificate(name: str, employer: str, size: tuple[int, int] = (600, 420)) -> Image.Image:
    """A scanned certificate: a title, the holder's name and employer at known places."""
    image = Image.new("RGB", size, (250, 248, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, size[0] - 11, size[1] - 11), outline=(160, 20, 20), width=4)
    draw.text((200, 40), "学历证书", fill=(160, 20, 20), font=_font(40))
    draw.text((60, 150), f"姓名：{name}", fill="black", font=_font(28))
    draw.text((60, 220), f"单位：{employer}", fill="black", font=_font(28))
    draw.text((60, 300), "专业：光伏材料  2010年7月毕业", fill="black", font=_font(24))
    return image


# Where `identity_scan` prints each line (x, y, w, h, with a margin for the masking tool's
# boxes); the scan is small, so tesseract reads it in well under a second.
IDENTITY_SCAN_SIZE = (620, 330)
IDENTITY_SCAN_BOXES = {
    "name": (55, 75, 280, 50),
    "id_card": (55, 145, 520, 45),
    "mobile": (55, 205, 400, 45),
    "employer": (55, 265, 520, 45),
}


def identity_scan(name: str, id_card: str, mobile: str, employer: str) -> Image.Image:
    """A scanned form that prints the applicant's name, ID-card number, mobile and employer,
    each on its own line inside IDENTITY_SCAN_BOXES (the masked-copy check's test scan)."""
    image = Image.new("RGB", IDENTITY_SCAN_SIZE, "white")
    draw = ImageDraw.Draw(image)
    draw.text((220, 20), "业绩证明", fill="black", font=_font(34))
    lines = {
        "name": f"姓名：{name}",
        "id_card": f"身份证号：{id_card}",
        "mobile": f"手机：{mobile[:3]} {mobile[3:7]} {mobile[7:]}",
        "employer": f"单位：{employer}",
    }
    for field, text in lines.items():
        x, y, _, _ = IDENTITY_SCAN_BOXES[field]
        draw.text((x + 5, y + 8), text, fill="black", font=_font(26))
    return image


def mask_boxes(*fields: str) -> str:
    """The masking tool's form field covering these lines of `identity_scan` (page 0)."""
    return json.dumps(
        [
            dict(zip(("x", "y", "w", "h"), IDENTITY_SCAN_BOXES[field], strict=True)) | {"page": 0}
            for field in fields
        ]
    )


def blacked_out(image: Image.Image, *boxes: tuple[int, int, int, int]) -> Image.Image:
    """The image with the boxes (x, y, w, h) burned black, as the masking tool does."""
    copy = image.copy()
    draw = ImageDraw.Draw(copy)
    for x, y, w, h in boxes:
        draw.rectangle((x, y, x + w, y + h), fill="black")
    return copy


def pdf_of(*images: Image.Image) -> bytes:
    buffer = io.BytesIO()
    first, *rest = images
    first.save(buffer, "PDF", save_all=True, append_images=rest, resolution=100)
    return buffer.getvalue()


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# --- accounts and sessions ---------------------------------------------------------------------


async def make_account(database_url: str, role: Role, **fields: Any) -> tuple[str, int]:
    username = f"{role.value}-{uuid.uuid4().hex[:8]}"
    engine = get_engine(database_url)
    created = await create_account(
        engine,
        role=role,
        username=username,
        password=PASSWORD,
        display_name=f"测试{ROLE_NAMES_ZH[role]}",  # a page shows it: Chinese
        **fields,
    )
    assert created
    return username, (await find_account(engine, username=username)).id


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def login(client: httpx.AsyncClient, username: str) -> str:
    """Logs in; the session's CSRF token."""
    token = csrf_of((await client.get("/login")).text)
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    page = await client.get(response.headers["location"])
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


# --- the applicant's portal over HTTP --------------------------------------------------------


def browser(portal: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=portal), base_url="http://portal.test"
    )


def this_year() -> int:
    return datetime.now(SHANGHAI).year


async def projected(database_url: str, workflow_id: str) -> Any:
    """The declaration's projection row, once the workflow has recorded it."""
    for _ in range(100):
        async with get_engine(database_url).connect() as conn:
            query = select(DeclarationRow.__table__).where(
                DeclarationRow.workflow_id == workflow_id
            )
            row = (await conn.execute(query)).first()
        if row is not None:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} not projected")


async def created(
    portal: FastAPI, database_url: str, name: str = "张三丰", **fields: str
) -> tuple[httpx.AsyncClient, str, str, int]:
    """A logged-in applicant with a declaration created through the form: (client, CSRF
    token, workflow id, account id). `fields` replace the form's (declaration_form)."""
    id_card = new_id_card()
    username, account_id = await make_account(
        database_url, Role.applicant, applicant_key=key_of(id_card)
    )
    client = browser(portal)
    token = await login(client, username)
    response = await client.post(
        "/applicant/new", data={"csrf_token": token, **declaration_form(id_card, name, **fields)}
    )
    assert response.status_code == 303, response.text
    workflow_id = declaration_workflow_id(this_year(), key_of(id_card))
    await projected(database_url, workflow_id)
    return client, token, workflow_id, account_id


async def upload(
    client: httpx.AsyncClient, token: str, title: str, filename: str, data: bytes, kind: str
) -> httpx.Response:
    return await client.post(
        "/applicant/materials",
        data={"csrf_token": token, "title": title},
        files={"file": (filename, data, kind)},
    )


# Latin words a page may show a person: file formats, sizes, the UTC offset.
ALLOWED_LATIN = {"PDF", "JPG", "JPEG", "PNG", "MB", "KB", "UTC", "X"}
RULE_CODE = re.compile(r"\bR\d+\b|(?<![A-Za-z])R\d+")


def visible_text(html: str) -> str:
    """A page's visible text: no tags, scripts or styles (so no attribute, no link's URL),
    entities read (&lt; is <), and no web address (the notice quotes the portal's)."""
    text = re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", html, flags=re.S)
    return re.sub(r"https?://[^\s<>）)，。]+", " ", unescape(text))


def latin_words(html: str) -> set[str]:
    """The Latin-letter words of a page's visible text, but those a person may read."""
    return set(re.findall(r"[A-Za-z]{2,}", visible_text(html))) - ALLOWED_LATIN


def rule_codes(html: str) -> set[str]:
    """Rule codes (R11, R15, ...) in a page's visible text: a person reads the rule's name."""
    return set(RULE_CODE.findall(visible_text(html)))


# --- the masked-copy checks (R11) ------------------------------------------------------------


async def checks_finished(
    database_url: str, workflow_id: str, seconds: float = 90
) -> dict[str, MaskedCheck]:
    """The declaration's masked-copy checks once none is pending (the OCR worker of the test
    reads them in the background, as the portal's list shows), by copy."""
    engine = get_engine(database_url)
    query = select(MaskedCopyCheck.masked_sha256).where(MaskedCopyCheck.workflow_id == workflow_id)
    for _ in range(int(seconds * 10)):
        async with engine.connect() as conn:
            copies = list((await conn.execute(query)).scalars())
        checks = await checks_of(engine, workflow_id, copies)
        if checks and all(c.status is not CheckStatus.pending for c in checks.values()):
            return checks
        await asyncio.sleep(0.1)
    raise AssertionError(f"the masked-copy checks of {workflow_id} did not finish")


@asynccontextmanager
async def ocr_worker_running(
    client: Client, task_queue: str, settings: Settings, upload_dir: Path
) -> AsyncIterator[Worker]:
    """The OCR worker of masked-copy checks (worker.build_ocr_worker) reading `upload_dir`;
    on the way out, every MaskedCopyCheck still running is waited for first. The time-skipping
    test server skips no time while an activity task is outstanding, so a check left without
    its worker would stall every later test's sleep."""
    async with build_ocr_worker(
        client, task_queue, settings=settings, upload_dir=upload_dir
    ) as worker:
        try:
            yield worker
        finally:
            await checks_drained(client, settings.database_url)


async def checks_drained(client: Client, database_url: str) -> None:
    """Wait for every MaskedCopyCheck workflow of the database's checks that still runs."""
    query = select(MaskedCopyCheck.workflow_id, MaskedCopyCheck.masked_sha256)
    async with get_engine(database_url).connect() as conn:
        copies = (await conn.execute(query)).all()
    for workflow_id, sha in copies:
        handle = client.get_workflow_handle(masked_check_workflow_id(workflow_id, sha))
        try:
            running = (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        except RPCError:  # never started (a row a test made by hand)
            continue
        if running:
            await asyncio.wait_for(handle.result(), 120)
