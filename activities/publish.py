"""Documents (R21, R23): render each from its Jinja2 template to HTML and to PDF (WeasyPrint),
and publish it to the publication store — the platform's 任职资格审批文件 column and its
siblings — with an index page and a JSON feed.

- One template per document kind under templates/documents/; formal Chinese, A4, the layout
  of GB/T 9704-2012. The approval document has the red header, a document number from a
  per-year counter in the database, and a seal drawn here as SVG (never a scan).
- Fonts by role (title 小标宋, body 仿宋, heading 黑体, kai 楷体): licensed files dropped into
  ZHICHENG_FONT_DIR win; otherwise Noto Serif/Sans CJK SC (Debian fonts-noto-cjk, installed
  by scripts/lib.sh). WeasyPrint embeds the subset of each font it uses.
- The store (ZHICHENG_PUBLICATION_DIR, default var/publication) never overwrites a file:
  publishing a document again returns the first publication, and a different content under
  a published name is an error (PublicationConflict).

Errors a retry cannot fix (a template or its data, a conflict) are non-retryable and are
recorded in `document_publications`; a missing CJK font and I/O or database errors retry
(the workflow bounds them: workflows/declaration.py PUBLISH_RETRY).

`python -m activities.publish failed` lists the failed publications; `... retry KEY`
publishes one again from its recorded request once the cause is fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db import dialect_insert, get_engine, insert_unless_exists
from activities.files import synced_temporary
from activities.notify import cn_datetime
from models.common import JURISDICTION_NAMES_ZH, LEVEL_NAMES_ZH, Level, Stage
from models.coordination import ResultListRequest
from models.declaration import TitleBasis
from models.document_tables import DocumentCounter, DocumentNumber, DocumentPublication
from models.documents import (
    COLUMN_NAMES_ZH,
    DOCUMENT_COLUMNS,
    FONT_MISSING,
    PUBLICATION_CONFLICT,
    RENDER_ERROR,
    TITLE_NAMES_ZH,
    Column,
    DocumentKind,
    DocumentPerson,
    PublishedDocument,
    PublishRequest,
    ResultPublicityList,
)
from models.tables import DeclarationRow
from rules.eligibility import BASIS_ZH
from rules.timezone import closing_day, shanghai_date
from settings import ROOT, Settings, load_settings

TEMPLATES = ROOT / "templates" / "documents"

SEAL_RED = "#d8201c"
HEADER_RED = "#e60012"
TEXT_WIDTH_MM = 156.0  # GB/T 9704-2012 版心宽度
PT_PER_MM = 72 / 25.4

ACHIEVEMENT_KINDS_ZH = {
    "paper": "论文",
    "patent": "专利成果",
    "technical_breakthrough": "技术突破",
    "process_flow": "工艺流程",
    "standard": "标准开发",
    "achievement_transformation": "成果转化",
}

# --- configuration ---------------------------------------------------------------------

_configured_dir: Path | None = None


def configure_publication(directory: Path | None) -> Path | None:
    """Point the activity at another publication store (tests); None: the setting.
    Returns the previous setting, so a test can put it back."""
    global _configured_dir
    previous, _configured_dir = _configured_dir, directory
    return previous


def publication_dir(settings: Settings | None = None) -> Path:
    return _configured_dir or (settings or load_settings()).publication_dir


# --- fonts -------------------------------------------------------------------------------

FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
# Role -> the families tried after a dropped-in file: common names of the licensed fonts
# (found if installed system-wide), then the Noto CJK fonts of fonts-noto-cjk.
FONT_FALLBACKS = {
    "title": ['"FZXiaoBiaoSong-B05S"', '"方正小标宋简体"', '"Noto Serif CJK SC"', "serif"],
    "body": ['"FangSong_GB2312"', '"FangSong"', '"仿宋"', '"Noto Serif CJK SC"', "serif"],
    "heading": ['"SimHei"', '"黑体"', '"Noto Sans CJK SC"', "sans-serif"],
    "kai": ['"KaiTi_GB2312"', '"KaiTi"', '"楷体"', '"Noto Serif CJK SC"', "serif"],
}


@dataclass(frozen=True)
class Fonts:
    """CSS for the templates: @font-face rules for dropped-in files, a stack per role."""

    css: str
    title: str
    body: str
    heading: str
    kai: str
    title_weight: str  # 小标宋 is bold by design; the Noto stand-in needs its Bold face


def font_files(font_dir: Path | None) -> dict[str, Path]:
    """The dropped-in font file of each role (title.ttf, body.otf, ...), if any."""
    found: dict[str, Path] = {}
    if font_dir is None or not font_dir.is_dir():
        return found
    for path in sorted(font_dir.iterdir()):
        if path.suffix.lower() in FONT_SUFFIXES and path.stem in FONT_FALLBACKS:
            found.setdefault(path.stem, path.absolute())
    return found


def fonts_for(font_dir: Path | None, *, embed_paths: bool = True) -> Fonts:
    """`embed_paths` False: the published HTML names the families but not the server's files."""
    files = font_files(font_dir)
    faces, stacks = [], {}
    for role, fallbacks in FONT_FALLBACKS.items():
        family = [f'"zhicheng-{role}"'] if role in files else []
        if role in files and embed_paths:
            faces.append(
                f'@font-face {{ font-family: "zhicheng-{role}"; '
                f'src: url("{files[role].as_uri()}"); }}'
            )
        stacks[role] = ", ".join(family + fallbacks)
    return Fonts(
        css="\n".join(faces),
        title_weight="normal" if "title" in files else "bold",
        **stacks,
    )


