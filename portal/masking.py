"""The masking tool (R11 blind review): the applicant draws boxes over their name and
employer on each page; the server burns them into the pixels (filled black) and keeps the
result as a new upload, the material's masked copy — the only one reviewers ever get.

- `parse_boxes` checks what the browser sent: page index and x, y, w, h in the page image's
  pixels, each box on its page with a positive size, at most MAX_BOXES in all.
- `burn_boxes` (pure) fills exactly the pixels [x, x + w) × [y, y + h) of each box.
- `masked_copy` renders every page (portal.uploads.page_images: the images the browser was
  shown), burns the boxes and assembles the copy: a PNG for an image, a PDF of the masked
  page images for a PDF (nothing of the original PDF survives: no text layer, no metadata).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from portal.uploads import PDF, page_images

MAX_BOXES = 200
BLACK = (0, 0, 0)


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
        if x < 0 or y < 0 or x + w > width or y + h > height:
            raise BoxesRefused(
                "遮盖区域超出了页面范围。",
                f"box {number}: {x},{y} {w}x{h} outside page {page + 1} ({width}x{height})",
            )
        boxes.append(Box(page, x, y, w, h))
    return boxes


def burn_boxes(image: Image.Image, boxes: Iterable[Box]) -> Image.Image:
    """A copy of `image` (RGB) with each box's pixels [x, x+w) × [y, y+h) filled black.
    The boxes' `page` is not looked at: give this page's boxes."""
    burned = image.convert("RGB")  # always a copy
    draw = ImageDraw.Draw(burned)
    for box in boxes:
        # ImageDraw's rectangle includes both corners: the last pixel is x + w - 1
        draw.rectangle((box.x, box.y, box.x + box.w - 1, box.y + box.h - 1), fill=BLACK)
    return burned


@dataclass(frozen=True)
class MaskedCopy:
    data: bytes
    media_type: str  # image/png or application/pdf
    pages: int


def masked_copy(data: bytes, media_type: str, raw_boxes: str) -> MaskedCopy:
    """The masked copy of an upload's content, from the boxes as the browser sent them
    (BoxesRefused when they do not fit the pages). CPU work: run it in a thread."""
    images, dpi = page_images(data, media_type)
    boxes = parse_boxes(raw_boxes, [image.size for image in images])
    return assemble(images, dpi, media_type, boxes)


def assemble(
    images: Sequence[Image.Image], dpi: float, media_type: str, boxes: Sequence[Box]
) -> MaskedCopy:
    burned = [
        burn_boxes(image, [box for box in boxes if box.page == index])
        for index, image in enumerate(images)
    ]
    buffer = io.BytesIO()
    if media_type == PDF:
        first, *rest = burned
        first.save(buffer, "PDF", save_all=True, append_images=rest, resolution=dpi, quality=90)
        return MaskedCopy(buffer.getvalue(), PDF, len(burned))
    burned[0].save(buffer, "PNG")
    return MaskedCopy(buffer.getvalue(), "image/png", 1)
