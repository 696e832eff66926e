"""The meeting record of a committee session (评审会议记录, R27): who was drawn, who confirmed,
declined, stepped in and signed in, the recusals per declaration, each declaration's tally
(yes, no, abstain, not cast, and the result), who opened and closed the session and when,
and the draw's seed and pool digest. Archived with the session (`archive_dir`), shown to the
supervisor, the committee secretary and the observer, never to applicants; declarations
appear by their 申报编号 only (the committee reviewed them blind, R11).

Rendered with the documents' engine (documents/render.py: the same fonts and renderer
process)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from markupsafe import Markup

from documents.render import environment, fonts_for, render_pdf
from models.committee import SessionState
from rules.timezone import cn_datetime
from settings import Settings
from store.files import synced_temporary

REASON_ZH = {
    "employer": "现或近三年工作单位相同",
    "relation": "申报关系人",
    "declared": "签到时自行申报",
}
RESPONSE_ZH = {"pending": "未答复", "confirmed": "已确认", "declined": "已谢绝"}


def meeting_record_html(
    state: SessionState,
    names: dict[str, str],
    numbers: dict[str, str | None],
    voted: dict[str, dict[str, bool]],
    settings: Settings,
) -> str:
    template = environment.get_template("meeting_record.html.j2")
    fonts = {name: Markup(value) for name, value in asdict(fonts_for(settings.font_dir)).items()}

    def label(workflow_id: str) -> str:
        return numbers.get(workflow_id) or workflow_id

    return template.render(
        session=state,
        names=names,
        label=label,
        voted=voted,
        reason_zh=REASON_ZH,
        response_zh=RESPONSE_ZH,
        when=lambda at: cn_datetime(at) if at else "—",
        issuing_authority=settings.issuing_authority,
        fonts=fonts,
        font_css=fonts["css"],
    )


async def meeting_record_pdf(
    state: SessionState,
    names: dict[str, str],
    numbers: dict[str, str | None],
    voted: dict[str, dict[str, bool]],
    settings: Settings,
) -> bytes:
    return await render_pdf(meeting_record_html(state, names, numbers, voted, settings))


def record_file_name(session_workflow_id: str) -> str:
    return f"{session_workflow_id}-meeting-record.pdf"


def archive_meeting_record(archive_dir: Path, session_workflow_id: str, pdf: bytes) -> str:
    """Write the record once (a retry finds it there and leaves it); its file name."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    name = record_file_name(session_workflow_id)
    target = archive_dir / name
    if not target.exists():
        temporary = synced_temporary(archive_dir, pdf)
        try:
            temporary.replace(target)
        finally:
            temporary.unlink(missing_ok=True)
    return name