_cjk_font_seen = False


def check_cjk_font(font_dir: Path | None) -> None:
    """A document without a CJK font would be published with empty boxes for every Chinese
    character, and published files are never replaced: refuse (retryably) to render then."""
    global _cjk_font_seen
    if _cjk_font_seen or font_files(font_dir):
        return
    listed = ""
    if shutil.which("fc-list"):
        listed = subprocess.run(
            ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
        ).stdout.strip()
    if not listed:
        raise ApplicationError(
            "no Chinese font is installed: install Debian fonts-noto-cjk (scripts/lib.sh does, "
            "as root) or put licensed fonts into ZHICHENG_FONT_DIR (README, 'Documents and the "
            "approval PDF')",
            type=FONT_MISSING,
        )
    _cjk_font_seen = True


# --- the seal ----------------------------------------------------------------------------


def seal_svg(text: str, *, color: str = SEAL_RED, font_family: str = "Noto Serif CJK SC") -> str:
    """A round official seal, drawn: a ring, a five-pointed star, `text` along the upper arc.
    42 mm across (the usual size of an authority's seal); units are 0.1 mm."""
    size, centre = 420, 210.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="42mm" height="42mm">',
        f'<circle cx="{centre}" cy="{centre}" r="196" fill="none" stroke="{color}" '
        f'stroke-width="13"/>',
    ]
    # The star: outer radius 68 (13.6 mm across), inner radius by the golden ratio.
    outer, inner = 68.0, 68.0 * 0.381966
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else inner
        angle = math.radians(-90 + 36 * i)
        points.append(
            f"{centre + radius * math.cos(angle):.2f},{centre + radius * math.sin(angle):.2f}"
        )
    parts.append(f'<polygon points="{" ".join(points)}" fill="{color}"/>')
    # The name: upright glyphs along an arc, read clockwise, centred on the top. Brackets
    # take half a glyph's room.
    chars = list(text)
    widths = [0.55 if char in "（）()〔〕" else 1.0 for char in chars]
    # The arc between the first and last glyph centres, in glyph widths and in degrees.
    room = sum(widths) - (widths[0] + widths[-1]) / 2
    span = min(250.0, 21.0 * room)
    per_width = span / room if room else 0.0
    glyph = 50.0  # font size, 5 mm
    # Each glyph's width follows the arc's room for it (at the glyphs' middle, r ≈ 158).
    squeeze = min(1.0, max(0.5, math.radians(per_width) * 158 / (glyph * 0.96)))
    baseline = 142.0  # radius of the glyphs' baseline: their tops reach about r = 186
    theta = -span / 2
    for i, char in enumerate(chars):
        if i:
            theta += per_width * (widths[i - 1] + widths[i]) / 2
        rad = math.radians(theta)
        x = centre + baseline * math.sin(rad)
        y = centre - baseline * math.cos(rad)
        parts.append(
            f'<text transform="translate({x:.2f},{y:.2f}) rotate({theta:.2f}) '
            f'scale({squeeze:.3f},1)" text-anchor="middle" font-size="{glyph}" '
            f'font-family="{xml_escape(font_family)}" font-weight="bold" '
            f'fill="{color}">{xml_escape(char)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# --- rendering ---------------------------------------------------------------------------


def cn_date(value: date | datetime | str) -> str:
    """GB/T 9704-2012 dates: Arabic numerals, no leading zeros: 2025年9月1日."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        value = shanghai_date(value)
    return f"{value.year}年{value.month}月{value.day}日"


def cn_last_day(value: datetime | str) -> str:
    """An end instant at midnight is 24:00 of the day before (R13): that day's date."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return cn_date(closing_day(instant)[0])


def _level_zh(value: Level | str | None) -> str:
    return LEVEL_NAMES_ZH[Level(value)] if value else "无"


def _title_zh(value: Level | str) -> str:
    return TITLE_NAMES_ZH[Level(value)]


_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    undefined=StrictUndefined,  # a missing value is an error, never an empty blank in a document
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters.update(
    cn_date=cn_date,
    cn_last_day=cn_last_day,
    cn_datetime=cn_datetime,
    level_zh=_level_zh,
    title_zh=_title_zh,
    jurisdiction_zh=lambda value: JURISDICTION_NAMES_ZH[value],
    basis_zh=lambda value: BASIS_ZH[TitleBasis(value)],
    achievement_zh=lambda value: ACHIEVEMENT_KINDS_ZH[str(value)],
)


@dataclass(frozen=True)
class AuthorityMark:
    """The red issuing-authority mark (发文机关标志) fitted into the text width: 28 pt,
    squeezed horizontally (tall, narrow glyphs, as red headers are set) rather than shrunk
    when the name is long; a short name is spaced out a little instead."""

    font_size_pt: float
    letter_spacing_em: float
    width_mm: float  # the natural width, centred on the text width
    margin_left_mm: float
    scale_x: float


def authority_mark(text: str, size: float = 28.0) -> AuthorityMark:
    em_mm = size / PT_PER_MM
    spacing = 0.15 if len(text) * em_mm <= TEXT_WIDTH_MM * 0.8 else 0.0
    width = len(text) * em_mm * (1 + spacing)
    scale = min(1.0, TEXT_WIDTH_MM / width)
    return AuthorityMark(
        font_size_pt=size,
        letter_spacing_em=spacing,
        width_mm=round(width, 2),
        margin_left_mm=round((TEXT_WIDTH_MM - width) / 2, 2),
        scale_x=round(scale, 3),
    )


@dataclass(frozen=True)
class Rendered:
    title: str
    html: str  # for the PDF: @font-face with the font files' paths
    web_html: str  # published beside the PDF: family names only


def render_html(
    request: PublishRequest, settings: Settings, document_number: str | None = None
) -> Rendered:
    """The document's HTML from its template; Jinja2 errors propagate."""
    document = request.document
    template = _environment.get_template(f"{document.kind.value}.html.j2")
    issuing_authority = settings.issuing_authority
    context: dict[str, Any] = {
        "document": document,
        "document_kind": document.kind.value,
        "issued_at": request.issued_at,
        "issued_on": shanghai_date(request.issued_at),
        "document_number": document_number,
        "issuing_authority": issuing_authority,
        "supervisor": "甘泉堡经济技术开发区（工业区）人力资源服务中心",
        "contact": settings.document_contact,
        "platform": "乌鲁木齐市职称评审系统",
        "red": HEADER_RED,
        "mark": authority_mark(f"{issuing_authority}文件"),
        "seal": seal_svg(issuing_authority),
    }

    def render(fonts: Fonts) -> str:
        # CSS, not text: autoescaping would turn the family names' quotes into &#34;
        css = {name: Markup(value) for name, value in asdict(fonts).items()}
        return template.render({**context, "fonts": css, "font_css": css["css"]})

    title_context = template.new_context({**context, "fonts": {}, "font_css": ""})
    title = " ".join("".join(template.blocks["title"](title_context)).split())
    return Rendered(
        title=title,
        html=render(fonts_for(settings.font_dir)),
        web_html=render(fonts_for(settings.font_dir, embed_paths=False)),
    )


_render_lock = threading.Lock()  # one WeasyPrint layout at a time per worker process


def html_to_pdf(html: str) -> bytes:
    """PDF bytes of `html` (WeasyPrint, fonts subset and embedded). The same HTML gives the
    same bytes, so a retried publication of an unchanged document is recognised as such."""
    from weasyprint import HTML  # imported here: loading Pango takes a moment
    from weasyprint.text.fonts import FontConfiguration

    with _render_lock:
        font_config = FontConfiguration()
        return HTML(string=html, base_url=str(TEMPLATES)).write_pdf(font_config=font_config)


# Rendering runs in a process of its own, not a thread of the worker: WeasyPrint's layout is
# Python holding the GIL for about a second a document, which would stall the worker's event
# loop (workflow tasks, reviewers' updates) meanwhile; its font and layout memory (CJK fonts
# are large) stays out of the worker and is given back when the process is recycled; and a
# crash in Pango loses one attempt (the activity retries), never the worker.
RENDERS_PER_PROCESS = 200
_renderer: ProcessPoolExecutor | None = None
_renderer_lock = threading.Lock()


def _render_pool() -> ProcessPoolExecutor:
    global _renderer
    with _renderer_lock:
        if _renderer is None:
            _renderer = ProcessPoolExecutor(
                max_workers=1,  # one document at a time, as before: the CPU is shared
                mp_context=multiprocessing.get_context("spawn"),  # never fork a threaded worker
                max_tasks_per_child=RENDERS_PER_PROCESS,
            )
        return _renderer


async def render_pdf(html: str) -> bytes:
    """html_to_pdf in the renderer process. A renderer that died is replaced, and the error
    (retryable) is raised for this attempt."""
    global _renderer
    pool = _render_pool()
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, html_to_pdf, html)
    except BrokenProcessPool:
        with _renderer_lock:
            if _renderer is pool:
                _renderer = None
        raise


