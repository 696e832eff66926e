"""Documents (R21, R23): every template renders to a PDF whose text reads back; the approval
document embeds its fonts and looks like a red-header document; the publication store never
overwrites; document numbers count 1, 2, 3 per year; the Declaration workflow publishes at
the notice's points and goes on when a publication fails.

Regenerate the README's picture with ZHICHENG_WRITE_DOCS_PNG=1 (docs/approval-document.png).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import uuid
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pypdfium2
import pytest
from jinja2 import ChoiceLoader, DictLoader
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, PdfObject
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

import documents.publication as publication_module
import documents.render as render_module
from activities.publish import DocumentActivities
from client.declarations import start_declaration
from documents.numbers import allocate_document_number
from documents.publication import PublicationStore, publication_dir
from documents.render import html_to_pdf, render_html
from models.common import Jurisdiction, Level, Stage
from models.declaration import Achievement, AchievementKind, EligibilityFacts, Employer
from models.documents import (
    FONT_MISSING,
    PUBLICATION_CONFLICT,
    RENDER_ERROR,
    ApprovalDocument,
    CompetentUnitOpinion,
    ContinuingEducationExemption,
    DeclarationDocument,
    DocumentAchievement,
    DocumentKind,
    DocumentPerson,
    DocumentStatus,
    EmployerPublicity,
    MaterialRequirements,
    PublicityResult,
    PublishRequest,
    ResultPublicityList,
)
from rules.identity import declaration_workflow_id
from rules.recommendation import RECOMMENDATION_OPINION
from rules.timezone import SHANGHAI
from settings import ROOT, Settings, load_settings
from store.db import dispose_engines, ensure_schema, get_engine
from store.document_tables import DocumentPublication
from tests.helpers.databases import DATABASE_KINDS, POSTGRES_URL
from tests.helpers.declaration_support import (
    RECOMMENDATION,
    SECOND,
    act,
    keep_history,
    outcome,
    round_around,
    sleep_until,
    start,
    state,
    through_publicity,
    to_publicity,
)
from tests.helpers.samples import SAMPLE_USCC, sample_declaration_input

DOCS_PNG = ROOT / "docs" / "approval-document.png"

ISSUED = datetime(2025, 12, 3, 10, 30, tzinfo=SHANGHAI)
PUBLICITY_STARTS = datetime(2025, 9, 10, 9, 0, tzinfo=SHANGHAI)
PUBLICITY_ENDS = datetime(2025, 9, 18, 0, 0, tzinfo=SHANGHAI)  # 24:00 on Sept 17
ZHANG = DocumentPerson(name="张三", employer_name="新疆示例硅业有限公司", level=Level.intermediate)
LI = DocumentPerson(
    name="李四", employer_name="新疆协鑫新能源材料科技有限公司", level=Level.associate_senior
)
WANG = DocumentPerson(name="王五", employer_name="新疆示例硅业有限公司", level=Level.junior)


def sample_documents() -> dict[DocumentKind, Any]:
    """One filled document of every kind, with the text each PDF must contain."""
    return {
        DocumentKind.material_requirements: MaterialRequirements(
            round_year=2025,
            submission_opens_at=datetime(2025, 9, 1, tzinfo=SHANGHAI),
            submission_closes_at=datetime(2025, 9, 30, tzinfo=SHANGHAI),
            review_opens_at=datetime(2025, 10, 1, tzinfo=SHANGHAI),
            review_closes_at=datetime(2025, 10, 31, tzinfo=SHANGHAI),
        ),
        DocumentKind.employer_publicity: EmployerPublicity(
            round_year=2025,
            applicant=ZHANG,
            jurisdiction=Jurisdiction.ftz_urumqi,
            current_level=Level.junior,
            years_at_current_level=5,
            achievements=[DocumentAchievement(kind="patent", title="多晶硅还原炉节能装置")],
            starts_at=PUBLICITY_STARTS,
            ends_at=PUBLICITY_ENDS,
        ),
        DocumentKind.publicity_result: PublicityResult(
            round_year=2025,
            applicant=ZHANG,
            starts_at=PUBLICITY_STARTS,
            ends_at=PUBLICITY_ENDS,
            objections_raised=1,
            resolutions=["经核实，专利证书真实有效"],
            opinion=RECOMMENDATION_OPINION,
        ),
        DocumentKind.competent_unit_opinion: CompetentUnitOpinion(
            round_year=2025,
            applicant=ZHANG,
            competent_unit="甘泉堡经济技术开发区（工业区）管理委员会",
            opinion="经审核，该同志申报材料真实，同意推荐。",
        ),
        DocumentKind.continuing_education_exemption: ContinuingEducationExemption(
            round_year=2025, applicant=ZHANG, village_stationed_months=8
        ),
        DocumentKind.result_publicity_list: ResultPublicityList(
            round_year=2025,
            people=[ZHANG, LI, WANG],
            starts_at=datetime(2025, 11, 3, 9, 0, tzinfo=SHANGHAI),
            ends_at=datetime(2025, 11, 8, 0, 0, tzinfo=SHANGHAI),
        ),
        DocumentKind.approval_document: ApprovalDocument(round_year=2025, approved=[ZHANG, LI]),
    }


# Text each kind's PDF must contain (besides the names of the people it lists).
EXPECTED_TEXT = {
    DocumentKind.material_requirements: [
        "网上申报材料填写要求",
        "2025年9月1日",
        "2025年9月29日",
        "48小时",
    ],
    DocumentKind.employer_publicity: [
        "公示",
        "张三",
        "2025年9月10日",
        "2025年9月17日24:00",
        "专利成果",
    ],
    DocumentKind.publicity_result: ["公示结果", "异议1件", "同意推荐", "2025年9月17日"],
    DocumentKind.competent_unit_opinion: ["主管单位推荐意见", "管理委员会", "2025年12月3日"],
    DocumentKind.continuing_education_exemption: ["继续教育免试表", "8个月", "2025年度"],
    DocumentKind.result_publicity_list: ["评审结果公示", "李四", "王五", "2025年11月7日24:00"],
    DocumentKind.approval_document: [
        "组织和人力资源部文件",
        "甘经开人社〔2025〕12号",
        "李四",
        "高级工程师",
        "2025年12月3日",
    ],
}


def pdf_text(pdf: bytes) -> str:
    """All pages' text, without the line breaks and spaces the layout put in."""
    reader = PdfReader(io.BytesIO(pdf))
    return "".join("".join((page.extract_text() or "").split()) for page in reader.pages)


