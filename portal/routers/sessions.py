"""The committee sessions in the portal (workflows/committee.py, R20, R27, docs/committee.md):

- the supervisor (`/supervisor/sessions`): the round's sessions, and a new one drawn from the
  expert pool (with a confirmation: the draw cannot be undone);
- the committee secretary (`/committee/sessions/{id}`): the composition with names, each
  seat's answer and sign-in, the quorum, opening (attendance freezes), the ballots' progress
  (how many voted, never how), closing, the tallies and the meeting record;
- each drawn expert (`/expert`, `/expert/sessions/{id}`), with their own `expert` account:
  confirm or decline the seat, sign in declaring conflicts, then each declaration they may
  vote on — its blind dossier (R11) and a secret ballot, cast once.

Names of the drawn experts are shown only to the supervisor and the secretary (the workflow
holds pool codes); other roles get 403 on every page here, and an expert sees a session only
if they were drawn for it. No page says how a member voted: the ballot box does not know.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from client.committee import cast_ballot, round_sessions, start_session
from client.rounds import running_round_config
from models.committee import Choice, SessionInput, SessionState, SessionStatus
from models.common import Actor, Role, Stage
from models.validation import strictly
from portal.context import Portal, Refusal, actor_id_of, log
from portal.deps import (
    CheckedForm,
    CommitteePage,
    CurrentExpert,
    ExpertPage,
    OverseerPage,
    Page,
    PortalDep,
    SessionReaderPage,
    SupervisorPage,
)
from portal.dossier import dossier
from portal.feedback import Confirmation, confirm_page, confirmed, done_text
from portal.materials import materials_with_files, read_held
from portal.routers.evaluation import shanghai_input
from portal.routers.files import add_blind_routes, material_views
from portal.security import blind_code
from rules.identity import committee_session_workflow_id
from rules.timezone import shanghai_date
from store import ballots, experts
from store.ballots import BallotRefused
from store.tables import DeclarationRow

router = APIRouter()

CHOICES_ZH = {Choice.yes: "同意", Choice.no: "不同意", Choice.abstain: "弃权"}
STATUS_ZH = {
    SessionStatus.drawing: "正在抽取",
    SessionStatus.confirming: "已抽取，等待确认和签到",
    SessionStatus.open: "会议进行中（投票中）",
    SessionStatus.closing: "已闭会，正在计票",
    SessionStatus.closed: "已闭会",
    SessionStatus.failed: "未能抽取",
}
BALLOT_REFUSALS_ZH = {
    BallotRefused.NO_SESSION: "会议尚未开始，暂不能投票。",
    BallotRefused.CLOSED: "会议已闭会，不能再投票（不得事后补投）。",
    BallotRefused.NOT_A_VOTER: "您不能对这份申报投票：未签到，或已申报回避。",
    BallotRefused.ALREADY_VOTED: "您已对这份申报投过票，每人每份申报只能投一票，投票后不能更改。",
}


def this_year() -> int:
    return shanghai_date(datetime.now(UTC)).year


def session_path(state: SessionState) -> str:
    return f"/committee/sessions/{state.workflow_id}"


def codes_of(portal: Portal, state: SessionState) -> dict[str, str]:
    """Each session declaration's anonymous code (R11), the same the evaluation body sees."""
    return {wf: blind_code(wf, portal.secret) for wf in state.declarations}


async def levels_of(portal: Portal, workflow_ids: list[str]) -> dict[str, str]:
    rows = await portal.rows(DeclarationRow.workflow_id.in_(workflow_ids))
    return {row.workflow_id: row.level for row in rows}


async def session_of(portal: Portal, workflow_id: str) -> SessionState:
    if not workflow_id.startswith("committee-"):
        raise HTTPException(404, "没有这个评审会议")
    try:
        return await portal.session(workflow_id)
    except Refusal:
        raise HTTPException(404, "没有这个评审会议") from None


async def progress_of(portal: Portal, state: SessionState) -> dict[str, tuple[int, int]]:
    """Per declaration: how many of those who may vote on it have voted (never how)."""
    if state.status in (SessionStatus.drawing, SessionStatus.confirming, SessionStatus.failed):
        return {}
    register = await ballots.participation(portal.engine(), state.workflow_id)
    return {wf: (sum(voted.values()), len(voted)) for wf, voted in register.items()}


