"""The upload store: scans uploaded through the portal (applicants' materials, employers'
signed publicity scans), checked by their content and kept content-addressed.

    stored = await store_upload(engine, store_dir, owner_account_id=account.id,
                                declared_name=file.filename, data=data, max_bytes=limit)
    data = read_upload(store_dir, stored.sha256)

- Only PDF, PNG and JPEG are taken, **judged by the bytes, never by the name**: the magic
  bytes first, then the file is actually parsed (pypdfium2 opens the PDF and every page;
  Pillow verifies and decodes the image). Anything else is refused with `UploadRefused`
  (a Chinese sentence for the page and a short English detail) and nothing is stored.
- A size limit (`ZHICHENG_UPLOAD_MAX_BYTES`, 10 MB by default), a page limit and a pixel limit
  (decompression bombs).
- The file is `<store_dir>/<sha256[:2]>/<sha256>`, written through a temporary file and a
  rename, so a crash never leaves half a file under a final name; the same content twice is
  one file. A row in `uploads` (store/uploads.py) says who uploaded it, under which name,
  its media type, size and pages, and its masked copy once made (portal/masking.py).
- The file is written before its row: a row always has its file (an orphan file after a
  crash is harmless, and is reused by the next upload of the same content).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pypdfium2 as pdfium
from PIL import Image
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.concurrency import run_in_threadpool

# re-exported: the portal's modules and the tests import these from here
from documents.page_images import (  # noqa: F401
    JPEG,
    MAX_RENDER_SIDE,
    PDF,
    PDFIUM_LOCK,
    PNG,
    RENDER_DPI,
    each_page_image,
    page_image,
    page_images,
    page_pixel_sizes,
    png_bytes,
    read_upload,
    upload_path,
)
from store.files import synced_temporary
from store.uploads import Upload

SUFFIXES = {PDF: "pdf", PNG: "png", JPEG: "jpg"}
MAX_PAGES = 50  # a longer PDF is split by the applicant (each page is masked by hand)
# An image larger than this is refused at upload: masking one holds it in memory (3 bytes a
# pixel, about 60 MB here) and must stay within the masking bound (docs/portal.md).
MAX_PIXELS = 20_000_000


class UploadRefused(Exception):
    """An upload not taken: `text` (Chinese) for the page, `detail` (English) under it."""

    def __init__(self, text: str, detail: str = "", status: int = 400) -> None:
        super().__init__(text)
        self.text, self.detail, self.status = text, detail, status


@dataclass(frozen=True)
class StoredUpload:
    id: int
    sha256: str
    owner_account_id: int
    declared_name: str
    media_type: str
    size: int
    pages: int
    masked_sha256: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> StoredUpload:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class UploadConfig:
    directory: Path
    max_bytes: int


# The routes that take uploaded files, each with the most files one request carries: their
# request body may be that many times ZHICHENG_UPLOAD_MAX_BYTES and the form around them; every
# other route's is PORTAL_BODY_MAX_BYTES (portal.middleware.BodyLimitMiddleware).
MULTIPART_OVERHEAD = 64 * 1024  # the form's other fields and boundaries beside the files
UPLOAD_ROUTES: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"/applicant/materials"), 1),  # portal/routers/applicant.py: a material
    (re.compile(r"/employer/[^/]+/recommend"), 2),  # portal/routers/employer.py: two scans
)


def body_limit(app: Any, path: str, default: int) -> int:
    """The largest request body `path` takes."""
    for pattern, files in UPLOAD_ROUTES:
        if pattern.fullmatch(path):
            return files * upload_config(app).max_bytes + MULTIPART_OVERHEAD
    return default


def upload_config(app: Any) -> UploadConfig:
    """The app's upload store (`app.state.uploads`; from settings.py the first time).
    Tests set `app.state.uploads = UploadConfig(tmp_dir, limit)` before the first request."""
    config = getattr(app.state, "uploads", None)
    if config is None:
        settings = app.state.portal.settings  # read once, when the app was built
        config = app.state.uploads = UploadConfig(settings.upload_dir, settings.upload_max_bytes)
    return config


# --- what a file is: by content ------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    media_type: str
    pages: int


def sniff_media_type(data: bytes) -> str | None:
    """The media type the magic bytes claim (PDF, PNG, JPEG), or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


def check_content(data: bytes) -> Checked:
    """What the bytes are, after parsing them: UploadRefused unless a sound PDF, PNG or JPEG."""
    media_type = sniff_media_type(data)
    if media_type is None:
        what = describe_unknown(data)
        raise UploadRefused(
            "只能上传PDF、JPG或PNG格式的扫描件（按文件内容判断，不看文件名）。",
            f"content is not PDF, PNG or JPEG ({what})",
            status=415,
        )
    if media_type == PDF:
        return Checked(PDF, _check_pdf(data))
    _check_image(data, media_type)
    return Checked(media_type, 1)


def describe_unknown(data: bytes) -> str:
    if data.startswith(b"\x7fELF"):
        return "an ELF executable"
    if data.startswith(b"MZ"):
        return "a Windows executable"
    if data.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if not data:
        return "empty"
    return f"starts with {data[:8].hex()}"


