"""The upload store (portal/uploads.py) and the masking tool's burning (portal/masking.py):
files judged by their content, kept content-addressed once, and boxes burned exactly."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from models.common import Role
from portal.masking import (
    Box,
    BoxesRefused,
    burn_boxes,
    masked_copy,
    minimum_box_side,
    parse_boxes,
)
from portal.uploads import (
    JPEG,
    PDF,
    PNG,
    UploadRefused,
    check_content,
    page_images,
    read_upload,
    store_upload,
    upload_path,
)
from store.accounts import create_account, find_account
from store.db import ensure_schema, get_engine
from store.uploads import Upload

ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(200)
MZ = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200)


def sample_image(size: tuple[int, int] = (240, 160), color: str = "white") -> Image.Image:
    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 120, 60), fill=(200, 30, 30))
    draw.text((30, 100), "ZHANG SAN", fill="black")
    return image


def rgb_at(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """A pixel of an RGB image: its bands (getpixel's type covers every mode)."""
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple), pixel
    return pixel


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def pdf_of(*images: Image.Image) -> bytes:
    buffer = io.BytesIO()
    first, *rest = images
    first.save(buffer, "PDF", save_all=True, append_images=rest, resolution=100)
    return buffer.getvalue()


# --- content checks --------------------------------------------------------------------------


def test_pdf_png_jpeg_are_recognised_by_content() -> None:
    two_pages = pdf_of(sample_image(), sample_image((300, 200)))
    assert (check_content(two_pages).media_type, check_content(two_pages).pages) == (PDF, 2)
    assert check_content(png_of(sample_image())).media_type == PNG
    assert check_content(jpeg_of(sample_image())).media_type == JPEG


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (ELF, "ELF"),
        (MZ, "Windows executable"),
        (b"PK\x03\x04" + bytes(50), "ZIP"),
        (b"", "empty"),
        (b"just text, named x.pdf", "starts with"),
        (b"%PDF-1.7\n this is no PDF at all", "does not open"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "image"),
        (jpeg_of(sample_image())[:300], "image"),  # a truncated JPEG does not decode
    ],
)
def test_anything_else_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(UploadRefused) as refused:
        check_content(data)
    assert why in refused.value.detail
    assert refused.value.status == 415
    assert "PDF" in refused.value.text or "损坏" in refused.value.text


def test_an_image_with_too_many_pixels_is_refused() -> None:
    huge = Image.new("1", (8000, 6000))  # 48 megapixels, a few kilobytes as PNG
    with pytest.raises(UploadRefused) as refused:
        check_content(png_of(huge))
    assert refused.value.status == 413 and "尺寸过大" in refused.value.text


# --- the store ------------------------------------------------------------------------------


@pytest.fixture
async def owner(database_url: str) -> int:
    await ensure_schema(database_url)
    username = f"uploader-{uuid.uuid4().hex[:8]}"
    engine = get_engine(database_url)
    await create_account(
        engine,
        role=Role.applicant,
        username=username,
        password="a-long-password",
        applicant_key=uuid.uuid4().hex[:16],
    )
    account = await find_account(engine, username=username)
    return account.id


async def upload_rows(database_url: str, owner: int) -> int:
    async with get_engine(database_url).connect() as conn:
        query = select(func.count()).where(Upload.owner_account_id == owner)
        return (await conn.execute(query)).scalar_one()


async def test_stored_content_addressed_once(database_url: str, owner: int, tmp_path: Path) -> None:
    engine = get_engine(database_url)
    data = pdf_of(sample_image())
    first = await store_upload(
        engine, tmp_path, owner_account_id=owner, declared_name="C:\\扫描\\学历.pdf",
        data=data, max_bytes=1_000_000,
    )  # fmt: skip
    again = await store_upload(
        engine, tmp_path, owner_account_id=owner, declared_name="again.pdf",
        data=data, max_bytes=1_000_000,
    )  # fmt: skip
    assert again == first  # the same row
    assert (first.media_type, first.pages, first.size) == (PDF, 1, len(data))
    assert first.declared_name == "学历.pdf"  # the last part of the path only
    path = upload_path(tmp_path, first.sha256)
    assert path.parent.name == first.sha256[:2]
    assert read_upload(tmp_path, first.sha256) == data
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [path]  # one file, no temporary left behind
    assert await upload_rows(database_url, owner) == 1