def rendered(kind: DocumentKind, number: str | None = "甘经开人社〔2025〕12号"):
    request = PublishRequest(
        scope="decl-2025-0123456789abcdef", issued_at=ISSUED, document=sample_documents()[kind]
    )
    return render_html(request, load_settings(), number if kind == "approval_document" else None)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A publication store of the test's own (the activity is built with it: `documents`)."""
    return tmp_path / "publication"


@pytest.fixture
async def database(database_url: str) -> str:
    """The session's database, schema in place (the number tests use prefixes of their own)."""
    await ensure_schema(database_url)
    return database_url


@pytest.fixture
def documents(store: Path, database: str) -> DocumentActivities:
    """The documents' activities on the test's own store and the session's database."""
    return DocumentActivities(PublicationStore(store), load_settings(), get_engine(database))


@pytest.fixture
def session_store(session_settings: Settings) -> Path:
    """The publication store of the session's workers (`time_worker`)."""
    return session_settings.publication_dir


# --- rendering ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(DocumentKind), ids=[k.value for k in DocumentKind])
def test_every_document_renders_and_reads_back(kind: DocumentKind):
    document = rendered(kind)
    assert '<html lang="zh-CN">' in document.html
    assert document.title and document.title in document.html
    text = pdf_text(html_to_pdf(document.html))
    for expected in EXPECTED_TEXT[kind]:
        assert expected in text, f"{kind.value}: {expected!r} not in the PDF's text"
    if kind is not DocumentKind.material_requirements:  # the round's, not a person's
        assert "张三" in text
    assert document.title.replace(" ", "") in text


