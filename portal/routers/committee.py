"""The committee secretary's pages (评审委员会秘书, R20), on the round's workflow `round-{year}`.

- `/committee?year=Y`: the committee's composition, its sessions (attendance, quorum,
  valid or not), the vote operations and result-publicity batches so far; open a session
  with its attendance (`open_session`: fewer than 2/3 of the members present makes a session
  that is recorded as not valid and takes no votes); enter the votes of a valid session.
- Votes go through a preview: `POST /committee/votes/preview` shows each declaration's R20
  tally (rules.committee.tally_vote: attendance against the quorum, yes votes against 2/3 of
  those attending) before anything is recorded; its confirm button carries the same data to
  `POST /committee/votes`, which sends the round's `committee_votes` update.
- Votes per declaration follow models.round.Vote: the yes votes. Against and abstentions may
  be entered too, as a check of the count: given, yes + against + abstain must equal the
  members attending (each casts one ballot); only the yes votes are sent.

- `/committee/declarations/{code}`: the blind dossier of a declaration waiting for the
  committee, linked from the vote pages: the form's answers without the applicant part, the
  achievements, continuing education or its exemption, the village route, the defense and
  its score (portal/dossier.py), the masked materials viewable on the page
  (`/committee/declarations/{code}/materials/{n}`, portal/routers/files.py).
- Recording the votes is confirmed: `POST /committee/votes` without `confirmed=yes` answers
  with the preview again, its consequence said and a checkbox to tick (portal/feedback.py).

Blind like the evaluation body's view (R11): declarations appear by their anonymous code
(portal.security.blind_code, the same code the evaluation body sees), level and defense
score; the codes are mapped back to workflows on the server. Default year: the newest round
year with declarations waiting for the committee, else this year (Asia/Shanghai).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from client.committee import round_sessions
from client.rounds import round_state
from models.common import Stage
from models.round import CommitteeSession, OperationKind, RoundState
from portal.blind import blind_refusal
from portal.context import QUERY_TIMEOUT, Portal, Refusal, log
from portal.deps import CheckedForm, CommitteeDeclaration, CommitteePage, CurrentCommittee, Page
from portal.dossier import dossier
from portal.feedback import confirmed, done_text, votes_confirmation
from portal.materials import materials_with_files, read_held
from portal.routers.files import add_blind_routes, material_views
from portal.security import blind_code
from rules.committee import tally_vote
from rules.timezone import shanghai_date
from store.tables import DeclarationRow

router = APIRouter()

BALLOTS = ("yes", "against", "abstain")


def parse_count(value: str | None) -> int | None:
    """A vote count from the form: None when blank; ValueError when not a whole number ≥ 0."""
    text = (value or "").strip()
    if not text:
        return None
    count = int(text)
    if count < 0:
        raise ValueError(text)
    return count


async def year_of(page: Page, form: dict[str, str] | None = None) -> int:
    given = (form or {}).get("year") or page.request.query_params.get("year")
    if given:
        try:
            return int(given)
        except ValueError:
            raise HTTPException(400, "year") from None
    waiting = await page.portal.rows(DeclarationRow.stage == Stage.committee.value)
    if waiting:
        return max(r.round_year for r in waiting)
    return shanghai_date(datetime.now(UTC)).year


async def round_of(portal: Portal, year: int) -> RoundState:
    try:
        return await round_state(await portal.temporal(), year, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError, RuntimeError) as exc:
        log.info("round %s: %s", year, exc)
        raise Refusal(
            f"{year}年度评审轮次未启动或暂时无法读取。", type(exc).__name__, 404
        ) from None


async def waiting(portal: Portal, year: int) -> list[dict[str, Any]]:
    """The year's declarations waiting for the committee, blind."""
    rows = await portal.rows(
        DeclarationRow.stage == Stage.committee.value, DeclarationRow.round_year == year
    )
    items = [
        {
            "code": blind_code(r.workflow_id, portal.secret),
            "workflow_id": r.workflow_id,  # server side only, never rendered
            "level": r.level,
            "jurisdiction": r.jurisdiction,
        }
        for r in rows
    ]
    items.sort(key=lambda i: (i["level"], i["code"]))
    for item in items:
        try:
            item["defense_score"] = (await portal.state(item["workflow_id"])).defense_score
        except Refusal:
            item["defense_score"] = None
    return items