def _check_pdf(data: bytes) -> int:
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            text = "PDF文件已损坏，无法打开。"
            if "password" in str(exc).lower():
                text = "PDF文件已加密，请上传未加密的扫描件。"
            raise UploadRefused(text, f"PDF does not open: {exc}", status=415) from None
        try:
            pages = len(document)
            if pages == 0:
                raise UploadRefused("PDF文件没有页面。", "PDF has no pages", status=415)
            if pages > MAX_PAGES:
                raise UploadRefused(
                    f"PDF文件超过{MAX_PAGES}页，请拆分后分别上传。",
                    f"{pages} pages > {MAX_PAGES}",
                    status=413,
                )
            for index in range(pages):  # every page must load
                page = document[index]
                try:
                    width, height = page.get_size()
                finally:
                    page.close()
                if not (width > 0 and height > 0):
                    raise UploadRefused("PDF文件已损坏，无法打开。", f"page {index + 1}: no size")
        except pdfium.PdfiumError as exc:
            raise UploadRefused("PDF文件已损坏，无法打开。", f"PDF: {exc}", status=415) from None
        finally:
            document.close()
    return pages


def _check_image(data: bytes, media_type: str) -> None:
    expected = {PNG: "PNG", JPEG: "JPEG"}[media_type]
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != expected:
                raise UploadRefused("图片格式无法识别。", f"{image.format} is not {expected}", 415)
            _check_pixels(image.width, image.height)
            image.verify()  # the structure (PNG chunk CRCs, JPEG markers)
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # and every pixel decodes
    except UploadRefused:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UploadRefused("图片文件已损坏，无法打开。", f"image: {exc}", status=415) from None


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise UploadRefused(
            "图片尺寸过大，请降低分辨率后再上传。",
            f"{width}x{height} pixels > {MAX_PIXELS}",
            status=413,
        )


# --- the store ------------------------------------------------------------------------------


def write_content(store_dir: Path, data: bytes) -> str:
    """The content's file (written once: temporary file, fsync, rename); its SHA-256."""
    sha256 = hashlib.sha256(data).hexdigest()
    path = upload_path(store_dir, sha256)
    if path.exists() and path.stat().st_size == len(data):
        return sha256  # the same content is one file
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = synced_temporary(path.parent, data)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return sha256


def open_upload(store_dir: Path, sha256: str) -> BinaryIO:
    return upload_path(store_dir, sha256).open("rb")


def clean_name(name: str | None) -> str:
    """A declared file name for display: the last path part, no control characters, ≤ 200."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return (base or "upload")[:200]


async def store_upload(
    engine: AsyncEngine,
    store_dir: Path,
    *,
    owner_account_id: int,
    declared_name: str | None,
    data: bytes,
    max_bytes: int | None,
) -> StoredUpload:
    """Check `data` by its content and keep it; the owner's row (the same row when the owner
    uploads the same content again). UploadRefused, with nothing stored, when it is not taken."""
    if max_bytes is not None and len(data) > max_bytes:
        raise UploadRefused(
            f"文件过大：不能超过{max_bytes / 1024 / 1024:.0f}MB。",
            f"{len(data)} bytes > {max_bytes}",
            status=413,
        )
    checked = await run_in_threadpool(check_content, data)
    sha256 = await run_in_threadpool(write_content, store_dir, data)
    existing = await find_own_by_sha256(engine, owner_account_id, sha256)
    if existing is not None:
        return existing
    values = {
        "sha256": sha256,
        "owner_account_id": owner_account_id,
        "declared_name": clean_name(declared_name),
        "media_type": checked.media_type,
        "size": len(data),
        "pages": checked.pages,
    }
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Upload).values(**values))
    except IntegrityError:  # the same owner, the same content, at the same moment
        pass
    found = await find_own_by_sha256(engine, owner_account_id, sha256)
    assert found is not None
    return found


async def find_upload(
    engine: AsyncEngine, upload_id: int, *, owner_account_id: int | None = None
) -> StoredUpload | None:
    """An upload by id; with `owner_account_id`, only that account's (None otherwise)."""
    query = select(Upload.__table__).where(Upload.id == upload_id)
    if owner_account_id is not None:
        query = query.where(Upload.owner_account_id == owner_account_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return StoredUpload.of(row) if row is not None else None


async def find_own_by_sha256(
    engine: AsyncEngine, owner_account_id: int, sha256: str
) -> StoredUpload | None:
    query = select(Upload.__table__).where(
        Upload.owner_account_id == owner_account_id, Upload.sha256 == sha256
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return StoredUpload.of(row) if row is not None else None


async def set_masked(engine: AsyncEngine, upload_id: int, masked_sha256: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(Upload).where(Upload.id == upload_id).values(masked_sha256=masked_sha256)
        )


async def read_form_file(file: Any, max_bytes: int) -> bytes:
    """A form's file part, read up to the limit (UploadRefused 413 past it)."""
    chunks, total = [], 0
    while chunk := await file.read(256 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise UploadRefused(
                f"文件过大：不能超过{max_bytes / 1024 / 1024:.0f}MB。",
                f"more than {max_bytes} bytes",
                status=413,
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def store_form_file(
    engine: AsyncEngine, config: UploadConfig, *, owner_account_id: int, file: Any
) -> StoredUpload:
    """A form's file part, read within the limit and stored (UploadRefused otherwise)."""
    data = await read_form_file(file, config.max_bytes)
    return await store_upload(
        engine,
        config.directory,
        owner_account_id=owner_account_id,
        declared_name=file.filename,
        data=data,
        max_bytes=config.max_bytes,
    )