# --- the supervisor ------------------------------------------------------------------------


async def supervisor_sessions_page(
    page: Page, year: int, refusal: Refusal | None = None, form: dict[str, str] | None = None
) -> HTMLResponse:
    portal = page.portal
    sessions = await round_sessions(await portal.temporal(), portal.engine(), year)
    config = await running_round_config(await portal.temporal(), year)
    context = {
        "year": year,
        "sessions": sessions,
        "status_zh": STATUS_ZH,
        "minimum": config.committee_minimum_members if config else None,
        "running": config is not None,
        "form": form or {},
        "next_session": f"{year}-{len(sessions) + 1:02d}",
        "notice": done_text(page.request),
        "can_draw": page.account.role == Role.supervisor.value,
    }
    return page.render("supervisor_sessions.html", context, refusal)


@router.get("/supervisor/sessions", response_class=HTMLResponse)
async def supervisor_sessions(page: OverseerPage, year: int | None = None) -> Response:
    return await supervisor_sessions_page(page, year or this_year())


@router.post("/supervisor/sessions", response_class=HTMLResponse)
async def supervisor_draw_session(page: SupervisorPage, form: CheckedForm) -> Response:
    """A new session: the members and alternates are drawn at once (R27)."""
    portal = page.portal
    try:
        year = int(form.get("year", ""))
    except ValueError:
        raise HTTPException(400, "year") from None
    config = await running_round_config(await portal.temporal(), year)
    if config is None:
        refusal = Refusal(f"{year}年度评审轮次未在运行，不能组织评审会议。", "no round", 409)
        return await supervisor_sessions_page(page, year, refusal, form)
    try:
        session = strictly(
            SessionInput,
            {
                "year": year,
                "session_id": form.get("session_id", "").strip(),
                "members": int(form.get("members") or 0),
                "alternates": int(form.get("alternates") or 0),
                "minimum_members": config.committee_minimum_members,
                "quorum_ratio": config.quorum_ratio.model_dump(),
                "pass_ratio": config.pass_ratio.model_dump(),
                "specialty": form.get("specialty", "").strip() or None,
                "place": form.get("place", "").strip() or None,
                "held_at": shanghai_input(form["held_at"]) if form.get("held_at") else None,
                "requested_by": Actor(
                    role=Role.supervisor, id=actor_id_of(page.account)
                ).model_dump(),
            },
        )
    except (ValueError, TypeError) as exc:
        text = (
            "会议编号须为字母、数字和“-”；委员人数须为奇数且不少于本轮次规定的最少人数；"
            "会议时间须为有效的日期和时间（北京时间）。"
        )
        return await supervisor_sessions_page(page, year, Refusal(text, str(exc), 400), form)
    if not confirmed(form):
        ask = Confirmation(
            f"抽取评审会议{session.session_id}的委员",
            f"将从专家库随机抽取委员{session.members}名、候补{session.alternates}名，抽取结果"
            "和随机种子一经产生即记录在案，不能重新抽取；被抽取的专家将收到确认通知。"
            "抽取名单在会议开始前仅人力资源服务中心和评审委员会秘书可见。",
            "确认抽取",
            f"/supervisor/sessions?year={year}",
        )
        return confirm_page(page, "/supervisor/sessions", form, ask)
    try:
        await start_session(
            await portal.temporal(), portal.engine(), session, portal.settings.task_queue
        )
    except WorkflowAlreadyStartedError:
        refusal = Refusal(f"会议{session.session_id}已经抽取过，不能重复抽取。", "exists", 409)
        return await supervisor_sessions_page(page, year, refusal, form)
    except RPCError as exc:
        log.warning("committee session %s: %s", session.session_id, exc)
        refusal = Refusal("系统暂时无法办理，请稍后重试。", type(exc).__name__, 503)
        return await supervisor_sessions_page(page, year, refusal, form)
    workflow_id = committee_session_workflow_id(year, session.session_id)
    return RedirectResponse(f"/committee/sessions/{workflow_id}?done=draw_session", 303)