async def committee_page(page: Page, year: int, refusal: Refusal | None = None) -> HTMLResponse:
    portal = page.portal
    state, missing = None, None
    try:
        state = await round_of(portal, year)
    except Refusal as unavailable:  # said on the page, not as a refusal of an action
        missing = unavailable.text
    years = sorted({r.round_year for r in await portal.rows()} | {year}, reverse=True)
    progress = state.progress if state else None
    members = progress.committee.members if progress and progress.committee else []
    required = None
    if state and members:
        required = tally_vote(
            len(members), 0, 0, state.config.quorum_ratio, state.config.pass_ratio
        ).required_attendance
    operations = [
        op for op in (progress.operations if progress else [])
        if op.kind is OperationKind.committee_votes
    ]  # fmt: skip
    context = {
        "year": year,
        "years": years,
        "state": state,
        "missing": missing,
        "members": members,
        "required_attendance": required,
        "sessions": progress.sessions if progress else [],
        "valid_sessions": [s for s in progress.sessions if s.valid] if progress else [],
        "operations": operations,
        "batches": progress.batches if progress else [],
        "items": await waiting(portal, year),
        "next_session": f"{year}-{len(progress.sessions) + 1 if progress else 1}",
        "notice": done_text(page.request),
        # the sessions drawn from the expert pool (portal/routers/sessions.py)
        "drawn": await round_sessions(await portal.temporal(), portal.engine(), year),
    }
    blind = blind_refusal(refusal, portal.secret) if refusal else None
    return page.render("committee.html", context, blind)


@router.get("/committee", response_class=HTMLResponse)
async def committee_home(page: CommitteePage) -> Response:
    return await committee_page(page, await year_of(page))


@router.get("/committee/declarations/{code}", response_class=HTMLResponse)
async def committee_declaration(
    page: CommitteePage, row: CommitteeDeclaration, code: str
) -> Response:
    """The blind dossier of a declaration waiting for the committee (R11, R20)."""
    portal = page.portal
    try:
        state = await portal.state(row.workflow_id)
        held = await read_held(portal, row.workflow_id)
    except Refusal as unavailable:
        return await committee_page(page, row.round_year, unavailable)
    files = await materials_with_files(portal, row, held)
    item = {
        "code": code,
        "round_year": row.round_year,
        "defense_score": state.defense_score,
        "defense_exempt": state.defense_exempt,
        "dossier": dossier(held.declaration, blind=True),
        "materials": material_views(
            files, f"/committee/declarations/{code}/materials", blind_as=code
        ),
    }
    return page.render("committee_declaration.html", {"item": item})


add_blind_routes(
    router, "/committee/declarations/{code}/materials", CurrentCommittee, CommitteeDeclaration
)


@router.post("/committee/sessions", response_class=HTMLResponse)
async def committee_open_session(page: CommitteePage, form: CheckedForm) -> Response:
    year = await year_of(page, form)
    attending = [str(v) for v in (await page.request.form()).getlist("attending")]
    data = {"session_id": form.get("session_id", "").strip(), "attending": attending}
    try:
        await page.portal.send_round(
            page.account, year, "open_session", data, request_token=form.get("request_token")
        )
    except Refusal as refusal:
        return await committee_page(page, year, refusal)
    return RedirectResponse(f"/committee?year={year}&done=open_session", 303)


