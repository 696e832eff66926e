"""The masking tool (R11 blind review): the applicant draws boxes over their name and
employer on each page; the server burns them into the pixels (filled black) and keeps the
result as a new upload, the material's masked copy — the only one reviewers ever get.

- `parse_boxes` checks what the browser sent: page index and x, y, w, h in the page image's
  pixels, each box on its page, at most MAX_BOXES in all, and none smaller than the minimum
  (`minimum_box_side`: its width and its height at least MIN_BOX_PERCENT % of the page
  image's shorter side, rounded up, and at least MIN_BOX_PIXELS): a box below it could
  cover nothing (a 1×1 box), so it is refused and no copy is made, and a material counts
  as masked only with a copy made from boxes at or above it.
- `burn_boxes` (pure) fills exactly the pixels [x, x + w) × [y, y + h) of each box.
- `masked_copy` renders each page in turn (portal.uploads.each_page_image: the images the
  browser was shown), burns the boxes and writes the page into the copy before rendering the
  next: a PNG for an image, a PDF of the masked page images for a PDF (nothing of the original
  PDF survives: no text layer, no metadata).
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import Image, ImageDraw

from portal.uploads import PDF, PDFIUM_LOCK, each_page_image, page_pixel_sizes

MAX_BOXES = 200
BLACK = (0, 0, 0)
# R11: the smallest box that counts. The page images are PDF pages at 100 dpi or an image's
# own pixels: 1 % of an A4 page's shorter side at 100 dpi is 9 px (2.3 mm), under the height
# of a 9 pt line of text (12.5 px); on a 3000 px photo 30 px.
MIN_BOX_PERCENT = 1
MIN_BOX_PIXELS = 5


@dataclass(frozen=True)
class Box:
    page: int  # 0-based
    x: int
    y: int
    w: int
    h: int


class BoxesRefused(ValueError):
    """The boxes sent are not usable: `text` (Chinese) for the page, the English detail."""

    def __init__(self, text: str, detail: str) -> None:
        super().__init__(detail)
        self.text, self.detail = text, detail


def parse_boxes(raw: str, page_sizes: Sequence[tuple[int, int]]) -> list[Box]:
    """The boxes of a form field (JSON: [{"page", "x", "y", "w", "h"}, ...]), checked against
    the pages' pixel sizes (width, height). Coordinates are rounded to whole pixels."""
    try:
        items = json.loads(raw or "[]")
    except json.JSONDecodeError:
        raise BoxesRefused("遮盖区域数据无法识别，请重新框选。", "boxes: not JSON") from None
    if not isinstance(items, list):
        raise BoxesRefused("遮盖区域数据无法识别，请重新框选。", "boxes: not a list")
    if not items:
        raise BoxesRefused("请至少框选一处（本人姓名和工作单位都要遮盖）。", "boxes: none drawn")
    if len(items) > MAX_BOXES:
        raise BoxesRefused(
            f"遮盖区域过多（最多{MAX_BOXES}处）。", f"boxes: {len(items)} > {MAX_BOXES}"
        )
    boxes = []
    for number, item in enumerate(items, 1):
        try:
            page = item["page"]
            x, y, w, h = (round(float(item[k])) for k in ("x", "y", "w", "h"))
        except (KeyError, TypeError, ValueError):
            raise BoxesRefused(
                "遮盖区域数据无法识别，请重新框选。", f"box {number}: needs page, x, y, w, h"
            ) from None
        if not isinstance(page, int) or isinstance(page, bool) or not 0 <= page < len(page_sizes):
            raise BoxesRefused("遮盖区域不在材料的页面上。", f"box {number}: no page {page!r}")
        width, height = page_sizes[page]
        if w <= 0 or h <= 0:
            raise BoxesRefused("遮盖区域的宽和高必须大于0。", f"box {number}: size {w}x{h}")
        least = minimum_box_side(width, height)
        if w < least or h < least:
            raise BoxesRefused(
                f"第{number}处遮盖区域过小（{w}×{h}像素）：每处的宽和高都至少要{least}像素"
                f"（页面短边的{MIN_BOX_PERCENT}%，且不少于{MIN_BOX_PIXELS}像素），请重新框选。",
                f"box {number}: {w}x{h} below the minimum {least}x{least} of page {page + 1}",
            )
        if x < 0 or y < 0 or x + w > width or y + h > height:
            raise BoxesRefused(
                "遮盖区域超出了页面范围。",
                f"box {number}: {x},{y} {w}x{h} outside page {page + 1} ({width}x{height})",
            )
        boxes.append(Box(page, x, y, w, h))
    return boxes


