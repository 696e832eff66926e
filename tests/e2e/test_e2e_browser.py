"""End to end in a real browser: Chromium (the system's /usr/bin/chromium, driven by Playwright;
no browser is downloaded) against the portal served by uvicorn in a subprocess on a free
loopback port, on the session's time-skipping test server and worker.

One declaration, as its people would walk it: the applicant creates it in the form (a wrong
mobile number first: the error next to the field), uploads a PDF, masks name and employer by
dragging boxes on the canvas, submits; the employer approves (the publicity starts), time
passes past its end, the employer recommends with its two signed scans; the evaluation body,
in blind view, downloads the masked material and returns it with a reason; the applicant sees
the reason and the 48-hour countdown and resubmits; the evaluation body accepts.

The round is a drill round (`drill_publicity_seconds`: a publicity of 60 s, skipped with
`time_env.sleep`) whose submission closes 5 minutes after the start, so the countdowns in the
screenshots read as they would on the day; the 5-working-day publicity itself is walked by
tests/integration/test_portal_applicant.py and tests/workflows/test_declaration.py.

Screenshots of every step are saved under the test's tmp dir (printed at the end).
`ZHICHENG_UPDATE_SCREENSHOTS=1` also copies four of them to docs/ (docs/portal-*.png).
Without /usr/bin/chromium the test fails saying how to get it (scripts/test.sh installs it as
root); `ZHICHENG_SKIP_BROWSER=1` skips it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pypdfium2 as pdfium
import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Role, Stage
from models.declaration import Applicant, Employer
from portal.materials import accepted_materials
from portal.security import blind_code
from portal.uploads import read_upload
from rules.identity import declaration_workflow_id
from rules.timezone import SHANGHAI
from settings import ROOT, Settings
from store.db import get_engine
from store.tables import OutboxMessage
from store.uploads import Upload
from tests.helpers.declaration_support import SECOND, act, sleep_until, start, state, to_review_open
from tests.helpers.portal_applicant_support import (
    EMPLOYER_BOX,
    EMPLOYER_NAME,
    EMPLOYER_USCC,
    NAME_BOX,
    PASSWORD,
    certificate,
    checks_finished,
    declaration_form,
    key_of,
    make_account,
    new_id_card,
    ocr_worker_running,
    pdf_of,
    png_of,
    portal_round,
)
from tests.helpers.portal_support import forbidden_texts, keep_material, scanned

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET = "e2e-portal-secret"
SLOW_PAGE_MS = 90_000  # an action's confirm page and its result, on a loaded machine
APPLICANT = "欧阳修远"
E2E_EMAIL = "ouyang@example.com"
DOCS = {  # the screenshots docs/portal.md shows
    "05-masking-tool.png": "portal-masking-tool.png",
    "08-employer-queue.png": "portal-employer-queue.png",
    "11-blind-view.png": "portal-blind-view.png",
    "14-applicant-correction.png": "portal-applicant-correction.png",
    # each reviewer's page of a declaration (the tests after the walk)
    "21-employer-dossier.png": "screenshots/employer-dossier.png",
    "22-employer-confirm-publicity.png": "screenshots/employer-confirm-publicity.png",
    "31-evaluation-confirm-return.png": "screenshots/evaluation-confirm-return.png",
    "41-evaluation-blind-dossier.png": "screenshots/evaluation-blind-dossier.png",
    "51-committee-blind-dossier.png": "screenshots/committee-blind-dossier.png",
    # an applicant's own account (test_an_applicant_registers_in_the_browser)
    "61-register.png": "screenshots/register.png",
    "62-register-code.png": "screenshots/register-code.png",
}

pytestmark = pytest.mark.skipif(
    os.environ.get("ZHICHENG_SKIP_BROWSER") == "1", reason="ZHICHENG_SKIP_BROWSER=1"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest_asyncio.fixture(scope="module")
async def served(
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    database_url: str,
    session_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[dict[str, Any]]:
    """`uvicorn portal.app:app` in a subprocess, configured like production through the
    environment: the test server's address, the session's database, an upload store of its
    own, an open drill round of this year."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser test needs Debian's chromium package "
            "(scripts/test.sh installs it when run as root: apt-get install chromium); "
            "ZHICHENG_SKIP_BROWSER=1 skips this test"
        )
    tmp = tmp_path_factory.mktemp("e2e")
    now = (await time_env.get_current_time()).replace(second=0, microsecond=0)
    closes = now + timedelta(minutes=5)
    with portal_round(
        tmp,
        now,
        time_worker.task_queue,
        submission_closes_at=closes,
        review_opens_at=closes,
        drill_publicity_seconds=60,
    ):
        port = free_port()
        uploads = tmp / "uploads"
        environment = os.environ | {
            "TEMPORAL_ADDRESS": time_env.client.service_client.config.target_host,
            "TEMPORAL_NAMESPACE": time_env.client.namespace,
            "DATABASE_URL": database_url,
            "PORTAL_SECRET": SECRET,
            "ZHICHENG_UPLOAD_DIR": str(uploads),
            "ZHICHENG_LOG_FORMAT": "text",
        }
        log_path = tmp / "uvicorn.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "portal.app:app",
                 "--host", "127.0.0.1", "--port", str(port), "--no-proxy-headers"],
                cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            # the OCR of masked copies (R11) from the portal's upload store, as worker.py runs it
            ocr = ocr_worker_running(
                time_env.client, time_worker.task_queue, session_settings, uploads
            )
            try:
                await until_serving(base, process, log_path)
                async with ocr:
                    yield {"base": base, "uploads": uploads, "shots": tmp / "screenshots"}
            finally:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


