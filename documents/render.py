"""Rendering documents (R21, R23): each from its Jinja2 template to HTML and to PDF (WeasyPrint).

- One template per document kind under templates/documents/; formal Chinese, A4, the layout
  of GB/T 9704-2012. The approval document has the red header and a seal drawn here as SVG
  (never a scan).
- Fonts by role (title 小标宋, body 仿宋, heading 黑体, kai 楷体): licensed files dropped into
  ZHICHENG_FONT_DIR win; otherwise Noto Serif/Sans CJK SC (Debian fonts-noto-cjk, installed
  by scripts/lib.sh). WeasyPrint embeds the subset of each font it uses.
- PDFs are made in a renderer process, so WeasyPrint never holds the worker's GIL or memory.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import ctypes.util
import math
import multiprocessing
import os
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from temporalio.exceptions import ApplicationError

from models.common import (
    JURISDICTION_NAMES_ZH,
    LEVEL_NAMES_ZH,
    SKILL_LEVEL_NAMES_ZH,
    Level,
    VocationalSkillLevel,
)
from models.declaration import TitleBasis
from models.documents import (
    FONT_MISSING,
    TITLE_NAMES_ZH,
    PublishRequest,
)
from rules.eligibility import BASIS_ZH
from rules.timezone import closing_day, cn_datetime, shanghai_date
from settings import ROOT, Settings

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


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    undefined=StrictUndefined,  # a missing value is an error, never an empty blank in a document
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(
    cn_date=cn_date,
    cn_last_day=cn_last_day,
    cn_datetime=cn_datetime,
    level_zh=_level_zh,
    title_zh=_title_zh,
    jurisdiction_zh=lambda value: JURISDICTION_NAMES_ZH[value],
    basis_zh=lambda value: BASIS_ZH[TitleBasis(value)],
    skill_zh=lambda value: SKILL_LEVEL_NAMES_ZH[VocationalSkillLevel(value)],
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
    template = environment.get_template(f"{document.kind.value}.html.j2")
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


PARENT_CHECK_SECONDS = 1.0


def _end_with_parent(parent: int) -> None:
    """In the renderer process, first: end when the process that started it is gone, however
    it went (a SIGKILL or `os._exit` runs no atexit handler). Linux delivers SIGTERM at once
    (PR_SET_PDEATHSIG); elsewhere, and as a second line, a thread checks every second."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # gone before the line above took effect
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _render_pool() -> ProcessPoolExecutor:
    global _renderer
    with _renderer_lock:
        if _renderer is None:
            _renderer = ProcessPoolExecutor(
                max_workers=1,  # one document at a time, as before: the CPU is shared
                mp_context=multiprocessing.get_context("spawn"),  # never fork a threaded worker
                max_tasks_per_child=RENDERS_PER_PROCESS,
                initializer=_end_with_parent,
                initargs=(os.getpid(),),
            )
        return _renderer


def shutdown_renderer() -> None:
    """Stop the renderer process (the worker, the portal and the tests call it as they stop;
    also at interpreter exit). The next render starts a new one."""
    global _renderer
    with _renderer_lock:
        pool, _renderer = _renderer, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_renderer)


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
