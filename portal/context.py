"""What every page of the portal shares: the Temporal client, the record database, rendering
with the session's CSRF token, and sending one update as the logged-in account (`Portal`,
one per app, which the routes get through portal/deps.py); a refused action (`Refusal`) and
the Chinese names the templates show.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from client.codec import ID_CARD_PURPOSE, FieldCipher
from client.committee import session_act, session_state
from client.declarations import act, declaration_state
from client.errors import ActionTimeout, classify
from client.errors import Refusal as RefusalKind
from client.inputs import (
    PayloadInvalid,
    action_payload,
    round_action_payload,
    session_action_payload,
)
from client.refused import Attempt, note_refusal
from client.rounds import round_act
from client.signing import ActorSigner
from models.committee import SessionState
from models.common import (
    JURISDICTION_NAMES_ZH,
    LEVEL_NAMES_ZH,
    STAGE_NAMES_ZH,
    Jurisdiction,
    Level,
    Role,
    Stage,
)
from models.declaration import DeclarationState
from portal.field_errors import FIELD_LABELS_ZH, field_errors, refusal_sentence
from portal.refusal_text import refused_text
from portal.security import new_csrf_token
from rules.actor_signature import UNAUTHENTICATED
from rules.identity import round_workflow_id
from rules.timezone import cn_datetime, cn_moment, cn_window
from rules.update_ids import BadRequestId, checked_form_token, new_form_token, portal_update_id
from settings import Settings
from store.config_files import InputError
from store.db import get_engine
from store.tables import DeclarationRow

log = logging.getLogger(__name__)
QUERY_TIMEOUT = timedelta(seconds=10)
UPDATE_TIMEOUT = timedelta(seconds=30)  # per phase: accepted by a worker, then recorded
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "portal"
# Who may look declarations up by the applicant's identity (/search, portal/routers/search.py):
# never the blind reviewers (R11: the evaluation body, the committee), nor the applicant.
SEARCH_ROLES = frozenset({Role.employer.value, Role.competent_unit.value, Role.supervisor.value})

ROLE_NAMES_ZH = {
    Role.applicant: "申报人",
    Role.employer: "用人单位",
    Role.competent_unit: "主管单位",
    Role.evaluation_body: "评审机构",
    Role.committee: "评审委员会秘书",
    Role.supervisor: "人力资源服务中心（监管）",
    Role.expert: "评审专家",
    Role.observer: "纪检监察（观察）",
    Role.system: "系统（自动）",
}
ACTION_NAMES_ZH = {
    "start": "开始申报",
    "check_eligibility": "申报条件审查",
    "submit": "提交",
    "resubmit": "补正后重新提交",
    "withdraw": "撤回",
    "employer_return": "用人单位退回",
    "start_publicity": "开始单位内部公示",
    "publicity_ended": "公示期满",
    "raise_objection": "登记异议",
    "resolve_objection": "处理异议",
    "recommend": "用人单位推荐",
    "competent_unit_recommend": "主管单位推荐",
    "competent_unit_return": "主管单位退回",
    "accept_materials": "评审机构受理",
    "return_for_correction": "退回补正",
    "review_overdue": "审核逾期",
    "correction_overdue": "逾期未补正",
    "confirm_payment": "确认缴费",
    "payment_overdue": "逾期未缴费",
    "arrange_defense": "答辩安排",
    "record_defense_score": "答辩成绩",
    "supply_defense_average": "答辩平均分赋分",
    "committee_vote": "评委会表决",
    "result_publicity_ended": "结果公示期满",
    "submission_closed": "申报截止",
    "change_windows": "调整时间安排",
    "reminder": "截止提醒",
    "revoke": "撤销职称",
    "assign": "转办",
    # the Round's actions (round-{year}): the refused attempts name them too
    "set_committee": "设置评审委员会",
    "open_session": "召开评审会议",
    "committee_votes": "登记表决结果",
    "supply_defense_averages": "赋答辩平均分（本轮）",
    "draw_spot_check": "抽查",
    "record_spot_check_result": "登记抽查结果",
    "refresh_statistics": "刷新统计",
    "close": "结束本轮评审",
}
REFUSALS_ZH = {
    "WrongRole": "您的角色无权在此阶段办理该事项。",
    "WrongStage": "该申报当前所处阶段不能办理此事项（可能已被他人办理）。",
    "OutsideWindow": "不在规定的办理时间内（时间窗口尚未开放或已经截止）。",
    "Invalid": "提交的内容不符合要求。",
    "ObjectionsOpen": "公示期间登记的异议尚未核实处理，请先处理异议，再推荐。",
    "UnknownAction": "未知的办理事项。",
    "IdentifyingTitle": "材料名称含有申报人的个人信息（姓名、身份证号码、手机号码、电子邮箱或"
    "工作单位），盲评材料不能提交，请修改材料名称。",
    "MaskedTextFound": "材料的遮盖副本中仍能识别出申报人的个人信息，请重新遮盖后再提交。",
    "MaskedCheckPending": "材料的遮盖检查尚未完成，请稍后提交。",
    "Closed": "本年度评审轮次正在结束，不再受理该事项。",
    "CalendarUnknown": "该年度的工作日历尚未载入，无法计算公示期限，请联系管理员。",
    "Unauthenticated": "系统未能确认办理人身份（操作签名无效或已过期），本次操作未被受理，"
    "请重新提交；如仍不行，请联系管理员。",
}
# Why an attempt was refused, as the supervisor's page names it (store/refused_attempts.py).
REFUSED_KINDS_ZH = {
    "WrongRole": "角色无权办理",
    "WrongStage": "所处阶段不能办理",
    "OutsideWindow": "不在办理时间内",
    "Invalid": "内容不符合要求",
    "ObjectionsOpen": "异议尚未处理",
    "InvalidInput": "填写内容不完整或格式不对",
    "UnknownAction": "未知的办理事项",
    "IdentifyingTitle": "材料名称含个人信息（盲评）",
    "MaskedTextFound": "遮盖副本仍可识别个人信息（盲评）",
    "MaskedCheckPending": "遮盖检查尚未完成",
    "Closed": "评审轮次正在结束",
    "CalendarUnknown": "工作日历未载入",
    "Unauthenticated": "身份签名无效（未签名、伪造、过期或用于其他申报）",
    "Ended": "申报或轮次已结束",
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


class Refusal(Exception):
    """An action refused (by the workflow's validator, or by the payload check): a Chinese
    sentence for the page and the short English detail; `fields`: what is wrong with each
    form field, in Chinese, shown beside it (templates/portal/macros.html, field_error)."""

    def __init__(
        self,
        text: str,
        detail: str = "",
        status: int = 409,
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(text)
        self.text, self.detail, self.status = text, detail, status
        self.fields = fields or {}


def refusal_from(exc: BaseException) -> Refusal:
    """The page's refusal for any failure of an action (client.errors.classify): a workflow's
    refusal in Chinese (409), anything else "try again later" (503)."""
    found = classify(exc)
    if found.kind is RefusalKind.refused:
        kind = found.reason or "Invalid"
        status = 403 if kind == UNAUTHENTICATED else 409
        text = refused_text(kind, found.facts) or REFUSALS_ZH.get(kind, "操作被拒绝。")
        return Refusal(text, f"{kind}: {found.message}", status)
    return Refusal("操作未能完成，请稍后重试。", type(exc).__name__, status=503)


def _shanghai(value: Any, *, zone: bool = False) -> str:
    """A template filter: an instant (datetime or ISO 8601 text) as people read it, in
    Beijing time, a midnight close as 24:00 of the day before: '2025年10月03日 14:00' under a
    table header or a sentence that says the offset once for the page (issue 14: the offset
    said once a page); `zone` True where the time stands alone: '2025年10月03日 14:00（北京时间
    UTC+08:00）' (the notifications' cn_datetime)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not (isinstance(value, datetime) and value.tzinfo):
        return str(value)
    return cn_datetime(value) if zone else cn_moment(value)