@pytest.mark.parametrize("data", [ELF, MZ])
async def test_an_executable_named_pdf_is_refused_and_nothing_stored(
    database_url: str, owner: int, tmp_path: Path, data: bytes
) -> None:
    with pytest.raises(UploadRefused):
        await store_upload(
            get_engine(database_url), tmp_path, owner_account_id=owner,
            declared_name="x.pdf", data=data, max_bytes=1_000_000,
        )  # fmt: skip
    assert not any(tmp_path.rglob("*"))
    assert await upload_rows(database_url, owner) == 0


async def test_oversize_refused_and_nothing_stored(
    database_url: str, owner: int, tmp_path: Path
) -> None:
    data = png_of(sample_image())
    with pytest.raises(UploadRefused) as refused:
        await store_upload(
            get_engine(database_url), tmp_path, owner_account_id=owner,
            declared_name="a.png", data=data, max_bytes=len(data) - 1,
        )  # fmt: skip
    assert refused.value.status == 413 and "文件过大" in refused.value.text
    assert not any(tmp_path.rglob("*"))
    assert await upload_rows(database_url, owner) == 0


def test_a_changed_file_is_never_served(tmp_path: Path) -> None:
    sha = "a" * 64
    path = upload_path(tmp_path, sha)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not what the name says")
    with pytest.raises(OSError):
        read_upload(tmp_path, sha)
    with pytest.raises(ValueError):
        upload_path(tmp_path, "../../etc/passwd")


# --- masking --------------------------------------------------------------------------------


def test_burn_boxes_blackens_exactly_the_boxes() -> None:
    image = Image.new("RGB", (50, 40), (255, 255, 255))
    boxes = [Box(0, 10, 5, 7, 3), Box(0, 0, 39, 1, 1), Box(0, 49, 0, 1, 40)]
    burned = burn_boxes(image, boxes)
    assert image.getpixel((10, 5)) == (255, 255, 255)  # the original is untouched

    def inside(x: int, y: int) -> bool:
        return any(b.x <= x < b.x + b.w and b.y <= y < b.y + b.h for b in boxes)

    for y in range(40):
        for x in range(50):
            expected = (0, 0, 0) if inside(x, y) else (255, 255, 255)
            assert burned.getpixel((x, y)) == expected, (x, y)


def test_parse_boxes_checks_each_box_against_its_page() -> None:
    sizes = [(100, 80), (60, 60)]
    boxes = parse_boxes(
        json.dumps([{"page": 0, "x": 1.4, "y": 2, "w": 10, "h": 5},
                    {"page": 1, "x": 0, "y": 0, "w": 60, "h": 60}]),
        sizes,
    )  # fmt: skip
    assert boxes == [Box(0, 1, 2, 10, 5), Box(1, 0, 0, 60, 60)]
    bad = [
        "",  # none drawn
        "[]",
        "{}",
        "not json",
        json.dumps([{"page": 2, "x": 0, "y": 0, "w": 1, "h": 1}]),  # no such page
        json.dumps([{"page": True, "x": 0, "y": 0, "w": 1, "h": 1}]),
        json.dumps([{"page": 0, "x": 0, "y": 0, "w": 0, "h": 5}]),  # no size
        json.dumps([{"page": 0, "x": 95, "y": 0, "w": 10, "h": 5}]),  # off the page
        json.dumps([{"page": 0, "x": -1, "y": 0, "w": 10, "h": 5}]),
        json.dumps([{"page": 0, "x": 0, "y": 0, "w": "wide", "h": 5}]),
        json.dumps([{"page": 0, "x": 0, "y": 0, "w": 1, "h": 1}] * 201),  # too many
    ]
    for raw in bad:
        with pytest.raises(BoxesRefused):
            parse_boxes(raw, sizes)