# --- the secretary (and the supervisor, reading) -------------------------------------------


async def secretary_page(
    page: Page, state: SessionState, refusal: Refusal | None = None
) -> HTMLResponse:
    portal = page.portal
    codes = codes_of(portal, state)
    context = {
        "s": state,
        "names": await experts.expert_names(portal.engine(), [seat.code for seat in state.seats]),
        "codes": codes,
        "levels": await levels_of(portal, state.declarations),
        "progress": await progress_of(portal, state),
        "status_zh": STATUS_ZH,
        "can_act": page.account.role == Role.committee.value,
        "record": (portal.settings.archive_dir / state.record_file).exists()
        if state.record_file
        else False,
        "notice": done_text(page.request),
    }
    return page.render("committee_session.html", context, refusal)


@router.get("/committee/sessions/{workflow_id}", response_class=HTMLResponse)
async def committee_session(workflow_id: str, page: SessionReaderPage) -> Response:
    return await secretary_page(page, await session_of(page.portal, workflow_id))


@router.post("/committee/sessions/{workflow_id}/{action}", response_class=HTMLResponse)
async def committee_session_act(
    workflow_id: str, action: str, page: CommitteePage, form: CheckedForm
) -> Response:
    """The secretary opens (attendance freezes) or closes (no ballot after it) the session."""
    if action not in ("open", "close"):
        raise HTTPException(404, "没有这项操作")
    state = await session_of(page.portal, workflow_id)
    if not confirmed(form):
        signed_in, members = len(state.signed_in), len(state.members)
        asks = {
            "open": Confirmation(
                "开会",
                f"现已签到{signed_in}人（委员{members}人，须至少{state.required_attendance}人）。"
                "开会后签到名单即固定：未签到的委员不能投票，不得委托他人投票；每名委员只能对"
                "其未回避的申报投票。",
                "确认开会",
                session_path(state),
            ),
            "close": Confirmation(
                "闭会",
                "闭会后不再接受任何投票（不得事后补投）；系统随即计票，表决结果送交各申报，"
                "通过的进入评审结果公示，并生成评审会议记录存档。",
                "确认闭会",
                session_path(state),
            ),
        }
        return confirm_page(page, f"{session_path(state)}/{action}", form, asks[action])
    try:
        await page.portal.send_session(
            page.account, workflow_id, action, {}, request_token=form.get("request_token")
        )
    except Refusal as refusal:
        return await secretary_page(page, state, refusal)
    done = "session_opened" if action == "open" else "session_closed"
    return RedirectResponse(f"{session_path(state)}?done={done}", 303)


@router.get("/committee/sessions/{workflow_id}/record.pdf")
async def committee_session_record(workflow_id: str, page: SessionReaderPage) -> Response:
    """The archived meeting record (R27): the secretary and the supervisor only."""
    state = await session_of(page.portal, workflow_id)
    if not state.record_file:
        raise HTTPException(404, "会议记录尚未生成")
    path = page.portal.settings.archive_dir / state.record_file
    if not path.is_file():
        raise HTTPException(404, "会议记录尚未生成")
    return FileResponse(path, media_type="application/pdf", filename=state.record_file)


# --- the drawn expert ------------------------------------------------------------------------


NO_EXPERT_CODE = "您的账号尚未绑定专家库编号，请联系人力资源服务中心。"


def own_code(page: Page) -> str:
    code = page.account.expert_code
    if not code:
        raise HTTPException(403, NO_EXPERT_CODE)
    return str(code)


async def own_session(page: Page, workflow_id: str) -> SessionState:
    """The session, if this expert was drawn for it (404 otherwise: nothing is said of it)."""
    state = await session_of(page.portal, workflow_id)
    if state.seat(own_code(page)) is None:
        raise HTTPException(404, "没有这个评审会议")
    return state


def not_open_refusal(state: SessionState) -> str | None:
    """The ballot box's reason when the session takes no ballot now (before open, after close)."""
    if state.status is SessionStatus.open:
        return None
    if state.status in (SessionStatus.closing, SessionStatus.closed):
        return BallotRefused.CLOSED
    return BallotRefused.NO_SESSION