def test_the_same_document_renders_to_the_same_bytes():
    document = rendered(DocumentKind.employer_publicity)
    assert html_to_pdf(document.html) == html_to_pdf(document.html)


PdfT = TypeVar("PdfT", bound=PdfObject)


def resolved(value: PdfObject, kind: type[PdfT]) -> PdfT:
    """A PDF object with its indirect reference followed, of the kind the test expects."""
    target = value.get_object()
    assert isinstance(target, kind), target
    return target


def test_approval_pdf_embeds_every_font():
    reader = PdfReader(io.BytesIO(html_to_pdf(rendered(DocumentKind.approval_document).html)))
    fonts = []
    for page in reader.pages:
        resources = resolved(page["/Resources"], DictionaryObject)
        for entry in resolved(resources["/Font"], DictionaryObject).values():
            font = resolved(entry, DictionaryObject)
            descendant = (
                resolved(resolved(font["/DescendantFonts"], ArrayObject)[0], DictionaryObject)
                if "/DescendantFonts" in font
                else font
            )
            descriptor = resolved(descendant["/FontDescriptor"], DictionaryObject)
            embedded = [k for k in ("/FontFile", "/FontFile2", "/FontFile3") if k in descriptor]
            fonts.append((str(descriptor["/FontName"]), embedded))
    assert fonts, "the PDF uses no font"
    assert all(embedded for _, embedded in fonts), fonts
    assert any("CJK" in name for name, _ in fonts), fonts  # Noto Serif/Sans CJK SC


def test_approval_document_is_red_header_with_a_drawn_seal():
    document = rendered(DocumentKind.approval_document)
    assert "<svg" in document.html and "<polygon" in document.html  # drawn, not an image file
    assert "<img" not in document.html
    pdf = html_to_pdf(document.html)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1  # two people fit on the first page
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=100 / 72).to_pil().convert("RGB")  # 100 dpi
    width, height = image.size

    def red_rows(top: float, bottom: float) -> list[int]:
        rows = []
        for y in range(int(top * height), int(bottom * height)):
            pixels = [image.getpixel((x, y)) for x in range(0, width, 2)]
            if sum(1 for r, g, b in pixels if r > 180 and g < 90 and b < 90) > 3:
                rows.append(y)
        return rows

    header = red_rows(0.0, 0.3)  # the authority mark and the separator line
    assert header, "no red in the header"
    line_y = max(header)  # the separator: a red row across the text width
    line = [image.getpixel((x, line_y)) for x in range(width)]
    assert sum(1 for r, g, b in line if r > 180 and g < 90 and b < 90) > width * 0.5
    assert red_rows(0.55, 0.95), "no red seal in the lower half of the page"
    if os.environ.get("ZHICHENG_WRITE_DOCS_PNG") == "1":
        DOCS_PNG.parent.mkdir(exist_ok=True)
        page.render(scale=110 / 72).to_pil().convert("RGB").save(DOCS_PNG, optimize=True)


def test_readme_picture_is_committed():
    assert DOCS_PNG.exists() and DOCS_PNG.stat().st_size > 10_000
    assert "docs/approval-document.png" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_licensed_fonts_dropped_in_are_used(tmp_path: Path):
    font = next(Path("/usr/share/fonts").rglob("NotoSansCJK-Regular.ttc"), None)
    assert font is not None, "fonts-noto-cjk is missing: scripts/lib.sh installs it"
    (tmp_path / "body.ttc").symlink_to(font)
    fonts = render_module.fonts_for(tmp_path)
    assert '"zhicheng-body"' in fonts.body and tmp_path.as_uri() in fonts.css
    assert fonts.title.startswith('"FZXiaoBiaoSong-B05S"')  # no title.* dropped in
    web = render_module.fonts_for(tmp_path, embed_paths=False)
    assert web.css == "" and '"zhicheng-body"' in web.body  # no server paths in published HTML