def test_a_box_below_the_minimum_is_refused() -> None:
    """R11: a box counts only from 1 % of the page's shorter side (rounded up) and at least
    5 pixels, in both width and height: a 1×1 box covers nothing."""
    assert minimum_box_side(100, 80) == 5  # 0.8 -> the 5-pixel floor
    assert minimum_box_side(827, 1169) == 9  # A4 at 100 dpi
    assert minimum_box_side(3000, 4000) == 30
    assert minimum_box_side(2001, 5000) == 21  # rounded up
    for w, h in ((1, 1), (8, 50), (50, 8)):
        with pytest.raises(BoxesRefused) as refused:
            parse_boxes(json.dumps([{"page": 0, "x": 0, "y": 0, "w": w, "h": h}]), [(1169, 827)])
        assert "遮盖区域过小" in refused.value.text and "至少要9像素" in refused.value.text
        assert f"{w}x{h} below the minimum 9x9" in refused.value.detail
    # one small box among good ones refuses them all: no copy is made from it
    mixed = [
        {"page": 0, "x": 0, "y": 0, "w": 100, "h": 40},
        {"page": 0, "x": 0, "y": 0, "w": 1, "h": 1},
    ]
    with pytest.raises(BoxesRefused, match="box 2"):
        parse_boxes(json.dumps(mixed), [(1169, 827)])
    assert parse_boxes(json.dumps([{"page": 0, "x": 0, "y": 0, "w": 9, "h": 9}]), [(1169, 827)])


def test_masked_png_copy_has_the_boxes_burned() -> None:
    original = sample_image()
    copy = masked_copy(png_of(original), PNG, json.dumps([{"page": 0, "x": 20, "y": 95, "w": 90,
                                                           "h": 20}]))  # fmt: skip
    assert (copy.media_type, copy.pages) == (PNG, 1)
    masked = Image.open(io.BytesIO(copy.data)).convert("RGB")
    assert masked.size == original.size
    for x, y in ((20, 95), (109, 114), (60, 100)):
        assert masked.getpixel((x, y)) == (0, 0, 0)
    assert masked.getpixel((19, 95)) == original.getpixel((19, 95))
    assert masked.getpixel((110, 114)) == original.getpixel((110, 114))
    assert masked.getpixel((50, 40)) == original.getpixel((50, 40))  # the red stays red


def test_masked_pdf_copy_is_a_pdf_of_burned_pages() -> None:
    data = pdf_of(sample_image(), sample_image((300, 200)))
    pages, dpi = page_images(data, PDF)
    assert [p.size for p in pages] == [(240, 160), (300, 200)]
    assert dpi == pytest.approx(100, rel=1e-5)
    boxes = [{"page": 1, "x": 100, "y": 50, "w": 80, "h": 40}]
    copy = masked_copy(data, PDF, json.dumps(boxes))
    assert (copy.media_type, copy.pages) == (PDF, 2)
    assert check_content(copy.data).pages == 2
    rendered, _ = page_images(copy.data, PDF)
    assert [p.size for p in rendered] == [p.size for p in pages]  # the same page sizes
    second = rendered[1]
    for x, y in ((104, 54), (140, 70), (175, 85)):
        assert max(rgb_at(second, (x, y))) <= 16, (x, y)  # black (JPEG in the PDF: ±)
    assert min(rgb_at(second, (250, 150))) >= 230  # outside: white paper
    assert min(rgb_at(rendered[0], (140, 70))) >= 230  # page 1 had no box there
    document = pdfium.PdfDocument(copy.data)
    assert document[0].get_textpage().get_text_range() == ""  # no text layer survives