def chinese_name(names: dict[Any, str], kind: type[Any]) -> Callable[[str], str]:
    """A template filter: the Chinese name of an enum value, the value itself when unknown."""
    return lambda value: names.get(kind(value), value) if value in kind.__members__ else value


def actor_id_of(account: Any) -> str:
    """The actor id the portal acts as for an account: `role:username`; an expert acts as
    their pool code (E0001), which is how a committee session knows its seats (R27)."""
    if account.role == Role.expert.value and account.expert_code:
        return str(account.expert_code)
    return f"{account.role}:{account.username}"


def workflow_ui(settings: Settings) -> Callable[[str], str]:
    """A template function: a workflow's page in the Temporal Web UI, at
    ZHICHENG_TEMPORAL_UI_URL in the namespace TEMPORAL_NAMESPACE."""
    namespace = quote(settings.temporal_namespace, safe="")
    base = f"{settings.temporal_ui_url}/namespaces/{namespace}/workflows/"
    return lambda workflow_id: base + quote(workflow_id, safe="")


def portal_templates(settings: Settings) -> Jinja2Templates:
    """The pages (templates/portal/) with the filters they use."""
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals.update(
        STAGE=chinese_name(STAGE_NAMES_ZH, Stage),
        LEVEL=chinese_name(LEVEL_NAMES_ZH, Level),
        JURISDICTION=chinese_name(JURISDICTION_NAMES_ZH, Jurisdiction),
        DEADLINE=lambda k: DEADLINE_NAMES_ZH.get(k, k),
        ROLE=chinese_name(ROLE_NAMES_ZH, Role),
        ACTION=lambda a: ACTION_NAMES_ZH.get(a, a),
        REFUSED_KIND=lambda k: REFUSED_KINDS_ZH.get(k, k),
        SHANGHAI=_shanghai,  # under a header that says the offset; SHANGHAI(v, zone=True) alone
        # an instant without its offset, on a page that says the offset once (issue 14)
        MOMENT=lambda v: cn_moment(v) if v else "",
        WINDOW=cn_window,
        WORKFLOW_UI=workflow_ui(settings),
        SEARCH_ROLES=SEARCH_ROLES,
        # every action form's hidden `request_token`, fresh each time a page is rendered
        # (Portal._update_id: the same form posted twice is applied once)
        request_token=new_form_token,
    )
    return templates