# --- publishing ------------------------------------------------------------------------------


def request_for(kind: DocumentKind, scope: str | None = None) -> PublishRequest:
    return PublishRequest(
        scope=scope or f"decl-2025-{uuid.uuid4().hex[:16]}",
        issued_at=ISSUED,
        document=sample_documents()[kind],
    )


async def publication_row(key: str) -> Any:
    async with get_engine().connect() as conn:
        return (await conn.execute(select(DocumentPublication).filter_by(key=key))).one()


async def test_publishing_twice_is_a_no_op(store: Path, documents: DocumentActivities):
    request = request_for(DocumentKind.approval_document)
    env = ActivityEnvironment()
    first = await env.run(documents.publish_document, request)
    pdf = store / first.file_name
    written = pdf.read_bytes()
    modified = pdf.stat().st_mtime_ns
    again = await env.run(documents.publish_document, request)

    assert not first.already_published and again.already_published
    assert again.model_dump(exclude={"already_published"}) == first.model_dump(
        exclude={"already_published"}
    )
    assert pdf.read_bytes() == written and pdf.stat().st_mtime_ns == modified
    assert first.sha256 == publication_module.sha256_hex(written)
    assert first.document_number and first.document_number.startswith("甘经开人社〔2025〕")
    assert first.document_number in pdf_text(written)

    feed = json.loads((store / "feed.json").read_text(encoding="utf-8"))
    [item] = [i for i in feed["items"] if i["key"] == request.key]
    assert {k: item[k] for k in ("title", "date", "document_number", "sha256", "file_name")} == {
        "title": first.title,
        "date": "2025-12-03",
        "document_number": first.document_number,
        "sha256": first.sha256,
        "file_name": first.file_name,
    }
    assert item["column"] == "approval_documents"
    index = (store / "index.html").read_text(encoding="utf-8")
    assert (
        first.document_number in index and first.file_name in index and "任职资格审批文件" in index
    )
    html = (store / first.html_file_name).read_text(encoding="utf-8")
    assert "file://" not in html and '<html lang="zh-CN">' in html
    row = await publication_row(request.key)
    assert (row.status, row.document_number, row.sha256) == (
        "published",
        first.document_number,
        first.sha256,
    )


async def test_a_published_file_is_never_overwritten(store: Path, documents: DocumentActivities):
    request = request_for(DocumentKind.employer_publicity)
    target = store / f"{publication_module.file_stem(request)}.pdf"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"%PDF-1.7 another document under the same name")

    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(documents.publish_document, request)
    assert info.value.type == PUBLICATION_CONFLICT and info.value.non_retryable
    assert target.read_bytes() == b"%PDF-1.7 another document under the same name"
    assert not (store / "feed.json").exists()
    row = await publication_row(request.key)
    assert row.status == "failed" and PUBLICATION_CONFLICT in row.last_error
    assert row.request["scope"] == request.scope  # kept, to publish it again once fixed


async def test_same_file_left_by_a_crash_is_adopted(store: Path, documents: DocumentActivities):
    """A worker killed after writing the file but before the feed: the retry finds the same
    bytes under the name, keeps them and completes the publication."""
    request = request_for(DocumentKind.continuing_education_exemption)
    document = render_html(request, load_settings())
    target = store / f"{publication_module.file_stem(request)}.pdf"
    target.parent.mkdir(parents=True)
    target.write_bytes(html_to_pdf(document.html))
    published = await ActivityEnvironment().run(documents.publish_document, request)
    assert (
        not published.already_published
        and published.file_name == target.relative_to(store).as_posix()
    )