# --- document numbers (R21) --------------------------------------------------------------


def format_document_number(prefix: str, year: int, number: int) -> str:
    return f"{prefix}〔{year}〕{number}号"


class _AllocatedElsewhere(Exception):
    """Another transaction allocated this key first: roll back ours (and its increment)."""


async def allocate_document_number(key: str, prefix: str, year: int, url: str | None = None) -> int:
    """The number of document `key` in (prefix, year): 1, 2, 3, … in order of allocation.

    Once per key: a retry returns the number it got the first time. The increment and the
    key's row are one transaction, so no number is skipped or given twice, also when two
    workers allocate at once (the counter row's update serializes them)."""
    engine = get_engine(url)
    for _ in range(5):
        async with engine.connect() as conn:
            found = await conn.scalar(
                select(DocumentNumber.number).where(DocumentNumber.key == key)
            )
        if found is not None:
            return found
        try:
            async with engine.begin() as conn:
                # Writes first, so SQLite takes its write lock at once (no upgrade deadlock).
                await insert_unless_exists(
                    conn,
                    DocumentCounter,
                    {"prefix": prefix, "year": year, "last_number": 0},
                    ["prefix", "year"],
                )
                where = (DocumentCounter.prefix == prefix) & (DocumentCounter.year == year)
                await conn.execute(
                    update(DocumentCounter)
                    .where(where)
                    .values(last_number=DocumentCounter.last_number + 1)
                )
                number = await conn.scalar(select(DocumentCounter.last_number).where(where))
                row = {"key": key, "prefix": prefix, "year": year, "number": number}
                # RETURNING tells whether this row was written (rowcount does not, reliably, on
                # every driver): nothing comes back when another allocation holds the key.
                written = await conn.scalar(
                    dialect_insert(conn)(DocumentNumber)
                    .values(**row)
                    .on_conflict_do_nothing(index_elements=["key"])
                    .returning(DocumentNumber.number)
                )
                if written is None:
                    raise _AllocatedElsewhere
                return int(number)
        except (_AllocatedElsewhere, IntegrityError):
            continue  # rolled back: read the winner's number
    raise RuntimeError(f"could not allocate a document number for {key}")


