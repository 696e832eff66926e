"""How the portal hands out a stored file (portal/uploads.py) to a reviewer: as a download,
and, to be read on the page, as its pages one PNG image each (`<img>`).

The inline viewer shows page images rendered here (PDF pages at the masking tool's 100 dpi,
an image decoded and re-encoded): a page is pixels only, whatever the file held (no script,
no text layer, no metadata), and it needs nothing of the Content-Security-Policy but its
`img-src 'self'` (portal/middleware.py). No file is framed or handed to the browser's PDF
viewer: the pages keep `frame-ancestors 'none'` and `object-src 'none'`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import HTTPException
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from portal.uploads import SUFFIXES, StoredUpload, UploadConfig, page_image, png_bytes, read_upload

NOT_SHARED = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class ViewedFile:
    """A stored file as a page shows it: its upload, the name a download gets, and where
    its download and its pages are served (the route of the role that may see it)."""

    upload: StoredUpload
    file_name: str  # without the suffix
    url: str  # the download; its pages are {url}/pages/{index}

    @property
    def suffix(self) -> str:
        return SUFFIXES.get(self.upload.media_type, "bin")

    @property
    def pages(self) -> range:
        return range(self.upload.pages)


def disposition(file_name: str) -> str:
    """A download's Content-Disposition; `file_name` may be Chinese (RFC 6266 filename*)."""
    fallback = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in file_name)
    if fallback == file_name:  # plain ASCII (an anonymous code's): said once
        return f'attachment; filename="{file_name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name)}"


def download(data: bytes, media_type: str, file_name: str) -> Response:
    """Bytes as a download named `file_name`, never cached."""
    headers = NOT_SHARED | {"Content-Disposition": disposition(file_name)}
    return Response(data, media_type=media_type, headers=headers)


async def file_download(uploads: UploadConfig, viewed: ViewedFile) -> Response:
    """The stored file itself, as a download."""
    data = await run_in_threadpool(read_upload, uploads.directory, viewed.upload.sha256)
    return download(data, viewed.upload.media_type, f"{viewed.file_name}.{viewed.suffix}")


async def page_png(uploads: UploadConfig, upload: StoredUpload | None, index: int) -> Response:
    """Page `index` (0-based) of a stored file as a PNG image; 404 without such a page."""
    if upload is None or not 0 <= index < upload.pages:
        raise HTTPException(404, "没有这一页")
    data = await run_in_threadpool(read_upload, uploads.directory, upload.sha256)
    image = await run_in_threadpool(page_image, data, upload.media_type, index)
    return Response(
        await run_in_threadpool(png_bytes, image), media_type="image/png", headers=NOT_SHARED
    )
