"""The portal: server-rendered pages (Jinja2, Chinese) over the record database, acting on
declarations only through the Declaration workflow's updates (control.act).

Run: `uvicorn portal.app:app` (scripts/run.sh starts it beside the worker).
The actor sent to a workflow is always the logged-in account's role and id, never a form field.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware.sessions import SessionMiddleware
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

import control
from activities.db import get_engine
from models.common import (
    JURISDICTION_NAMES_ZH,
    LEVEL_NAMES_ZH,
    STAGE_NAMES_ZH,
    Jurisdiction,
    Level,
    Role,
    Stage,
)
from models.tables import DeclarationRow
from portal.accounts import find_account
from portal.security import LoginThrottle, blind_code, csrf_matches, new_csrf_token, verify_password
from settings import load_settings

log = logging.getLogger(__name__)
QUERY_TIMEOUT = timedelta(seconds=10)
UPDATE_TIMEOUT = timedelta(seconds=30)  # per phase: accepted by a worker, then recorded
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "portal"
TEMPORAL_UI = "http://localhost:8233"

ROLE_NAMES_ZH = {
    Role.applicant: "申报人",
    Role.employer: "用人单位",
    Role.competent_unit: "主管单位",
    Role.evaluation_body: "评审机构",
    Role.committee: "评审委员会秘书",
    Role.supervisor: "人力资源服务中心（监管）",
}
REFUSALS_ZH = {
    "WrongRole": "您的角色无权在此阶段办理该事项。",
    "WrongStage": "该申报当前所处阶段不能办理此事项（可能已被他人办理）。",
    "OutsideWindow": "不在规定的办理时间内（时间窗口尚未开放或已经截止）。",
    "Invalid": "提交的内容不符合要求。",
    "UnknownAction": "未知的办理事项。",
}
DEADLINE_NAMES_ZH = {
    "submission_closes_at": "申报截止",
    "review_opens_at": "评审机构审核开始",
    "review_closes_at": "评审机构审核截止",
    "publicity_ends_at": "单位公示结束",
    "correction_deadline": "补正截止（退回后48小时）",
    "payment_due_at": "缴费截止",
    "result_publicity_ends_at": "结果公示结束",
}
HOME = {
    Role.applicant: "/applicant",
    Role.employer: "/employer",
    Role.evaluation_body: "/evaluation",
    Role.supervisor: "/supervisor",
    Role.competent_unit: "/pending",
    Role.committee: "/pending",
}


class Refusal(Exception):
    """An action refused (by the workflow's validator, or by the payload check): a Chinese
    sentence for the page and the short English detail."""

    def __init__(self, text: str, detail: str = "", status: int = 409) -> None:
        super().__init__(text)
        self.text, self.detail, self.status = text, detail, status


def refusal_from(exc: BaseException) -> Refusal:
    cause = exc.__cause__ if isinstance(exc, WorkflowUpdateFailedError) else exc
    if isinstance(cause, ApplicationError):
        kind = cause.type or "Invalid"
        text = REFUSALS_ZH.get(kind, "操作被拒绝。")
        return Refusal(text, f"{kind}: {cause.message}")
    return Refusal("操作未能完成，请稍后重试。", type(exc).__name__, status=503)


def portal_secret() -> str:
    """PORTAL_SECRET signs the session cookie and keys the blind codes; without it, one is
    derived from the applicant-key secret (stable across restarts and processes)."""
    settings = load_settings()
    if settings.portal_secret:
        return settings.portal_secret
    base = settings.applicant_key_secret
    return hmac.new(base.encode(), b"zhicheng-portal", hashlib.sha256).hexdigest()


def create_app(
    *,
    client: Client | None = None,
    client_factory: Callable[[], Awaitable[Client]] | None = None,
    database_url: str | None = None,
    secret: str | None = None,
    https_only: bool = False,
    throttle: LoginThrottle | None = None,
) -> FastAPI:
    """The app. Tests pass their Temporal client and database; `app` below connects through
    settings.py (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DATABASE_URL) at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await temporal()
        except Exception as exc:  # Temporal not up yet (compose): connect on first use
            log.warning("Temporal not reachable at startup (%s); retrying on first use", exc)
        yield

    connecting = asyncio.Lock()

    async def temporal() -> Client:
        async with connecting:
            if app.state.client is None:
                app.state.client = await (client_factory or default_client)()
            return app.state.client

    app = FastAPI(title="职称评审 门户", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.client = client
    app.state.database_url = database_url
    app.state.secret = secret or portal_secret()
    app.state.throttle = throttle or LoginThrottle()
    app.add_middleware(
        SessionMiddleware,
        secret_key=app.state.secret,
        session_cookie="zhicheng_session",
        max_age=8 * 3600,
        same_site="lax",
        https_only=https_only or load_settings().portal_https_only,
    )  # Starlette signs it with itsdangerous and sets HttpOnly
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals.update(
        STAGE=lambda s: STAGE_NAMES_ZH.get(Stage(s), s) if s in Stage.__members__ else s,
        LEVEL=lambda v: LEVEL_NAMES_ZH.get(Level(v), v) if v in Level.__members__ else v,
        JURISDICTION=lambda v: (
            JURISDICTION_NAMES_ZH.get(Jurisdiction(v), v) if v in Jurisdiction.__members__ else v
        ),
        DEADLINE=lambda k: DEADLINE_NAMES_ZH.get(k, k),
        ROLE=lambda r: ROLE_NAMES_ZH.get(Role(r), r),
    )

    def engine() -> AsyncEngine:
        return get_engine(app.state.database_url)

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = new_csrf_token()
        return token

    def render(
        request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        context = {"csrf": csrf_token(request), "account": context.pop("account", None)} | context
        return templates.TemplateResponse(request, name, context, status_code=status)

    async def form_checked(request: Request) -> dict[str, str]:
        """The form, after its CSRF token matched the session's (403 otherwise)."""
        form = await request.form()
        if not csrf_matches(request.session.get("csrf"), form.get("csrf_token")):  # type: ignore[arg-type]
            raise HTTPException(403, "CSRF token missing or wrong")
        return {k: v for k, v in form.items() if isinstance(v, str)}

    async def current(request: Request, role: Role) -> Any:
        uid = request.session.get("uid")
        account = await find_account(engine(), id=uid) if uid is not None else None
        if account is None:
            raise HTTPException(303, headers={"Location": "/login"})
        if account.role != role.value:
            raise HTTPException(403, "这个页面不属于您的角色")
        return account

    async def send(account: Any, workflow_id: str, action: str, data: dict[str, Any]) -> None:
        """One update as the logged-in account (the actor from the session, never the form)."""
        try:
            payload = control.action_payload(
                action, Role(account.role), f"{account.role}:{account.username}", data
            )
        except control.InputError as exc:
            raise Refusal("填写的内容不完整或格式不对。", str(exc), status=400) from None
        try:
            await control.act(
                await temporal(),
                workflow_id,
                action,
                payload.model_dump(mode="json", exclude_none=True),
                timeout=UPDATE_TIMEOUT,
            )
        except WorkflowUpdateFailedError as exc:
            raise refusal_from(exc) from None
        except (control.ActionTimeout, RPCError, RuntimeError) as exc:  # no worker/Temporal
            log.warning("%s on %s: %s", action, workflow_id, exc)
            raise Refusal("系统暂时无法办理，请稍后重试。", type(exc).__name__, 503) from None

    async def rows(*where: Any) -> list[Any]:
        async with engine().connect() as conn:
            return list((await conn.execute(select(DeclarationRow.__table__).where(*where))).all())

    async def row(workflow_id: str) -> Any:
        async with engine().connect() as conn:
            table = DeclarationRow.__table__
            query = select(table).where(table.c.workflow_id == workflow_id)
            return (await conn.execute(query)).first()

    # --- login ---------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        uid = request.session.get("uid")
        account = await find_account(engine(), id=uid) if uid is not None else None
        if account is None:
            return RedirectResponse("/login", 303)
        return RedirectResponse(HOME[Role(account.role)], 303)

    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request) -> Response:
        return render(request, "login.html", {"error": None, "username": ""})

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await form_checked(request)
        username, password = form.get("username", "").strip(), form.get("password", "")
        address = request.client.host if request.client else "?"
        throttle: LoginThrottle = app.state.throttle
        if throttle.blocked(username, address):
            context = {"error": "登录失败次数过多，请15分钟后再试。", "username": username}
            return render(request, "login.html", context, status=429)
        account = await find_account(engine(), username=username)
        if not verify_password(account.password_hash if account else None, password):
            throttle.failed(username, address)
            context = {"error": "用户名或密码不正确。", "username": username}
            return render(request, "login.html", context, status=401)
        throttle.succeeded(username, address)
        request.session.clear()  # a fresh session (and CSRF token) at login
        request.session.update(uid=account.id, csrf=new_csrf_token())
        return RedirectResponse(HOME[Role(account.role)], 303)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await form_checked(request)
        request.session.clear()
        return RedirectResponse("/login", 303)

    # --- employer --------------------------------------------------------------------------

    async def employer_page(
        request: Request, account: Any, refusal: Refusal | None = None, target: str | None = None
    ) -> HTMLResponse:
        items = await rows(DeclarationRow.employer_uscc == account.employer_uscc)
        items.sort(key=lambda r: (Stage(r.stage).is_ending, r.updated_at))
        context = {"account": account, "items": items, "refusal": refusal, "target": target}
        return render(request, "employer.html", context, status=refusal.status if refusal else 200)

    @app.get("/employer", response_class=HTMLResponse)
    async def employer_queue(request: Request) -> Response:
        return await employer_page(request, await current(request, Role.employer))

    @app.post("/employer/{workflow_id}/{what}", response_class=HTMLResponse)
    async def employer_act(request: Request, workflow_id: str, what: str) -> Response:
        account = await current(request, Role.employer)
        form = await form_checked(request)
        found = await row(workflow_id)
        if found is None or found.employer_uscc != account.employer_uscc:
            raise HTTPException(404, "没有这份申报")
        if what == "approve":
            action, data = "start_publicity", {}
        elif what == "return":
            action, data = "employer_return", {"reason": form.get("reason", "").strip()}
        else:
            raise HTTPException(404)
        try:
            await send(account, workflow_id, action, data)
        except Refusal as refusal:
            return await employer_page(request, account, refusal, workflow_id)
        return RedirectResponse("/employer", 303)

    # --- evaluation body (blind view, R11) ----------------------------------------------------

    BLIND_STAGES = (Stage.evaluation_review, Stage.correction, Stage.payment, Stage.defense)

    async def blind_items() -> list[dict[str, Any]]:
        found = await rows(DeclarationRow.stage.in_([s.value for s in BLIND_STAGES]))
        items = [
            {  # only what a blind reviewer may see: nothing naming or locating the applicant
                "code": blind_code(r.workflow_id, app.state.secret),
                "workflow_id": r.workflow_id,  # for the server side only, never rendered
                "level": r.level,
                "jurisdiction": r.jurisdiction,
                "stage": r.stage,
                "return_count": r.return_count,
                "deadline": r.deadlines.get("review_closes_at", ""),
                "correction_deadline": r.deadlines.get("correction_deadline"),
            }
            for r in found
        ]
        items.sort(key=lambda i: (i["stage"] != Stage.evaluation_review, i["deadline"]))
        return items

    async def evaluation_page(
        request: Request, account: Any, refusal: Refusal | None = None, target: str | None = None
    ) -> HTMLResponse:
        context = {
            "account": account,
            "items": await blind_items(),
            "refusal": refusal,
            "target": target,
        }
        status = refusal.status if refusal else 200
        return render(request, "evaluation.html", context, status=status)

    @app.get("/evaluation", response_class=HTMLResponse)
    async def evaluation_queue(request: Request) -> Response:
        return await evaluation_page(request, await current(request, Role.evaluation_body))

    @app.post("/evaluation/{code}/{what}", response_class=HTMLResponse)
    async def evaluation_act(request: Request, code: str, what: str) -> Response:
        account = await current(request, Role.evaluation_body)
        form = await form_checked(request)
        item = next((i for i in await blind_items() if hmac.compare_digest(i["code"], code)), None)
        if item is None:
            raise HTTPException(404, "没有这份申报")
        if what == "accept":
            action, data = "accept_materials", {}
        elif what == "return":
            action, data = "return_for_correction", {"reason": form.get("reason", "").strip()}
        else:
            raise HTTPException(404)
        try:
            await send(account, item["workflow_id"], action, data)
        except Refusal as refusal:
            return await evaluation_page(request, account, refusal, code)
        return RedirectResponse("/evaluation", 303)

    # --- applicant ------------------------------------------------------------------------------

    async def applicant_page(
        request: Request, account: Any, refusal: Refusal | None = None
    ) -> HTMLResponse:
        found = await rows(DeclarationRow.applicant_key == account.applicant_key)
        found.sort(key=lambda r: r.round_year, reverse=True)
        declaration = found[0] if found else None
        state, return_reason, remaining = None, None, None
        if declaration is not None:
            try:
                state = await control.declaration_state(
                    await temporal(), declaration.workflow_id, rpc_timeout=QUERY_TIMEOUT
                )
            except (RPCError, RuntimeError, WorkflowQueryFailedError) as exc:
                log.warning("state of %s: %s", declaration.workflow_id, exc)
                unavailable = Refusal("暂时无法读取申报状态，请稍后刷新。", type(exc).__name__, 503)
                refusal = refusal or unavailable
        if state is None:
            declaration = None  # the page shows the table only with the workflow's state
        else:
            returns = [t for t in state.timeline if t.action == "return_for_correction"]
            return_reason = returns[-1].reason if returns else None
            due = state.deadlines.get("correction_deadline")
            if state.stage is Stage.correction and due:
                now = datetime.now(datetime.fromisoformat(due).tzinfo)
                seconds = max(0, int((datetime.fromisoformat(due) - now).total_seconds()))
                remaining = f"{seconds // 3600}小时{seconds % 3600 // 60}分钟"
        context = {
            "account": account,
            "declaration": declaration,
            "state": state,
            "return_reason": return_reason,
            "remaining": remaining,
            "refusal": refusal,
        }
        status = refusal.status if refusal else 200
        return render(request, "applicant.html", context, status=status)

    @app.get("/applicant", response_class=HTMLResponse)
    async def applicant_home(request: Request) -> Response:
        return await applicant_page(request, await current(request, Role.applicant))

    @app.post("/applicant/resubmit", response_class=HTMLResponse)
    async def applicant_resubmit(request: Request) -> Response:
        account = await current(request, Role.applicant)
        form = await form_checked(request)
        found = await rows(DeclarationRow.applicant_key == account.applicant_key)
        if not found:
            raise HTTPException(404, "没有您的申报")
        latest = max(found, key=lambda r: r.round_year)
        note = form.get("note", "").strip() or None
        try:
            await send(account, latest.workflow_id, "resubmit", {"note": note} if note else {})
        except Refusal as refusal:
            return await applicant_page(request, account, refusal)
        return RedirectResponse("/applicant", 303)

    # --- supervisor ------------------------------------------------------------------------------

    @app.get("/supervisor", response_class=HTMLResponse)
    async def supervisor(request: Request) -> Response:
        account = await current(request, Role.supervisor)
        items = await rows()
        items.sort(key=lambda r: (r.round_year, r.stage, r.workflow_id))
        counts = Counter((r.stage, r.level) for r in items)
        levels = [lv.value for lv in Level]
        stages = [s.value for s in Stage if any(st == s.value for st, _ in counts)]
        context = {
            "account": account,
            "items": items,
            "counts": counts,
            "levels": levels,
            "stages": stages,
            "ui": TEMPORAL_UI,
        }
        return render(request, "supervisor.html", context)

    @app.get("/pending", response_class=HTMLResponse)
    async def pending(request: Request) -> Response:
        uid = request.session.get("uid")
        account = await find_account(engine(), id=uid) if uid is not None else None
        if account is None:
            return RedirectResponse("/login", 303)
        return render(request, "pending.html", {"account": account})

    return app


async def default_client() -> Client:
    from worker import connect  # the worker's own connection: same converter, same settings

    return await connect(load_settings())


def __getattr__(name: str) -> Any:  # `uvicorn portal.app:app`: built on first access
    if name == "app":
        globals()["app"] = created = create_app()
        return created
    raise AttributeError(name)