class Portal:
    """The shared parts, one per app (`app.state.portal`, built by portal.app.create_app)."""

    def __init__(
        self,
        *,
        client: Client | None,
        client_factory: Callable[[], Awaitable[Client]],
        database_url: str | None,
        secret: str,
        templates: Jinja2Templates,
        settings: Settings,
    ) -> None:
        self.client, self.client_factory = client, client_factory
        self.settings = settings  # read once, when the app is built
        # signs the actor of every update the portal sends: the session's account
        # (ZHICHENG_ACTOR_SIGNING_KEY, the worker's key; client/signing.py)
        self.signer = ActorSigner.from_settings(settings)
        # an applicant account's ID-card number at rest (store/accounts.py id_card_sealed)
        self.id_cards = FieldCipher.from_settings(settings, ID_CARD_PURPOSE)
        self.database_url, self.secret = database_url or settings.database_url, secret
        self._connecting = asyncio.Lock()
        self.templates = templates

    def engine(self) -> AsyncEngine:
        return get_engine(self.database_url)

    async def temporal(self) -> Client:
        async with self._connecting:
            if self.client is None:
                self.client = await self.client_factory()
            return self.client

    # --- pages ---------------------------------------------------------------------------

    @staticmethod
    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = new_csrf_token()
        return token

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        refusal: Refusal | None = None,
    ) -> HTMLResponse:
        """A page; a refusal is shown at its top and sets the status (200 otherwise)."""
        context = {
            "csrf": self.csrf_token(request),
            "account": context.pop("account", None),
            "inbox_unread": 0,
            "refusal": refusal,
        } | context
        status = refusal.status if refusal else 200
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    # --- acting and reading --------------------------------------------------------------

    async def _payload(
        self, build: Callable[..., Any], attempt: Attempt, data: dict[str, Any]
    ) -> Any:
        """An action's payload (action_payload / round_action_payload) with the session's
        account as its actor; a form that does not make a valid payload is a Refusal (400),
        on the record, each wrong field named beside it."""
        role = Role(attempt.actor_role)
        try:
            return build(attempt.action, role, attempt.actor_id, data)
        except PayloadInvalid as exc:
            await note_refusal(self.engine(), attempt, exc)
            fields = field_errors(exc.errors, FIELD_LABELS_ZH)
            raise Refusal(refusal_sentence(fields), str(exc), 400, fields) from None
        except InputError as exc:
            await note_refusal(self.engine(), attempt, exc)
            raise Refusal("填写的内容不完整或格式不对。", str(exc), status=400) from None

    async def _update_id(self, attempt: Attempt, request_token: object) -> str:
        """The update id of a posted form (rules/update_ids.py): a hash of the account, the
        workflow, the action and the form's request token, which every action form carries
        (made when the page is rendered). The same form posted twice is one update, applied
        once. A form without a valid token is refused (400, on the record), never sent
        without an id; its fields are checked first (their errors say more to a person)."""
        try:
            token = checked_form_token(request_token)
        except BadRequestId as exc:
            await note_refusal(self.engine(), attempt, InputError(str(exc)))
            raise Refusal(
                "页面已过期或表单不完整（缺少提交标识），请刷新页面后重新提交。", str(exc), 400
            ) from None
        return portal_update_id(attempt.actor_id, attempt.workflow_id, attempt.action, token)

    async def check(
        self, account: Any, workflow_id: str, action: str, data: dict[str, Any]
    ) -> None:
        """What `send` checks of a form before anything is sent (a Refusal, 400, each wrong
        field named), for a confirm step that asks only about a valid form."""
        attempt = Attempt("portal", workflow_id, action, account.role, actor_id_of(account))
        await self._payload(action_payload, attempt, data)

    async def send(
        self,
        account: Any,
        workflow_id: str,
        action: str,
        data: dict[str, Any],
        *,
        request_token: object,
    ) -> None:
        """One update as the logged-in account (the actor from the session, never the form),
        its actor signed (client/signing.py), its id from the form's `request_token`
        (`_update_id`). A refusal is a `Refusal`, and it goes on the record
        (client/refused.py)."""
        attempt = Attempt("portal", workflow_id, action, account.role, actor_id_of(account))
        payload = await self._payload(action_payload, attempt, data)  # its errors first
        update_id = await self._update_id(attempt, request_token)
        try:
            await act(
                await self.temporal(),
                workflow_id,
                action,
                payload.model_dump(mode="json", exclude_none=True),
                signer=self.signer,
                update_id=update_id,
                timeout=UPDATE_TIMEOUT,
                engine=self.engine(),
            )
        except WorkflowUpdateFailedError as exc:
            await note_refusal(self.engine(), attempt, exc)
            raise refusal_from(exc) from None
        except (ActionTimeout, RPCError, RuntimeError) as exc:  # no worker/Temporal
            await note_refusal(self.engine(), attempt, exc)  # an ended declaration is one
            log.warning("%s on %s: %s", action, workflow_id, exc)
            raise Refusal("系统暂时无法办理，请稍后重试。", type(exc).__name__, 503) from None

    async def send_round(
        self,
        account: Any,
        year: int,
        action: str,
        data: dict[str, Any],
        *,
        request_token: object,
    ) -> Any:
        """One update of the Round workflow `round-{year}` as the logged-in account (the
        actor from the session); returns the update's JSON result. Its id and a refusal
        like `send`."""
        attempt = Attempt(
            "portal", round_workflow_id(year), action, account.role, actor_id_of(account)
        )
        payload = await self._payload(round_action_payload, attempt, data)
        update_id = await self._update_id(attempt, request_token)
        try:
            async with asyncio.timeout(UPDATE_TIMEOUT.total_seconds()):
                return await round_act(
                    await self.temporal(),
                    year,
                    action,
                    payload,
                    signer=self.signer,
                    update_id=update_id,
                )
        except WorkflowUpdateFailedError as exc:
            await note_refusal(self.engine(), attempt, exc)
            raise refusal_from(exc) from None
        except RPCError as exc:  # no such round, or Temporal unreachable
            await note_refusal(self.engine(), attempt, exc)  # an ended round is one
            log.warning("%s on round %s: %s", action, year, exc)
            raise Refusal(f"{year}年度评审轮次未在运行，无法办理。", str(exc), 409) from None
        except (TimeoutError, RuntimeError) as exc:
            log.warning("%s on round %s: %s", action, year, exc)
            raise Refusal("系统暂时无法办理，请稍后重试。", type(exc).__name__, 503) from None

    async def send_session(
        self,
        account: Any,
        workflow_id: str,
        action: str,
        data: dict[str, Any],
        *,
        request_token: object,
    ) -> SessionState:
        """One update of a committee session (workflows/committee.py) as the logged-in
        account; its id and a refusal like `send`."""
        attempt = Attempt("portal", workflow_id, action, account.role, actor_id_of(account))
        payload = await self._payload(session_action_payload, attempt, data)
        update_id = await self._update_id(attempt, request_token)
        try:
            async with asyncio.timeout(UPDATE_TIMEOUT.total_seconds()):
                return await session_act(
                    await self.temporal(),
                    workflow_id,
                    action,
                    payload,
                    signer=self.signer,
                    update_id=update_id,
                )
        except WorkflowUpdateFailedError as exc:
            await note_refusal(self.engine(), attempt, exc)
            raise refusal_from(exc) from None
        except (TimeoutError, RPCError, RuntimeError) as exc:
            await note_refusal(self.engine(), attempt, exc)
            log.warning("%s on %s: %s", action, workflow_id, exc)
            raise Refusal("系统暂时无法办理，请稍后重试。", type(exc).__name__, 503) from None

    async def session(self, workflow_id: str) -> SessionState:
        """A committee session's `state` query (Refusal 404 when it cannot be read)."""
        try:
            return await session_state(await self.temporal(), workflow_id)
        except (RPCError, RuntimeError, WorkflowQueryFailedError) as exc:
            log.info("session %s: %s", workflow_id, exc)
            raise Refusal("评审会议不存在或暂时无法读取。", type(exc).__name__, 404) from None

    async def state(self, workflow_id: str) -> DeclarationState:
        """The declaration's `state` query (Refusal 503 when the workflow cannot be read)."""
        try:
            return await declaration_state(
                await self.temporal(), workflow_id, rpc_timeout=QUERY_TIMEOUT
            )
        except (RPCError, RuntimeError, WorkflowQueryFailedError) as exc:
            log.warning("state of %s: %s", workflow_id, exc)
            raise Refusal("暂时无法读取申报状态，请稍后刷新。", type(exc).__name__, 503) from None

    async def rows(self, *where: Any) -> list[Any]:
        """Declarations from the record database's projection."""
        async with self.engine().connect() as conn:
            return list((await conn.execute(select(DeclarationRow.__table__).where(*where))).all())

    async def row(self, workflow_id: str) -> Any:
        found = await self.rows(DeclarationRow.workflow_id == workflow_id)
        return found[0] if found else None