async def test_a_broken_template_fails_at_once_and_is_recorded(
    store: Path, documents: DocumentActivities, monkeypatch: pytest.MonkeyPatch
):
    broken = DictLoader(
        {"result_publicity_list.html.j2": "{% block title %}{{ no_such_value }}{% endblock %}"}
    )
    environment = render_module.environment
    templates = environment.loader
    assert templates is not None  # documents/render.py's environment has its loader
    monkeypatch.setattr(environment, "loader", ChoiceLoader([broken, templates]))
    request = request_for(DocumentKind.result_publicity_list, scope="round-2025")

    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(documents.publish_document, request)
    assert info.value.type == RENDER_ERROR and info.value.non_retryable
    assert "no_such_value" in str(info.value)
    row = await publication_row(request.key)
    assert row.status == "failed" and "no_such_value" in row.last_error
    assert not (store / "feed.json").exists()


async def test_no_chinese_font_is_a_retryable_error(
    store: Path, documents: DocumentActivities, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(render_module, "_cjk_font_seen", False)
    monkeypatch.setattr(render_module.shutil, "which", lambda name: None)
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(
            documents.publish_document,
            request_for(DocumentKind.material_requirements, "round-2025"),
        )
    assert info.value.type == FONT_MISSING and not info.value.non_retryable
    assert "fonts-noto-cjk" in str(info.value)


# --- document numbers ---------------------------------------------------------------------


@pytest.fixture(params=DATABASE_KINDS)
async def numbers_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of the test's own (passed to the allocator explicitly)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'numbers.db'}"
        await ensure_schema(url)
        yield url
        await dispose_engines(url)
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL or "")
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = (
        make_url(POSTGRES_URL or "")
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    await ensure_schema(url)
    yield url
    await dispose_engines(url)
    async with admin.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    await admin.dispose()


async def test_numbers_count_per_year_without_gaps_on_retries(numbers_url: str):
    async def number(key: str, year: int = 2025) -> int:
        return await allocate_document_number(key, "甘经开人社", year, numbers_url)

    assert await number("approval_document/a") == 1
    assert await number("approval_document/a") == 1  # a retry
    assert await number("approval_document/b") == 2
    assert await number("approval_document/a") == 1
    assert await number("approval_document/c") == 3
    assert await number("approval_document/d", 2026) == 1  # a new year starts again
    assert await number("approval_document/e") == 4
    assert (
        await allocate_document_number("approval_document/f", "乌人社职称", 2025, numbers_url) == 1
    )


async def test_concurrent_allocations_give_each_number_once(numbers_url: str):
    keys = [f"approval_document/batch-{i}" for i in range(8)]
    first = await asyncio.gather(
        *(allocate_document_number(k, "甘经开人社", 2027, numbers_url) for k in keys + keys)
    )
    assert sorted(set(first)) == list(range(1, 9))  # no gap, no number twice
    assert first[:8] == first[8:]  # the same key got the same number both times


# --- the Declaration workflow --------------------------------------------------------------


async def settled_documents(handle: Any, count: int) -> list[DeclarationDocument]:
    """The declaration's documents once `count` of them are done publishing (in background)."""
    for _ in range(300):
        documents = (await state(handle)).documents
        if len(documents) >= count and all(
            d.status is not DocumentStatus.publishing for d in documents
        ):
            return documents
        await asyncio.sleep(0.1)
    raise AssertionError(f"documents of {handle.id} did not settle: {documents}")


def by_kind(documents: list[DeclarationDocument]) -> dict[DocumentKind, DeclarationDocument]:
    return {d.kind: d for d in documents}


def stored_pdf(store: Path, document: DeclarationDocument) -> bytes:
    """A published document's PDF from the store (only a published one has a file name)."""
    assert document.file_name is not None, document
    return (store / document.file_name).read_bytes()


VILLAGE = EligibilityFacts(
    continuing_education_completed=False,  # R4: exempt, stationed 8 months this year
    village_stationed_months_this_year=8,
    current_level=Level.junior,
    years_at_current_level=5,
)


async def test_workflow_publishes_at_the_notices_points(
    time_env: WorkflowEnvironment, time_worker: Worker, session_store: Path
):
    handle = await start(
        time_env,
        time_worker,
        eligibility=VILLAGE,
        achievements=[Achievement(kind=AchievementKind.process_flow, title="硅芯拉制工艺流程")],
    )
    await act(handle, "submit", "applicant")  # attachment 5: village-stationed (R4)
    [exemption] = await settled_documents(handle, 1)
    assert (exemption.kind, exemption.status) == (
        DocumentKind.continuing_education_exemption,
        DocumentStatus.published,
    )
    current = await act(handle, "start_publicity", "employer")  # attachment 2
    documents = by_kind(await settled_documents(handle, 2))
    notice = documents[DocumentKind.employer_publicity]
    assert notice.status is DocumentStatus.published
    text = pdf_text(stored_pdf(session_store, notice))
    assert "张三" in text and "硅芯拉制工艺流程" in text and "8个月" in text
    assert DocumentKind.publicity_result not in documents  # not before the publicity ends

    ends = datetime.fromisoformat(current.deadlines["publicity_ends_at"])
    await sleep_until(time_env, ends, SECOND)  # attachment 3: no objection
    result = by_kind(await settled_documents(handle, 3))[DocumentKind.publicity_result]
    assert "未收到任何异议" in pdf_text(stored_pdf(session_store, result))

    await act(handle, "recommend", "employer", **RECOMMENDATION)
    current = await state(handle)
    opens = datetime.fromisoformat(current.deadlines["review_opens_at"])
    await sleep_until(time_env, opens, SECOND)
    await act(handle, "accept_materials", "evaluation_body")
    await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-9")
    await act(handle, "supply_defense_average", "system", score=80)  # R19
    current = await act(
        handle, "committee_vote", "committee", session_id="S1", members=9, attending=7, yes_votes=6
    )
    assert len(current.documents) == 3  # nothing at the committee
    ends = datetime.fromisoformat(current.deadlines["result_publicity_ends_at"])
    await sleep_until(time_env, ends, SECOND)
    final = await outcome(time_env, handle)  # ends only once the approval is published

    assert final.stage is Stage.approved
    documents = by_kind(final.documents)
    assert set(documents) == {
        DocumentKind.continuing_education_exemption,
        DocumentKind.employer_publicity,
        DocumentKind.publicity_result,
        DocumentKind.approval_document,
    }
    assert all(d.status is DocumentStatus.published for d in documents.values())
    approval = documents[DocumentKind.approval_document]
    assert approval.document_number and approval.document_number.startswith("甘经开人社〔")
    text = pdf_text(stored_pdf(session_store, approval))
    assert approval.document_number in text and "张三" in text and "中级任职资格" in text
    feed = json.loads((session_store / "feed.json").read_text(encoding="utf-8"))
    ours = [i for i in feed["items"] if i["key"].endswith(f"/{handle.id}")]
    assert sorted(i["kind"] for i in ours) == sorted(d.value for d in documents)
    assert {i["sha256"] for i in ours} == {d.sha256 for d in documents.values()}
    await keep_history(handle, "documents_village_approved")


async def test_publicity_result_waits_for_open_objections(
    time_env: WorkflowEnvironment, time_worker: Worker, session_store: Path
):
    handle = await start(time_env, time_worker)
    current = await to_publicity(handle)
    await act(handle, "raise_objection", "employer", summary="业绩材料存疑")
    ends = datetime.fromisoformat(current.deadlines["publicity_ends_at"])
    await sleep_until(time_env, ends, SECOND)
    assert (await state(handle)).stage is Stage.recommendation
    documents = by_kind(await settled_documents(handle, 1))
    assert set(documents) == {DocumentKind.employer_publicity}  # the objection is open

    await act(
        handle,
        "resolve_objection",
        "employer",
        objection_id=1,
        upheld=False,
        resolution="经核实，业绩材料真实有效",
    )
    result = by_kind(await settled_documents(handle, 2))[DocumentKind.publicity_result]
    assert result.status is DocumentStatus.published
    text = pdf_text(stored_pdf(session_store, result))
    assert "异议1件" in text and "经核实，业绩材料真实有效" in text
    assert DocumentKind.continuing_education_exemption not in documents  # not village-stationed


async def test_a_failed_publication_does_not_stall_the_declaration(
    time_env: WorkflowEnvironment, time_worker: Worker, session_store: Path
):
    now = await time_env.get_current_time()
    declaration = sample_declaration_input(
        round=round_around(now), applicant_key=uuid.uuid4().hex[:16]
    )
    workflow_id = declaration_workflow_id(declaration.round.year, declaration.applicant_key)
    taken = session_store / f"{declaration.round.year}/employer_publicity-{workflow_id}.pdf"
    taken.parent.mkdir(parents=True, exist_ok=True)
    taken.write_bytes(b"%PDF-1.7 not this declaration's notice")
    handle = await start_declaration(time_env.client, declaration, time_worker.task_queue)

    current = await to_publicity(handle)
    [notice] = await settled_documents(handle, 1)
    assert notice.status is DocumentStatus.failed
    assert notice.error and "never replaced" in notice.error
    assert taken.read_bytes() == b"%PDF-1.7 not this declaration's notice"
    ends = datetime.fromisoformat(current.deadlines["publicity_ends_at"])
    await sleep_until(time_env, ends, SECOND)
    assert (await state(handle)).stage is Stage.recommendation  # the declaration went on
    await act(handle, "recommend", "employer", **RECOMMENDATION)
    assert (await state(handle)).stage is Stage.evaluation_review


def test_old_histories_have_no_publication():
    """The histories recorded before documents have no publish activity, so replaying them
    (tests/replay/test_replay.py) shows the patch keeps running declarations as they were. Those
    recorded since are named documents_*."""
    histories = sorted((Path(__file__).parent.parent / "replay" / "histories").glob("*.json"))
    old = [p for p in histories if not p.stem.startswith("documents_")]
    assert old
    for path in old:
        assert "publish_document" not in path.read_text(encoding="utf-8"), path.name


async def test_competent_unit_opinion_is_published(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    """Attachment 4 (R14): the competent unit's opinion, published when it recommends."""
    employer = Employer(name="新疆示例硅业有限公司", uscc=SAMPLE_USCC, competent_unit="某主管局")
    applicant = sample_declaration_input().applicant.model_copy(update={"employer": employer})
    handle = await start(time_env, time_worker, applicant=applicant)
    await through_publicity(time_env, handle)
    await act(handle, "competent_unit_recommend", "competent_unit", opinion="经审核，同意推荐")
    documents = by_kind(await settled_documents(handle, 3))
    opinion = documents[DocumentKind.competent_unit_opinion]
    assert opinion.status is DocumentStatus.published, opinion
    published = next(publication_dir().rglob(opinion.file_name or "?"))
    text = "".join("".join(page.extract_text().split()) for page in PdfReader(published).pages)
    assert "某主管局" in text and "经审核，同意推荐" in text and applicant.name in text


async def test_the_renderer_process_is_replaced_when_it_dies():
    """PDFs are made in a renderer process (the worker's event loop keeps running meanwhile);
    one killed mid-way fails that attempt with a retryable error, and the next gets a new one."""
    html = rendered(DocumentKind.approval_document).html
    first = await render_module.render_pdf(html)
    pool = render_module._render_pool()
    [process] = list(pool._processes.values())
    assert process.pid is not None and process.pid != os.getpid()  # started: it rendered `first`
    os.kill(process.pid, signal.SIGKILL)
    process.join(timeout=10)
    with pytest.raises(BrokenProcessPool):
        await render_module.render_pdf(html)
    assert await render_module.render_pdf(html) == first  # a new renderer, the same bytes
    assert render_module._render_pool() is not pool