def ballots(
    form: dict[str, str], session: CommitteeSession, state: RoundState, items: list[Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each declaration with a yes count in the form: its ballots and R20 tally; and what
    is wrong with the counts (in Chinese), if anything."""
    members, attending = len(session.members), len(session.attending)
    rows, problems = [], []
    known = {item["code"] for item in items}
    for name, value in form.items():
        code = name.removeprefix("yes_")
        if name.startswith("yes_") and value.strip() and code not in known:
            problems.append(f"{code}：该申报已不在评审委员会评议阶段。")
    for item in items:
        try:
            counts = {b: parse_count(form.get(f"{b}_{item['code']}")) for b in BALLOTS}
        except ValueError:
            problems.append(f"{item['code']}：票数须为不小于0的整数。")
            continue
        if counts["yes"] is None:
            if counts["against"] is not None or counts["abstain"] is not None:
                problems.append(f"{item['code']}：请填写同意票数。")
            continue
        given = [c for c in counts.values() if c is not None]
        if len(given) > 1 and sum(given) != attending:
            problems.append(
                f"{item['code']}：同意、反对、弃权票合计{sum(given)}，与出席人数{attending}不符。"
            )
            continue
        try:
            tally = tally_vote(
                members,
                attending,
                counts["yes"],
                state.config.quorum_ratio,
                state.config.pass_ratio,
            )
        except ValueError:
            problems.append(f"{item['code']}：同意票数不能超过出席人数{attending}。")
            continue
        rows.append(item | counts | {"tally": tally})
    if not rows and not problems:
        problems.append("请至少为一份申报填写同意票数。")
    return rows, problems


async def counted_votes(
    portal: Portal, form: dict[str, str], year: int
) -> tuple[CommitteeSession, list[dict[str, Any]], list[str]]:
    """The (valid) session the form names, and the form's ballots for the declarations
    waiting with what is wrong with them (`ballots`); Refusal without such a session."""
    state = await round_of(portal, year)
    session_id = form.get("session_id", "")
    session = next(
        (s for s in state.progress.sessions if hmac.compare_digest(s.session_id, session_id)),
        None,
    )
    if session is None:
        raise Refusal("请选择已登记出席情况的会议。", f"no session {session_id!r}", 400)
    if not session.valid:
        raise Refusal(
            f"会议{session.session_id}出席人数不足，会议无效，不能表决（R20）。",
            f"{len(session.attending)} of {len(session.members)} attended, "
            f"{session.required_attendance} needed",
            400,
        )
    rows, problems = ballots(form, session, state, await waiting(portal, year))
    return session, rows, problems


@router.post("/committee/votes/preview", response_class=HTMLResponse)
async def committee_votes_preview(page: CommitteePage, form: CheckedForm) -> Response:
    """R20: the tally of each vote, shown before anything is recorded."""
    year = await year_of(page, form)
    try:
        session, rows, problems = await counted_votes(page.portal, form, year)
    except Refusal as uncounted:
        return await committee_page(page, year, uncounted)
    return preview_page(page, year, session, rows, problems)


def preview_page(
    page: Page,
    year: int,
    session: CommitteeSession,
    rows: list[dict[str, Any]],
    problems: list[str],
) -> HTMLResponse:
    """The votes' tally before they are recorded, with the confirmation to record them."""
    refusal = Refusal("；".join(problems), status=400) if problems else None
    ask = votes_confirmation(f"/committee?year={year}")
    context = {"year": year, "session": session, "rows": rows, "ask": ask}
    return page.render("committee_preview.html", context, refusal)


@router.post("/committee/votes", response_class=HTMLResponse)
async def committee_votes(page: CommitteePage, form: CheckedForm) -> Response:
    """The confirmed votes: the round's `committee_votes` update."""
    year = await year_of(page, form)
    try:
        session, rows, problems = await counted_votes(page.portal, form, year)
        if problems:
            raise Refusal("；".join(problems), status=400)
        if not confirmed(form):  # the preview again, the checkbox to tick
            return preview_page(page, year, session, rows, [])
        votes = [{"workflow_id": r["workflow_id"], "yes_votes": r["yes"]} for r in rows]
        data = {"session_id": session.session_id, "votes": votes}
        await page.portal.send_round(
            page.account,
            year,
            "committee_votes",
            data,
            request_token=form.get("request_token"),
        )
    except Refusal as refusal:
        return await committee_page(page, year, refusal)
    return RedirectResponse(f"/committee?year={year}&done=committee_votes", 303)