# --- the publication store -----------------------------------------------------------------


class PublicationConflictError(Exception):
    pass


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PublicationStore:
    """A directory: the published files under {year}/, feed.json (the list, the store's own
    record of what is published) and index.html (the column's page). Files are written to a
    temporary name and linked into place only if the name is free; feed and index are
    replaced atomically, under an exclusive lock (several workers may share the directory)."""

    FEED = "feed.json"
    INDEX = "index.html"

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def items(self) -> list[dict[str, Any]]:
        path = self.root / self.FEED
        if not path.exists():
            return []
        return list(json.loads(path.read_text(encoding="utf-8"))["items"])

    def find(self, key: str) -> dict[str, Any] | None:
        return next((item for item in self.items() if item["key"] == key), None)

    def publish(self, item: dict[str, Any], files: Mapping[str, bytes]) -> tuple[dict, bool]:
        """Add `item` with its `files` (name -> bytes, relative to the store). Returns the
        item as published and whether it was there already (then nothing is written)."""
        with self._locked():
            items = self.items()
            existing = next((i for i in items if i["key"] == item["key"]), None)
            if existing is not None:
                return existing, True
            for name, data in files.items():
                self._write_once(name, data)
            items.append(item)
            self._replace(self.FEED, _feed_json(items).encode("utf-8"))
            self._replace(self.INDEX, _index_html(items).encode("utf-8"))
            return item, False

    def _write_once(self, name: str, data: bytes) -> None:
        path = self.root / name
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(f"file name outside the store: {name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = synced_temporary(path.parent, data)
        try:
            os.chmod(temporary, 0o444)  # published: read-only
            try:
                os.link(temporary, path)  # fails if the name is taken: never overwrites
            except FileExistsError:
                if sha256_hex(path.read_bytes()) != sha256_hex(data):
                    raise PublicationConflictError(
                        f"{name} is already published with other content; a published file "
                        "is never replaced"
                    ) from None
                # The same bytes: an earlier attempt wrote the file but not the feed.
        finally:
            os.unlink(temporary)

    def _replace(self, name: str, data: bytes) -> None:
        temporary = synced_temporary(self.root, data, prefix=f".{name}.")
        os.chmod(temporary, 0o644)
        os.replace(temporary, self.root / name)


def _feed_json(items: list[dict[str, Any]]) -> str:
    feed = {
        "title": "任职资格审批文件及相关公示、附件",
        "updated_at": max(item["published_at"] for item in items),
        "items": items,
    }
    return json.dumps(feed, ensure_ascii=False, indent=2) + "\n"


def _index_html(items: list[dict[str, Any]]) -> str:
    columns = []
    for column in Column:
        entries = [i for i in items if i["column"] == column.value]
        entries.sort(key=lambda i: (i["date"], i["published_at"]), reverse=True)
        if entries:
            columns.append((COLUMN_NAMES_ZH[column], entries))
    return _environment.get_template("_index.html.j2").render(columns=columns)


# --- the record of publications -----------------------------------------------------------


async def record_publication(
    request: PublishRequest,
    *,
    published: PublishedDocument | None = None,
    error: str | None = None,
    attempts: int = 1,
) -> None:
    """Upsert the document's row: `published` (where it is) or `failed` (the last error)."""
    row: dict[str, Any] = {
        "key": request.key,
        "kind": request.document.kind.value,
        "scope": request.scope,
        "status": "published" if published else "failed",
        "title": published.title if published else None,
        "document_number": published.document_number if published else None,
        "file_name": published.file_name if published else None,
        "sha256": published.sha256 if published else None,
        "attempts": attempts,
        "last_error": error,
        "request": request.model_dump(mode="json"),
        "updated_at": datetime.now(UTC),
    }
    async with get_engine().begin() as conn:
        insert = dialect_insert(conn)(DocumentPublication).values(**row)
        if published is None:  # a failure never hides an earlier success
            changed = {k: v for k, v in row.items() if k not in ("key", "status", "title")}
            statement = insert.on_conflict_do_update(
                index_elements=["key"],
                set_={**changed, "status": "failed"},
                where=DocumentPublication.status != "published",
            )
        else:
            statement = insert.on_conflict_do_update(
                index_elements=["key"], set_={k: v for k, v in row.items() if k != "key"}
            )
        await conn.execute(statement)


# --- the activity --------------------------------------------------------------------------


def file_stem(request: PublishRequest) -> str:
    return f"{request.document.round_year}/{request.document.kind.value}-{request.scope}"


def _published(item: Mapping[str, Any], already: bool) -> PublishedDocument:
    return PublishedDocument.model_validate({**item, "already_published": already})


async def _failure(request: PublishRequest, message: str, error_type: str) -> ApplicationError:
    """Record a failure a person must fix; the non-retryable error to raise."""
    attempt = activity.info().attempt if activity.in_activity() else 1
    activity.logger.error("Document %s not published: %s", request.key, message)
    with contextlib.suppress(Exception):  # the record must not hide the original error
        await record_publication(request, error=f"{error_type}: {message}", attempts=attempt)
    return ApplicationError(
        f"document {request.key}: {message}", type=error_type, non_retryable=True
    )


async def publish(request: PublishRequest, settings: Settings | None = None) -> PublishedDocument:
    """Render and publish `request`'s document, once (see the module's docstring)."""
    settings = settings or load_settings()
    store = PublicationStore(publication_dir(settings))
    existing = await asyncio.to_thread(store.find, request.key)
    if existing is not None:
        published = _published(existing, True)
        await record_publication(request, published=published)
        return published

    document = request.document
    document_number = None
    if document.kind is DocumentKind.approval_document:
        prefix = document.number_prefix or settings.document_number_prefix
        year = shanghai_date(request.issued_at).year  # the year of issue, as 文号 are counted
        number = await allocate_document_number(request.key, prefix, year)
        document_number = format_document_number(prefix, year, number)

    check_cjk_font(settings.font_dir)
    try:
        rendered = render_html(request, settings, document_number)
        pdf = await render_pdf(rendered.html)
    except (OSError, MemoryError, BrokenProcessPool):
        raise  # the machine (or a renderer that died), not the document: retry
    except Exception as exc:  # the template (TemplateError) or the data: a person must fix it
        message = f"cannot render: {type(exc).__name__}: {exc}"
        raise await _failure(request, message, RENDER_ERROR) from exc

    html = rendered.web_html.encode("utf-8")
    stem = file_stem(request)
    item = {
        "key": request.key,
        "kind": document.kind.value,
        "column": DOCUMENT_COLUMNS[document.kind].value,
        "title": rendered.title,
        "date": shanghai_date(request.issued_at).isoformat(),
        "document_number": document_number,
        "file_name": f"{stem}.pdf",
        "sha256": sha256_hex(pdf),
        "html_file_name": f"{stem}.html",
        "html_sha256": sha256_hex(html),
        "published_at": datetime.now(UTC).isoformat(),
    }
    files = {item["file_name"]: pdf, item["html_file_name"]: html}
    try:
        stored, already = await asyncio.to_thread(store.publish, item, files)
    except PublicationConflictError as exc:
        raise await _failure(request, str(exc), PUBLICATION_CONFLICT) from exc
    published = _published(stored, already)
    await record_publication(
        request,
        published=published,
        attempts=activity.info().attempt if activity.in_activity() else 1,
    )
    if activity.in_activity():
        activity.logger.info(
            "Document %s %s: %s (%s)",
            request.key,
            "already published" if already else "published",
            published.file_name,
            published.document_number or published.title,
        )
    return published


@activity.defn
async def publish_document(request: PublishRequest) -> PublishedDocument:
    """Render and publish one document (R21, R23); publishing it again is a no-op."""
    return await publish(request)


@activity.defn
async def publish_result_list(request: ResultListRequest) -> PublishedDocument | None:
    """R20: the result-publicity list of one committee session's batch, naming the passed
    (stage result_publicity, or already past it) of its declarations; None when none passed.
    Published once per (round, votes operation)."""
    passed_or_later = [Stage.result_publicity.value, Stage.approved.value, Stage.revoked.value]
    async with get_engine().connect() as conn:
        rows = (
            await conn.execute(
                select(DeclarationRow)
                .where(
                    DeclarationRow.workflow_id.in_(request.workflow_ids),
                    DeclarationRow.stage.in_(passed_or_later),
                )
                .order_by(
                    DeclarationRow.level,
                    DeclarationRow.employer_name,
                    DeclarationRow.workflow_id,
                )
            )
        ).all()
    if not rows:
        return None
    people = [
        DocumentPerson(
            name=row.applicant_name,
            employer_name=row.employer_name,
            level=Level(row.level),
            declaration_id=row.workflow_id,
        )
        for row in rows
    ]
    return await publish(
        PublishRequest(
            # By operation: session ids are free text, and a scope is part of a file name.
            scope=f"round-{request.year}-results-op{request.operation_id}",
            issued_at=request.issued_at,
            document=ResultPublicityList(
                round_year=request.year,
                people=people,
                starts_at=request.starts_at,
                ends_at=request.ends_at,
                working_days=request.working_days,
            ),
        )
    )


# --- operators: failed publications --------------------------------------------------------


async def _failed() -> list[DocumentPublication]:
    async with get_engine().connect() as conn:
        rows = await conn.execute(
            select(DocumentPublication)
            .where(DocumentPublication.status == "failed")
            .order_by(DocumentPublication.updated_at)
        )
        return list(rows)


async def _main(argv: list[str] | None = None) -> int:
    from activities.db import configure_database, ensure_schema

    parser = argparse.ArgumentParser(prog="python -m activities.publish", description=__doc__)
    parser.add_argument("--database-url", help="overrides DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("failed", help="list the documents whose publication failed")
    retry = sub.add_parser("retry", help="publish a failed document again from its request")
    retry.add_argument("key", help="the document's key, as `failed` prints it")
    args = parser.parse_args(argv)
    configure_database(args.database_url)
    await ensure_schema(args.database_url)
    if args.command == "failed":
        for row in await _failed():
            print(f"{row.key}\t{row.attempts} attempt(s)\t{row.updated_at:%Y-%m-%d %H:%M}Z")
            print(f"    {row.last_error}")
        return 0
    async with get_engine().connect() as conn:
        stored = await conn.scalar(
            select(DocumentPublication.request).where(DocumentPublication.key == args.key)
        )
    if stored is None:
        print(f"no publication recorded under {args.key}")
        return 2
    try:
        published = await publish(PublishRequest.model_validate(stored))
    except ApplicationError as exc:
        print(f"still failing: {exc}")
        return 1
    print(f"published {published.file_name} sha256 {published.sha256}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(_main()))
