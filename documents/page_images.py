"""Pages as images, and an upload's content read back from the upload store: what the
masking tool (portal/masking.py) shows and burns, the viewer serves and the masked-copy check
(activities/masked_copy.py) reads with OCR — the same pixels everywhere, so a box found on a
page image is where the applicant drew on it.

Moved here from portal/uploads.py (which re-exports these names) so that an activity can
render an upload's pages without importing the portal.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import threading
from collections.abc import Generator
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageOps

PDF, PNG, JPEG = "application/pdf", "image/png", "image/jpeg"
RENDER_DPI = 100  # PDF pages are shown and masked at this resolution ...
MAX_RENDER_SIDE = 2000  # ... unless a page would be wider or taller than this, in pixels

PDFIUM_LOCK = threading.Lock()  # PDFium is not thread-safe: one document operation at a time
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


# --- pages as images (the masking tool shows and burns these) ------------------------------


def pdf_scale(sizes: list[tuple[float, float]]) -> float:
    """One scale for every page of a document: RENDER_DPI, less if a page would be too big."""
    largest = max(max(w, h) for w, h in sizes)
    # a hair under, as PDFium rounds the pixel size up: a page made from a 240-pixel image at
    # RENDER_DPI renders 240 pixels wide again (not 241 from 240.000004: sizes are float32)
    return min(RENDER_DPI / 72, MAX_RENDER_SIDE / largest) * (1 - 1e-6)


def _page_points(document: pdfium.PdfDocument) -> list[tuple[float, float]]:
    """Each page's size in points (call it holding PDFIUM_LOCK)."""
    points = []
    for index in range(len(document)):
        page = document[index]
        points.append(page.get_size())
        page.close()
    return points


def _image_page(data: bytes) -> Image.Image:
    """An image upload as its one page: turned as its EXIF orientation says (as a browser
    shows it) and on white where it was transparent."""
    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened)
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, "white")
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return image.convert("RGB")


def page_images(data: bytes, media_type: str) -> tuple[list[Image.Image], float]:
    """Every page as an RGB image, and the resolution (dots per inch) they were rendered at:
    the boxes the applicant draws on what the browser shows are burned into exactly these
    pixels."""
    if media_type == PDF:
        with PDFIUM_LOCK:
            document = pdfium.PdfDocument(data)
            try:
                scale = pdf_scale(_page_points(document))
                images = []
                for index in range(len(document)):
                    page = document[index]
                    images.append(page.render(scale=scale).to_pil().convert("RGB"))
                    page.close()
            finally:
                document.close()
        return images, scale * 72
    return [_image_page(data)], 72.0


def page_pixel_sizes(data: bytes, media_type: str) -> tuple[list[tuple[int, int]], float]:
    """Each page's size in pixels as page_images renders it, and the resolution, without
    rendering a page (PDFium's size: the page's points times the scale, rounded up)."""
    if media_type != PDF:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            orientation = opened.getexif().get(0x0112, 1)  # EXIF Orientation
        turned = orientation in (5, 6, 7, 8)  # exif_transpose swaps the sides
        return [(height, width) if turned else (width, height)], 72.0
    with PDFIUM_LOCK:
        document = pdfium.PdfDocument(data)
        try:
            points = _page_points(document)
        finally:
            document.close()
    scale = pdf_scale(points)
    return [(math.ceil(w * scale), math.ceil(h * scale)) for w, h in points], scale * 72


def each_page_image(data: bytes, media_type: str) -> Generator[Image.Image, None, None]:
    """The pages of page_images one at a time, so that only one is in memory (the masking
    tool burns and writes each before the next is rendered). The document is opened once;
    PDFium's lock is held for each call only, not while the caller works on a page."""
    if media_type != PDF:
        yield _image_page(data)
        return
    with PDFIUM_LOCK:
        document = pdfium.PdfDocument(data)
        count = len(document)
        scale = pdf_scale(_page_points(document))
    try:
        for index in range(count):
            with PDFIUM_LOCK:
                page = document[index]
                image = page.render(scale=scale).to_pil().convert("RGB")
                page.close()
            yield image
    finally:
        with PDFIUM_LOCK:
            document.close()


def page_image(data: bytes, media_type: str, index: int) -> Image.Image:
    """One page (0-based) as an RGB image; IndexError when there is no such page."""
    if media_type == PDF:
        with PDFIUM_LOCK:
            document = pdfium.PdfDocument(data)
            try:
                if not 0 <= index < len(document):
                    raise IndexError(index)
                scale = pdf_scale(_page_points(document))
                page = document[index]
                image = page.render(scale=scale).to_pil().convert("RGB")
                page.close()
            finally:
                document.close()
        return image
    if index != 0:
        raise IndexError(index)
    return _image_page(data)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# --- the upload store's files ----------------------------------------------------------------


def upload_path(store_dir: Path, sha256: str) -> Path:
    if not _SHA256.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return store_dir / sha256[:2] / sha256


def read_upload(store_dir: Path, sha256: str) -> bytes:
    """The content, checked against its name (a changed file on disk is an error, never served)."""
    data = upload_path(store_dir, sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise OSError(f"upload store: {sha256} does not match its content")
    return data