async def until_serving(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if process.poll() is not None:
                raise AssertionError(f"uvicorn exited:\n{log.read_text(errors='replace')}")
            try:
                if (await client.get(f"{base}/login")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the portal did not start:\n{log.read_text(errors='replace')}")


class Shots:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    async def __call__(self, page: Any, name: str) -> None:
        path = self.directory / name
        await page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)


# What the pages' Content-Security-Policy refused and any script error, seen by the browser:
# none expected (the masking tool's script and every style are the portal's own files).
BROWSER_PROBLEMS: list[str] = []


def watch(page: Any) -> None:
    def console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            BROWSER_PROBLEMS.append(f"{page.url}: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: BROWSER_PROBLEMS.append(f"{page.url}: {error}"))


async def log_in(browser: Any, base: str, username: str) -> Any:
    """A new browser context (its own cookies) logged in as `username`."""
    context = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    watch(page)
    await page.goto(f"{base}/login")
    await page.fill('input[name="username"]', username)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click("button")
    await page.wait_for_load_state()
    return page


async def drag(page: Any, canvas: Any, box: tuple[int, int, int, int]) -> None:
    """Draw one box with the mouse, in the page image's pixels (shown at its natural size)."""
    await canvas.scroll_into_view_if_needed()
    bounds = await canvas.bounding_box()
    x, y, w, h = box
    await page.mouse.move(bounds["x"] + x, bounds["y"] + y)
    await page.mouse.down()
    await page.mouse.move(bounds["x"] + x + w / 2, bounds["y"] + y + h / 2, steps=4)
    await page.mouse.move(bounds["x"] + x + w, bounds["y"] + y + h, steps=4)
    await page.mouse.up()


async def fill_declaration(page: Any, form: dict[str, str]) -> None:
    for name, value in form.items():
        field = page.locator(f'[name="{name}"]')
        kind = await field.evaluate("e => e.tagName === 'SELECT' ? 'select' : e.type")
        if kind == "select":
            await field.select_option(value)
        elif kind == "checkbox":
            await field.check()
        else:
            await field.fill(value)


async def masked_copy_of(database_url: str, uploads: Path) -> bytes:
    """The masked copy the portal made for the (only) material of this test."""
    async with get_engine(database_url).connect() as conn:
        query = select(Upload.masked_sha256).where(
            Upload.declared_name == "学历证书.pdf", Upload.masked_sha256.is_not(None)
        )
        # `is not None` for the type: the query has no NULLs
        shas = [sha for sha in (await conn.execute(query)).scalars() if sha is not None]
    copies = [read_upload(uploads, sha) for sha in shas if (uploads / sha[:2] / sha).exists()]
    assert len(copies) == 1, copies
    return copies[0]


async def confirmed(page: Any, button: str, shot: tuple[Shots, str] | None = None) -> str:
    """Click an action's button; on the confirm page it leads to (portal/feedback.py), tick
    the box and confirm (its screenshot first, when asked); the consequence it said."""
    await page.click(button)
    # a loaded machine (CI runs the whole suite beside it) can take long to answer
    await page.wait_for_selector("#consequence", timeout=SLOW_PAGE_MS)
    said = await page.inner_text("#consequence")
    if shot is not None:
        await shot[0](page, shot[1])
    await page.check('input[name="confirmed"]')
    await page.click("#confirm")
    await page.wait_for_selector("#notice", timeout=SLOW_PAGE_MS)
    return said


async def images_loaded(page: Any) -> None:
    """Every page image of the inline viewer loaded (decoded, not broken), those below the
    fold too (they load lazily)."""
    await page.evaluate(
        "document.querySelectorAll('.pages-view img').forEach(i => i.loading = 'eager')"
    )
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.pages-view img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )


async def wait_for_stage(handle: Any, stage: Stage) -> None:
    for _ in range(200):
        if (await state(handle)).stage is stage:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not in {stage} but {(await state(handle)).stage}")


async def test_one_declaration_in_the_browser(
    served: dict[str, Any],
    time_env: WorkflowEnvironment,
    database_url: str,
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright

    base, shots = served["base"], Shots(served["shots"])
    id_card = new_id_card()
    key = key_of(id_card)
    workflow_id = declaration_workflow_id(datetime.now(SHANGHAI).year, key)
    applicant, _ = await make_account(database_url, Role.applicant, applicant_key=key)
    employer, _ = await make_account(database_url, Role.employer, employer_uscc=EMPLOYER_USCC)
    reviewer, _ = await make_account(database_url, Role.evaluation_body)
    scan = tmp_path / "学历证书.pdf"
    scan.write_bytes(pdf_of(certificate(APPLICANT, EMPLOYER_NAME)))
    handle = time_env.client.get_workflow_handle(workflow_id)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            # --- the applicant creates the declaration --------------------------------------
            page = await log_in(browser, base, applicant)
            await shots(page, "01-applicant-home.png")
            await page.click("text=开始填写申报")
            form = declaration_form(id_card, APPLICANT, **{"applicant.mobile": "1380013800"})
            await fill_declaration(page, form)
            await page.click("#create")
            error = page.locator("#error-f-applicant-mobile")
            assert "手机号码无效" in await error.inner_text()
            await shots(page, "02-form-field-error.png")
            await page.fill('[name="applicant.mobile"]', "13800138000")
            await page.click("#create")
            await page.wait_for_url(f"{base}/applicant")
            assert "填报中" in await page.inner_text("#stage")
            await shots(page, "03-applicant-draft.png")

            # --- uploads a PDF and masks name and employer on the canvas --------------------
            await page.fill('input[name="title"]', "学历证书")
            await page.set_input_files('input[name="file"]', str(scan))
            await page.click('form[action="/applicant/materials"] button')
            await page.wait_for_url(f"{base}/applicant#materials")
            assert "未遮盖" in await page.inner_text("#materials + p + table")
            await shots(page, "04-uploaded.png")
            await page.click("text=去遮盖")
            canvas = page.locator('.page[data-page="0"] canvas')
            await page.wait_for_function(
                "() => { const i = document.querySelector('.page img');"
                " return i && i.complete && i.naturalWidth > 0; }"
            )
            await drag(page, canvas, NAME_BOX)
            await drag(page, canvas, EMPLOYER_BOX)
            assert await page.inner_text("#box-count") == "2"
            await shots(page, "05-masking-tool.png")
            await page.click("#apply")
            await page.wait_for_selector("#masked")
            await shots(page, "06-masked-copy.png")
            masked = await masked_copy_of(database_url, served["uploads"])
            first = pdfium.PdfDocument(masked)[0].render(scale=100 / 72 * (1 - 1e-6)).to_pil()
            for x, y in ((60, 150), (300, 165), (60, 220), (500, 250)):  # inside the boxes
                assert max(first.convert("RGB").getpixel((x, y))) <= 16, (x, y)

            await checks_finished(database_url, workflow_id)  # R11: OCR of the masked copy
            await page.goto(f"{base}/applicant")
            assert "遮盖检查：未发现可识别信息" in await page.inner_text("#materials + p + table")
            await page.click("#submit")
            await page.wait_for_url(f"{base}/applicant")
            assert "用人单位审核" in await page.inner_text("#stage")
            await shots(page, "07-submitted.png")

            # --- the employer approves: the publicity starts --------------------------------
            hr = await log_in(browser, base, employer)
            row = hr.locator(f'tr[id="{workflow_id}"]')
            assert APPLICANT in await row.inner_text()
            await shots(hr, "08-employer-queue.png")
            await row.locator(f'a[href="/employer/{workflow_id}"]').first.click()
            await hr.wait_for_url(f"{base}/employer/{workflow_id}")
            await confirmed(hr, "#approve")
            current = await state(handle)
            assert current.stage is Stage.publicity

            # --- time passes past the publicity's end; the employer recommends --------------
            ends = datetime.fromisoformat(current.deadlines["publicity_ends_at"])
            await sleep_until(time_env, ends, SECOND)
            await wait_for_stage(handle, Stage.recommendation)
            await hr.goto(f"{base}/employer/{workflow_id}")
            recommend = hr.locator('form[action$="/recommend"]')
            files = recommend.locator('input[type="file"]')
            for number in range(await files.count()):
                signed = tmp_path / f"attachment-{number + 2}.png"
                signed.write_bytes(png_of(certificate("公示", EMPLOYER_NAME)))
                await files.nth(number).set_input_files(str(signed))
            await shots(hr, "09-employer-recommend.png")
            await recommend.locator("button").click()
            await hr.wait_for_load_state()
            current = await state(handle)
            assert current.stage is Stage.evaluation_review, current.stage
            await sleep_until(
                time_env, datetime.fromisoformat(current.deadlines["review_opens_at"]), SECOND
            )

            # --- the evaluation body, in blind view: downloads, returns with a reason -------
            code = blind_code(workflow_id, SECRET)
            review = await log_in(browser, base, reviewer)
            await review.goto(f"{base}/evaluation")
            queue = await review.content()
            for secret_text in (APPLICANT, EMPLOYER_NAME, workflow_id, key, id_card):
                assert secret_text not in queue
            await review.locator(f'tr[id="{code}"]').scroll_into_view_if_needed()
            await shots(review, "11-blind-view.png")
            await review.goto(f"{base}/materials/{code}")
            await shots(review, "12-blind-materials.png")
            async with review.expect_download() as waiting:
                await review.click(f"text={code}-1.pdf")
            download = await waiting.value
            assert download.suggested_filename == f"{code}-1.pdf"
            assert Path(await download.path()).read_bytes() == masked
            await review.goto(f"{base}/evaluation/{code}")
            await review.fill('input[name="reason"]', "学历证书缺少毕业年份页")
            await confirmed(review, "#return")
            await shots(review, "13-returned.png")
            assert (await state(handle)).stage is Stage.correction

            # --- the applicant sees the reason and the countdown, resubmits -----------------
            await page.goto(f"{base}/applicant")
            assert "学历证书缺少毕业年份页" in await page.inner_text("#return-reason")
            assert "小时" in await page.inner_text("#remaining")
            await shots(page, "14-applicant-correction.png")
            await page.fill('textarea[name="note"]', "已补充毕业年份页")
            await page.click("#resubmit")
            await page.wait_for_url(f"{base}/applicant")
            assert "评审机构审核" in await page.inner_text("#stage")

            # --- the evaluation body accepts ------------------------------------------------
            await review.goto(f"{base}/evaluation/{code}")
            await confirmed(review, "#accept")
            await shots(review, "15-accepted.png")
            assert (await state(handle)).stage is Stage.payment
        finally:
            await browser.close()

    assert not BROWSER_PROBLEMS, "\n".join(BROWSER_PROBLEMS)
    held = await accepted_materials(time_env.client, workflow_id)
    assert [(m.name, m.masked) for m in held] == [("学历证书", True)]
    print(f"\nscreenshots: {shots.directory}")
    update_docs(shots)


def update_docs(shots: Shots, docs: dict[str, str] = DOCS) -> None:
    """With ZHICHENG_UPDATE_SCREENSHOTS=1, copy the screenshots docs/portal.md shows (`docs`:
    each taken screenshot's name → its path under docs/)."""
    if os.environ.get("ZHICHENG_UPDATE_SCREENSHOTS") != "1":
        return
    for taken in shots.taken:
        if taken.name in docs:
            target = ROOT / "docs" / docs[taken.name]
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(taken, target)


# --- each reviewer's page of a declaration: the dossier beside the actions -------------------
# After the walk above (they skip days of the test server's clock: its drill round is over).


async def with_material(
    served: dict[str, Any],
    database_url: str,
    time_env: WorkflowEnvironment,
    worker: Worker,
    **fields: Any,
) -> Any:
    """A declaration (this test's applicant) whose material is in the portal's upload store."""
    scan = scanned(APPLICANT, EMPLOYER_NAME)
    applicant = Applicant(
        name=APPLICANT, id_card=new_id_card(), mobile="13800138000", email=E2E_EMAIL,
        employer=Employer(name=EMPLOYER_NAME, uscc=EMPLOYER_USCC),
    )  # fmt: skip
    handle = await start(time_env, worker, applicant=applicant, materials=[scan.material], **fields)
    await keep_material(database_url, served["uploads"], handle, scan)
    return handle


@asynccontextmanager
async def signed_in(base: str, username: str) -> AsyncIterator[Any]:
    """A page of a new browser logged in as `username`; no browser problem on the way."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield await log_in(browser, base, username)
        finally:
            await browser.close()
    assert not BROWSER_PROBLEMS, "\n".join(BROWSER_PROBLEMS)


async def assert_blind_page(page: Any, handle: Any, forbidden: list[str]) -> None:
    content = await page.content()
    for text in [*forbidden, APPLICANT, EMPLOYER_NAME, E2E_EMAIL, handle.id]:
        assert text not in content, f"{page.url} shows {text!r}"


async def test_the_employer_reviews_the_materials_before_the_publicity(
    served: dict[str, Any], time_env: WorkflowEnvironment, time_worker: Worker, database_url: str
) -> None:
    base, shots = served["base"], Shots(served["shots"])
    handle = await with_material(served, database_url, time_env, time_worker)
    await act(handle, "submit", "applicant")
    employer, _ = await make_account(database_url, Role.employer, employer_uscc=EMPLOYER_USCC)
    async with signed_in(base, employer) as hr:
        await hr.locator(f'tr[id="{handle.id}"] a').first.click()
        await hr.wait_for_url(f"{base}/employer/{handle.id}")
        await images_loaded(hr)
        text = await hr.inner_text("main")
        for shown in (APPLICANT, EMPLOYER_NAME, E2E_EMAIL, "现级别任职年限", "专利成果",
                      "材料1：学历证书", "原件", "遮盖副本（评审机构看到的）"):  # fmt: skip
            assert shown in text, shown
        assert await hr.locator(".pages-view img").count() == 2  # original and copy
        await shots(hr, "21-employer-dossier.png")
        said = await confirmed(hr, "#approve", (shots, "22-employer-confirm-publicity.png"))
        assert "公示5个工作日" in said and "不可撤回" in said
        assert "单位内部公示已开始" in await hr.inner_text("#notice")
        assert (await state(handle)).stage is Stage.publicity
    update_docs(shots)


async def test_the_return_confirmation_names_the_count_and_the_dossier_is_blind(
    served: dict[str, Any], time_env: WorkflowEnvironment, time_worker: Worker, database_url: str
) -> None:
    base, shots = served["base"], Shots(served["shots"])
    handle = await with_material(served, database_url, time_env, time_worker)
    await to_review_open(time_env, handle)
    await act(handle, "return_for_correction", "evaluation_body", reason="学历证书不清晰")
    await act(handle, "resubmit", "applicant")
    code = blind_code(handle.id, SECRET)
    reviewer, _ = await make_account(database_url, Role.evaluation_body)
    forbidden = await forbidden_texts()
    async with signed_in(base, reviewer) as review:
        await review.goto(f"{base}/evaluation")
        await review.locator(f'tr[id="{code}"] a[href="/evaluation/{code}"]').first.click()
        await review.wait_for_url(f"{base}/evaluation/{code}")
        await images_loaded(review)
        text = await review.inner_text("main")
        for shown in ("申报级别", "现级别任职年限", "专利成果", "继续教育", "专业水平答辩",
                      f"{code}-1", "1 / 3"):  # fmt: skip
            assert shown in text, shown
        await assert_blind_page(review, handle, forbidden)
        await shots(review, "41-evaluation-blind-dossier.png")
        await review.fill('input[name="reason"]', "继续教育证明缺少盖章页")
        said = await confirmed(review, "#return", (shots, "31-evaluation-confirm-return.png"))
        assert "这是第2次退回（共3次）；第4次退回将锁定申报，申报人不能再提交" in said
        assert "已退回补正" in await review.inner_text("#notice")
        await assert_blind_page(review, handle, forbidden)
        current = await state(handle)
        assert (current.stage, current.return_count) == (Stage.correction, 2)
    update_docs(shots)


async def test_a_committee_member_sees_a_blind_dossier(
    served: dict[str, Any], time_env: WorkflowEnvironment, time_worker: Worker, database_url: str
) -> None:
    base, shots = served["base"], Shots(served["shots"])
    handle = await with_material(served, database_url, time_env, time_worker)
    await to_review_open(time_env, handle)
    await act(handle, "accept_materials", "evaluation_body")
    await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-9")
    await act(handle, "record_defense_score", "evaluation_body", score=88.5)
    code = blind_code(handle.id, SECRET)
    secretary, _ = await make_account(database_url, Role.committee)
    forbidden = await forbidden_texts()
    async with signed_in(base, secretary) as clerk:
        await clerk.goto(f"{base}/committee?year={(await state(handle)).round_year}")
        await clerk.click(f'a[href="/committee/declarations/{code}"]')
        await clerk.wait_for_url(f"{base}/committee/declarations/{code}")
        await images_loaded(clerk)
        text = await clerk.inner_text("main")
        for shown in ("88.5", "申报级别", "现级别任职年限", "专利成果", f"{code}-1"):
            assert shown in text, shown
        await assert_blind_page(clerk, handle, forbidden)
        await shots(clerk, "51-committee-blind-dossier.png")
    update_docs(shots)


PHONE = {"width": 375, "height": 800}  # a phone's CSS pixels


async def readable_at_phone_width(page: Any, path: str) -> str:
    """The list at `path` at a phone's width: nothing wider than the screen (no sideways
    scrolling of the page), each row a card, the filters one under another; its text."""
    await page.set_viewport_size(PHONE)
    await page.goto(path)
    await page.wait_for_selector("table.stack tbody tr")
    wide = await page.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], f"{path} is {wide}px wide at phone width"
    shown = await page.evaluate(
        "() => ['table.stack tbody tr', 'table.stack thead', 'form.search label']"
        ".map(s => getComputedStyle(document.querySelector(s)).display)"
    )
    assert shown == ["block", "none", "block"], (path, shown)
    labels = await page.evaluate(
        "() => [...document.querySelectorAll('table.stack tbody tr:first-child td')]"
        ".map(td => getComputedStyle(td, '::before').content)"
    )
    assert all(label.endswith('："') for label in labels), labels  # each value named
    return await page.inner_text("main")


async def test_the_role_lists_are_readable_at_phone_width(
    served: dict[str, Any], time_env: WorkflowEnvironment, time_worker: Worker, database_url: str
) -> None:
    """Issue 14, item 3: the employer's and the evaluation body's lists (their search,
    filters, counts and pages) on a phone."""
    base = served["base"]
    handle = await with_material(served, database_url, time_env, time_worker)
    await to_review_open(time_env, handle)
    employer, _ = await make_account(database_url, Role.employer, employer_uscc=EMPLOYER_USCC)
    async with signed_in(base, employer) as hr:
        text = await readable_at_phone_width(hr, f"{base}/employer")
        assert APPLICANT in text and "共找到" in text
    reviewer, _ = await make_account(database_url, Role.evaluation_body)
    async with signed_in(base, reviewer) as body:
        text = await readable_at_phone_width(body, f"{base}/evaluation")
        assert blind_code(handle.id, SECRET) in text and APPLICANT not in text


async def test_an_applicant_registers_in_the_browser(
    served: dict[str, Any], database_url: str
) -> None:
    """Registration in Chromium (last: it leaves the walk above its timing): the form, the
    code page, the code read from the outbox as from the message, the login with the
    address. (The form prefilled: tests/integration/test_portal_registration.py; the drill
    round's form is closed by now.)"""
    from playwright.async_api import async_playwright

    base, shots = served["base"], Shots(served["shots"])
    id_card, email = new_id_card(), f"reg-{new_id_card()[-6:].lower()}@example.com"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                viewport={"width": 1200, "height": 900}, locale="zh-CN"
            )
            page = await context.new_page()
            watch(page)
            await page.goto(f"{base}/login")
            await page.click("text=注册申报人账户")
            await page.fill('[name="name"]', APPLICANT)
            await page.fill('[name="id_card"]', id_card)
            await page.fill('[name="email"]', email)
            await page.check('[name="send_to"][value="email"]')
            await page.fill('[name="password"]', PASSWORD)
            await page.fill('[name="password_again"]', PASSWORD)
            await shots(page, "61-register.png")
            await page.click("#register")
            await page.wait_for_selector('[name="code"]')
            await shots(page, "62-register-code.png")
            async with get_engine(database_url).connect() as conn:
                body = (
                    await conn.execute(
                        select(OutboxMessage.body)
                        .where(OutboxMessage.email == email)
                        .order_by(OutboxMessage.created_at.desc())
                    )
                ).scalar_one()
            code = re.search(r"验证码为：(\d{6})", body)
            assert code, body
            await page.fill('[name="code"]', code.group(1))
            await page.click("#verify")
            await page.wait_for_selector("h1:has-text('注册成功')")  # the next page's
            await page.click("text=去登录")
            await page.fill('input[name="username"]', email)
            await page.fill('input[name="password"]', PASSWORD)
            await page.click("button")
            await page.wait_for_url(f"{base}/applicant")
            assert APPLICANT in await page.inner_text("header")
        finally:
            await browser.close()
    assert not BROWSER_PROBLEMS, "\n".join(BROWSER_PROBLEMS)
    update_docs(shots)
