"""The notice the round follows (the 2025 notice, docs/notice/), readable by anyone: the
applicant's home links to it. The newest notice file is shown as it was published."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from portal.deps import PortalDep

NOTICES = Path(__file__).resolve().parents[2] / "docs" / "notice"

router = APIRouter()


@cache
def newest_notice() -> tuple[str, str]:
    """(year, text) of the newest notice file, docs/notice/{year}.txt."""
    path = max(NOTICES.glob("*.txt"))
    return path.stem, path.read_text(encoding="utf-8")


@router.get("/notice", response_class=HTMLResponse)
async def notice(request: Request, portal: PortalDep) -> Response:
    year, text = newest_notice()
    context = {"year": year, "text": text, "account": None}
    return portal.render(request, "notice.html", context)