def may_vote(state: SessionState, code: str, workflow_id: str) -> bool:
    seat = state.seat(code)
    return (
        state.status is SessionStatus.open
        and seat is not None
        and seat.signed_in_at is not None
        and workflow_id in state.declarations
        and not state.recused(code, workflow_id)
    )


@router.get("/expert", response_class=HTMLResponse)
async def expert_home(page: ExpertPage) -> Response:
    if not page.account.expert_code:
        refusal = Refusal(NO_EXPERT_CODE, "no expert code", 200)  # their home, after login
        return page.render("expert.html", {"sessions": [], "code": None}, refusal)
    code = own_code(page)
    portal = page.portal
    sessions = []
    # the newest years that have sessions (an expert sits in this year's, perhaps last year's)
    for year in (await ballots.session_years(portal.engine()))[:3]:
        for state in await round_sessions(await portal.temporal(), portal.engine(), year):
            if state.seat(code) is not None:
                sessions.append(state)
    context = {"sessions": sessions, "code": code, "status_zh": STATUS_ZH}
    return page.render("expert.html", context)


async def expert_page(
    page: Page, state: SessionState, refusal: Refusal | None = None
) -> HTMLResponse:
    portal = page.portal
    code = own_code(page)
    codes = codes_of(portal, state)
    voted = (
        (await ballots.participation(portal.engine(), state.workflow_id))
        if (state.status is not SessionStatus.confirming)
        else {}
    )
    context = {
        "s": state,
        "seat": state.seat(code),
        "code": code,
        "codes": codes,
        "levels": await levels_of(portal, state.declarations),
        "voted": {wf: register.get(code, False) for wf, register in voted.items()},
        "may_vote": {wf: may_vote(state, code, wf) for wf in state.declarations},
        "status_zh": STATUS_ZH,
        "choices_zh": CHOICES_ZH,
        "notice": done_text(page.request),
    }
    return page.render("expert_session.html", context, refusal)


@router.get("/expert/sessions/{workflow_id}", response_class=HTMLResponse)
async def expert_session(workflow_id: str, page: ExpertPage) -> Response:
    return await expert_page(page, await own_session(page, workflow_id))


@router.post("/expert/sessions/{workflow_id}/answer", response_class=HTMLResponse)
async def expert_answer(workflow_id: str, page: ExpertPage, form: CheckedForm) -> Response:
    """Confirm the seat, or decline it (R27: the next alternate steps in)."""
    state = await own_session(page, workflow_id)
    accept = form.get("accept") == "yes"
    if not accept and not confirmed(form):
        ask = Confirmation(
            "谢绝参加本次评审会议",
            "谢绝后，您的席位将按抽取顺序由候补委员递补，不能撤回，您也不能再签到参加本次会议。",
            "确认谢绝",
            f"/expert/sessions/{workflow_id}",
        )
        return confirm_page(page, f"/expert/sessions/{workflow_id}/answer", form, ask)
    try:
        await page.portal.send_session(
            page.account,
            workflow_id,
            "answer_seat",
            {"accept": accept},
            request_token=form.get("request_token"),
        )
    except Refusal as refusal:
        return await expert_page(page, state, refusal)
    done = "confirm_seat" if accept else "decline_seat"
    return RedirectResponse(f"/expert/sessions/{workflow_id}?done={done}", 303)


@router.post("/expert/sessions/{workflow_id}/sign-in", response_class=HTMLResponse)
async def expert_sign_in(workflow_id: str, page: ExpertPage, form: CheckedForm) -> Response:
    """Sign in to the session, declaring conflicts by the declarations' anonymous codes."""
    state = await own_session(page, workflow_id)
    by_code = {code: wf for wf, code in codes_of(page.portal, state).items()}
    declared = [str(v) for v in (await page.request.form()).getlist("conflict")]
    unknown = [code for code in declared if code not in by_code]
    if unknown:
        refusal = Refusal("申报回避的申报不属于本次会议。", f"unknown codes {unknown}", 400)
        return await expert_page(page, state, refusal)
    try:
        await page.portal.send_session(
            page.account,
            workflow_id,
            "sign_in",
            {"conflicts": [by_code[code] for code in declared]},
            request_token=form.get("request_token"),
        )
    except Refusal as refusal:
        return await expert_page(page, state, refusal)
    return RedirectResponse(f"/expert/sessions/{workflow_id}?done=sign_in", 303)