def minimum_box_side(width: int, height: int) -> int:
    """The least width and height of a box on a page image of this size, in pixels (R11):
    MIN_BOX_PERCENT % of the shorter side, rounded up, and at least MIN_BOX_PIXELS
    (portal/static/mask.js computes the same)."""
    return max(MIN_BOX_PIXELS, -(-min(width, height) * MIN_BOX_PERCENT // 100))


def burn_boxes(image: Image.Image, boxes: Iterable[Box]) -> Image.Image:
    """A copy of `image` (RGB) with each box's pixels [x, x+w) × [y, y+h) filled black.
    The boxes' `page` is not looked at: give this page's boxes."""
    return _burn_in_place(image.convert("RGB"), boxes)  # convert: always a copy


@dataclass(frozen=True)
class MaskedCopy:
    data: bytes
    media_type: str  # image/png or application/pdf
    pages: int


def masked_copy(data: bytes, media_type: str, raw_boxes: str) -> MaskedCopy:
    """The masked copy of an upload's content, from the boxes as the browser sent them
    (BoxesRefused when they do not fit the pages). CPU work: run it in a thread, through
    `masking_slot` so that one copy is made at a time.

    Memory stays bounded whatever the page count: the boxes are checked against the pages'
    sizes before any page is rendered, then each page is rendered, burned and written into
    the copy (a JPEG inside the new PDF) before the next one (docs/portal.md, "Masking")."""
    sizes, dpi = page_pixel_sizes(data, media_type)
    boxes = parse_boxes(raw_boxes, sizes)
    pages = each_page_image(data, media_type)
    if media_type != PDF:
        (image,) = pages
        buffer = io.BytesIO()
        _burn_in_place(image, boxes).save(buffer, "PNG")
        return MaskedCopy(buffer.getvalue(), "image/png", 1)
    return MaskedCopy(_pdf_of_burned_pages(pages, dpi, boxes), PDF, len(sizes))


def _burn_in_place(image: Image.Image, boxes: Iterable[Box]) -> Image.Image:
    """burn_boxes without the copy, for a page image that is ours alone."""
    draw = ImageDraw.Draw(image)
    for box in boxes:
        # ImageDraw's rectangle includes both corners: the last pixel is x + w - 1
        draw.rectangle((box.x, box.y, box.x + box.w - 1, box.y + box.h - 1), fill=BLACK)
    return image


def _pdf_of_burned_pages(pages: Iterator[Image.Image], dpi: float, boxes: Sequence[Box]) -> bytes:
    """A new PDF, one page per image (burned, then embedded as a JPEG at `dpi`): nothing of
    the original PDF survives (no text layer, no metadata). PDFium is called under its lock,
    released while the next page is rendered (which takes it itself)."""
    with PDFIUM_LOCK:
        document = pdfium.PdfDocument.new()
    try:
        for index, image in enumerate(pages):
            _burn_in_place(image, [box for box in boxes if box.page == index])
            jpeg = io.BytesIO()
            image.save(jpeg, "JPEG", quality=90)
            width, height = (side * 72 / dpi for side in image.size)
            del image  # the next page is rendered only after this one is written
            jpeg.seek(0)
            with PDFIUM_LOCK:
                page = document.new_page(width, height)
                picture = pdfium.PdfImage.new(document)
                picture.load_jpeg(jpeg, inline=True)
                picture.set_matrix(pdfium.PdfMatrix().scale(width, height))
                page.insert_obj(picture)
                page.gen_content()
                page.close()
        out = io.BytesIO()
        with PDFIUM_LOCK:
            document.save(out)
    finally:
        with PDFIUM_LOCK:
            document.close()
    return out.getvalue()


_masking = threading.BoundedSemaphore(1)


@contextlib.contextmanager
def masking_slot() -> Iterator[None]:
    """One masked copy at a time in this process: each holds up to one page image (at most
    MAX_RENDER_SIDE² or MAX_PIXELS pixels, 3 bytes each) and its JPEG, so the portal's
    memory for masking is bounded however many applicants mask at once."""
    with _masking:
        yield


def masked_copy_bounded(data: bytes, media_type: str, raw_boxes: str) -> MaskedCopy:
    """masked_copy inside the process's one masking slot (run it in a thread)."""
    with masking_slot():
        return masked_copy(data, media_type, raw_boxes)