async def voter_declaration(
    workflow_id: str, code: str, portal: PortalDep, account: CurrentExpert
) -> Any:
    """The declaration behind `code` in the expert's open session, if they may vote on it:
    signed in, not recused (R27: a recused member sees neither its dossier nor a ballot).
    A member who signed in is told when the session is not open yet or closed already."""
    state = await session_of(portal, workflow_id)
    seat = state.seat(str(account.expert_code or ""))
    for declaration in state.declarations:
        if hmac.compare_digest(blind_code(declaration, portal.secret), code):
            if seat is not None and seat.signed_in_at is not None:
                not_open = not_open_refusal(state)
                if not_open is not None:
                    raise HTTPException(409, BALLOT_REFUSALS_ZH[not_open])
            if not may_vote(state, str(account.expert_code or ""), declaration):
                break
            row = await portal.row(declaration)
            if row is not None and row.stage == Stage.committee.value:
                return row
    raise HTTPException(404, "没有这份申报")


VoterDeclaration = Annotated[Any, Depends(voter_declaration)]


@router.get("/expert/sessions/{workflow_id}/declarations/{code}", response_class=HTMLResponse)
async def expert_declaration(
    workflow_id: str, code: str, page: ExpertPage, row: VoterDeclaration
) -> Response:
    """The blind dossier (R11) and the ballot of one declaration."""
    portal = page.portal
    state = await own_session(page, workflow_id)
    try:
        current = await portal.state(row.workflow_id)
        held = await read_held(portal, row.workflow_id)
    except Refusal as unavailable:
        return await expert_page(page, state, unavailable)
    register = await ballots.participation(portal.engine(), workflow_id)
    base = f"/expert/sessions/{workflow_id}/declarations/{code}"
    item = {
        "code": code,
        "round_year": row.round_year,
        "defense_score": current.defense_score,
        "defense_exempt": current.defense_exempt,
        "dossier": dossier(held.declaration, blind=True),
        "materials": material_views(
            await materials_with_files(portal, row, held), f"{base}/materials", blind_as=code
        ),
    }
    context = {
        "item": item,
        "s": state,
        "voted": register.get(row.workflow_id, {}).get(own_code(page), False),
        "choices_zh": CHOICES_ZH,
        "ballot_action": f"{base}/ballot",
    }
    return page.render("expert_declaration.html", context)


add_blind_routes(
    router,
    "/expert/sessions/{workflow_id}/declarations/{code}/materials",
    CurrentExpert,
    VoterDeclaration,
)


@router.post(
    "/expert/sessions/{workflow_id}/declarations/{code}/ballot", response_class=HTMLResponse
)
async def expert_ballot(
    workflow_id: str, code: str, page: ExpertPage, row: VoterDeclaration, form: CheckedForm
) -> Response:
    """A secret ballot (无记名投票), once: to the ballot box, not to the workflow."""
    state = await own_session(page, workflow_id)
    try:
        choice = Choice(form.get("choice", ""))
    except ValueError:
        refusal = Refusal("请选择同意、不同意或弃权。", "no choice", 400)
        return await expert_page(page, state, refusal)
    if not confirmed(form):
        ask = Confirmation(
            f"对申报{code}投「{CHOICES_ZH[choice]}」票",
            "投票为无记名投票，提交后不能更改或撤回；系统只记录您已投票，不记录您投了什么。",
            "确认投票",
            f"/expert/sessions/{workflow_id}/declarations/{code}",
        )
        return confirm_page(
            page, f"/expert/sessions/{workflow_id}/declarations/{code}/ballot", form, ask
        )
    try:
        await cast_ballot(
            page.portal.engine(), workflow_id, own_code(page), row.workflow_id, choice
        )
    except BallotRefused as refused:
        refusal = Refusal(BALLOT_REFUSALS_ZH[refused.reason], refused.reason, 409)
        return await expert_page(page, state, refusal)
    return RedirectResponse(f"/expert/sessions/{workflow_id}?done=ballot", 303)
