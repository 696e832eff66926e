"""The applicant's pages: creating the declaration in the browser (field-level validation),
the materials (upload, the masking tool, R11), submission; after a return the reason, the
48-hour countdown and resubmission (with replaced materials).

    GET  /applicant                                  the declaration, its materials, submit
    GET  /applicant/new, POST /applicant/new         create it (starts the Declaration workflow)
    POST /applicant/materials                        upload a scan (multipart: file, title)
    POST /applicant/materials/{id}/remove            take it off the list (draft, correction)
    GET  /applicant/materials/{id}/mask, POST ...    the masking tool: boxes -> masked copy
    GET  /applicant/uploads/{id}/pages/{n}           a page of one's own upload, as PNG
    POST /applicant/submit, POST /applicant/resubmit the `submit` / `resubmit` updates
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import delete, select, update
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowQueryFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

import control
from models.common import JURISDICTION_NAMES_ZH, LEVEL_NAMES_ZH, Role, Stage
from models.declaration import (
    AchievementKind,
    DeclarationInput,
    DeclarationState,
    EmploymentStatus,
)
from models.round import RoundConfig
from models.validation import location
from portal.context import QUERY_TIMEOUT, Portal, Refusal, log
from portal.masking import BoxesRefused, masked_copy
from portal.uploads import (
    SUFFIXES,
    StoredUpload,
    UploadRefused,
    find_own_by_sha256,
    find_upload,
    page_image,
    png_bytes,
    read_upload,
    set_masked,
    store_form_file,
    store_upload,
    upload_config,
)
from rules.calendar import CalendarYearUnknown
from rules.eligibility import BASIS_ZH, EMPLOYER_KIND_ZH, check_eligibility
from rules.identity import declaration_workflow_id
from rules.timezone import SHANGHAI, shanghai_iso
from settings import load_settings
from store.accounts import Account
from store.config_files import InputError, round_config_for
from store.tables import DeclarationRow
from store.uploads import DeclarationMaterial, Upload

EDITABLE = (Stage.draft, Stage.correction)  # the materials list can change only here
MAX_MATERIALS = 30
ACHIEVEMENT_ROWS = 3
MULTIPART_OVERHEAD = 64 * 1024  # the form's other fields and boundaries beside the file

# --- the creation form: one entry per field, named by its path in the declaration ----------

ACHIEVEMENT_KINDS_ZH = {
    AchievementKind.paper: "论文",
    AchievementKind.patent: "专利成果",
    AchievementKind.technical_breakthrough: "技术突破",
    AchievementKind.process_flow: "工艺流程",
    AchievementKind.standard: "标准开发",
    AchievementKind.achievement_transformation: "成果转化",
}


@dataclass(frozen=True)
class FormField:
    name: str  # its location in the declaration: applicant.employer.uscc, achievements[0].kind
    label: str
    kind: str = "text"  # text | select | check | number
    required: bool = False
    options: dict[str, str] = field(default_factory=dict)
    hint: str = ""
    section: str = ""


def _options(names: dict[Any, str]) -> dict[str, str]:
    return {str(k.value): v for k, v in names.items()}


FORM: list[FormField] = [
    FormField("applicant.name", "姓名", required=True, section="申报人"),
    FormField("applicant.id_card", "居民身份证号码", required=True, hint="18位，末位可为X"),
    FormField("applicant.mobile", "手机号码", required=True,
              hint="绑定“新疆专业技术人员管理平台”微信公众号的手机号，用于接收审核结果"),
    FormField("applicant.email", "电子邮箱", hint="选填"),
    FormField("applicant.employer.name", "工作单位", required=True, section="工作单位"),
    FormField("applicant.employer.uscc", "统一社会信用代码", required=True, hint="18位"),
    FormField("applicant.employer.competent_unit", "主管单位", hint="有主管单位的填写，选填"),
    FormField("level", "申报级别", "select", True, _options(LEVEL_NAMES_ZH), section="申报"),
    FormField("jurisdiction", "评审范围", "select", True, _options(JURISDICTION_NAMES_ZH)),
    FormField("eligibility.employment_status", "在职状态", "select", True,
              {EmploymentStatus.in_service.value: "在职", EmploymentStatus.retired.value: "已退休"},
              section="申报条件（R2–R6）"),
    FormField("eligibility.employer_kind", "单位性质", "select", True,
              _options(EMPLOYER_KIND_ZH)),
    FormField("eligibility.dispatched_from_out_of_town_private_enterprise",
              "外地民营企业派驻乌鲁木齐", "check", hint="派驻人员须在本地连续工作满1年"),
    FormField("eligibility.months_working_in_urumqi", "在乌鲁木齐连续工作月数", "number"),
    FormField("eligibility.continuing_education_completed", "已完成继续教育", "check",
              hint="当年驻村满半年的可免"),
    FormField("eligibility.village_stationed_months_this_year", "本年度驻村月数", "number",
              hint="0–12"),
    FormField("eligibility.current_level", "现有职称（职业资格）级别", "select",
              options={"": "无"} | _options(LEVEL_NAMES_ZH)),
    FormField("eligibility.current_level_basis", "取得方式", "select", True,
              _options(BASIS_ZH)),
    FormField("eligibility.years_at_current_level", "现级别任职年限", "number",
              hint="转换岗位的，原专业和现专业年限累计"),
    FormField("eligibility.consecutive_village_years", "连续驻村年数", "number"),
    FormField("eligibility.consecutive_excellent_assessments", "连续考核优秀年数", "number"),
]  # fmt: skip
for _row in range(ACHIEVEMENT_ROWS):
    FORM += [
        FormField(f"achievements[{_row}].kind", f"业绩成果{_row + 1} 类型", "select",
                  options={"": "（不填）"} | _options(ACHIEVEMENT_KINDS_ZH),
                  section="业绩成果（选填；论文可由专利、技术突破、工艺流程、标准、成果转化替代）"
                  if _row == 0 else ""),
        FormField(f"achievements[{_row}].title", f"业绩成果{_row + 1} 名称"),
    ]  # fmt: skip
FIELDS = {f.name: f for f in FORM}
NUMBER_FIELDS = {f.name for f in FORM if f.kind == "number"}

FIELD_MESSAGES = {  # a field's own message for what its validator refuses
    "applicant.id_card": "身份证号码无效：请核对18位号码及最后一位校验码。",
    "applicant.mobile": "手机号码无效：请填写中国大陆手机号码。",
    "applicant.email": "电子邮箱格式不正确。",
    "applicant.employer.uscc": "统一社会信用代码无效：请核对18位代码。",
}
TYPE_MESSAGES = {  # pydantic's error types, in Chinese
    "missing": "此项必填。",
    "string_too_short": "此项必填。",
    "string_too_long": "内容过长（最多{max_length}个字）。",
    "enum": "请从列表中选择。",
    "literal_error": "请从列表中选择。",
    "int_parsing": "请填写整数。",
    "int_from_float": "请填写整数。",
    "float_parsing": "请填写数字。",
    "greater_than_equal": "不能小于{ge}。",
    "less_than_equal": "不能大于{le}。",
    "bool_parsing": "请选择是或否。",
}


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Each error under its form field's name, in Chinese (the first error of a field wins)."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        name = location(tuple(error["loc"]))
        if name not in FIELDS:
            name = "_form"
        kind = str(error["type"])
        if name in FIELD_MESSAGES and kind == "value_error":
            message = FIELD_MESSAGES[name]
        elif kind in TYPE_MESSAGES:
            message = TYPE_MESSAGES[kind].format(**(error.get("ctx") or {}))
        else:
            message = "填写有误：" + str(error["msg"]).removeprefix("Value error, ")
        errors.setdefault(name, message)
    return errors


def declaration_data(form: dict[str, str]) -> dict[str, Any]:
    """The declaration's applicant part (control.DeclarationFile) from the form's fields."""
    data: dict[str, Any] = {}

    def put(path: str, value: Any) -> None:
        parts = path.split(".")
        target = data
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value

    for spec in FORM:
        if spec.name.startswith("achievements["):
            continue
        raw = form.get(spec.name, "").strip()
        if spec.kind == "check":
            put(spec.name, spec.name in form)
        elif raw or spec.required:
            put(spec.name, raw)  # an empty required field: pydantic names it
        # an empty optional one is left out: its default (None, 0) applies
    achievements = []
    for row in range(ACHIEVEMENT_ROWS):
        kind = form.get(f"achievements[{row}].kind", "").strip()
        title = form.get(f"achievements[{row}].title", "").strip()
        if kind or title:
            achievements.append({"kind": kind, "title": title})
    data["achievements"] = achievements
    return data


def shanghai_now() -> datetime:
    return datetime.now(SHANGHAI)


def _when(instant: datetime) -> str:
    local = instant.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日{local:%H:%M}"


# --- the applicant's current declaration -----------------------------------------------------


@dataclass
class Current:
    workflow_id: str
    state: DeclarationState
    row: Any  # the projection row (None just after the start, before it is recorded)


def material_view(row: Any) -> dict[str, Any]:
    upload = StoredUpload.of(row)
    return {
        "id": row.material_id,
        "title": row.material_title,
        "upload": upload,
        "masked": upload.masked_sha256 is not None,
        "suffix": SUFFIXES.get(upload.media_type, ""),
    }


def add_routes(app: FastAPI, portal: Portal) -> None:
    async def find_current(account: Any) -> tuple[Current | None, Refusal | None]:
        """The applicant's newest declaration with its state (the workflow's `state` query)."""
        key = account.applicant_key
        if not key:
            return None, None
        rows = await portal.rows(DeclarationRow.applicant_key == key)
        rows.sort(key=lambda r: r.round_year, reverse=True)
        by_id = {r.workflow_id: r for r in rows}
        ids = list(by_id)
        this_year = declaration_workflow_id(shanghai_now().year, key)
        if this_year not in by_id:
            ids.insert(0, this_year)  # started a moment ago: maybe not recorded yet
        for workflow_id in ids:
            try:
                state = await control.declaration_state(
                    await portal.temporal(), workflow_id, rpc_timeout=QUERY_TIMEOUT
                )
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    continue
                return None, unavailable(workflow_id, exc)
            except (RuntimeError, WorkflowQueryFailedError) as exc:
                return None, unavailable(workflow_id, exc)
            return Current(workflow_id, state, by_id.get(workflow_id)), None
        return None, None

    def unavailable(workflow_id: str, exc: BaseException) -> Refusal:
        log.warning("state of %s: %s", workflow_id, exc)
        return Refusal("暂时无法读取申报状态，请稍后刷新。", type(exc).__name__, 503)

    async def materials_of(workflow_id: str, owner: int) -> list[dict[str, Any]]:
        query = (
            select(
                DeclarationMaterial.id.label("material_id"),
                DeclarationMaterial.title.label("material_title"),
                Upload.__table__,
            )
            .join(Upload, Upload.id == DeclarationMaterial.upload_id)
            .where(DeclarationMaterial.workflow_id == workflow_id)
            .where(Upload.owner_account_id == owner)
            .order_by(DeclarationMaterial.id)
        )
        async with portal.engine().connect() as conn:
            found = (await conn.execute(query)).all()
        return [material_view(row) for row in found]

    async def applicant_page(
        request: Request, account: Any, refusal: Refusal | None = None
    ) -> HTMLResponse:
        current, problem = await find_current(account)
        refusal = refusal or problem
        state = current.state if current else None
        return_reason, remaining, materials = None, None, []
        if current is not None and state is not None:
            returns = [t for t in state.timeline if t.action == "return_for_correction"]
            return_reason = returns[-1].reason if returns else None
            due = state.deadlines.get("correction_deadline")
            if state.stage is Stage.correction and due:
                now = datetime.now(datetime.fromisoformat(due).tzinfo)
                seconds = max(0, int((datetime.fromisoformat(due) - now).total_seconds()))
                remaining = f"{seconds // 3600}小时{seconds % 3600 // 60}分钟"
            materials = await materials_of(current.workflow_id, account.id)
        this_year = shanghai_now().year
        context = {
            "account": account,
            "declaration": current,
            "state": state,
            "return_reason": return_reason,
            "remaining": remaining,
            "materials": materials,
            "editable": state is not None and state.stage in EDITABLE,
            "unmasked": [m["title"] for m in materials if not m["masked"]],
            "can_create": problem is None
            and (current is None or current.state.round_year < this_year),
            "max_mb": upload_config(app).max_bytes / 1024 / 1024,
        }
        return portal.render(request, "applicant.html", context, refusal)

    async def editable_current(account: Any) -> Current:
        current, problem = await find_current(account)
        if problem is not None:
            raise problem
        if current is None:
            raise HTTPException(404, "没有您的申报")
        if current.state.stage not in EDITABLE:
            raise Refusal(
                "当前阶段不能修改材料（只有填报中或退回补正时可以修改）。",
                f"materials are fixed in stage {current.state.stage.value}",
            )
        return current

    async def own_material(account: Any, workflow_id: str, material_id: int) -> dict[str, Any]:
        for material in await materials_of(workflow_id, account.id):
            if material["id"] == material_id:
                return material
        raise HTTPException(404, "没有这份材料")

    # --- the declaration page ----------------------------------------------------------------

    @app.get("/applicant", response_class=HTMLResponse)
    async def applicant_home(request: Request) -> Response:
        return await applicant_page(request, await portal.current(request, Role.applicant))

    # --- creating it ---------------------------------------------------------------------------

    async def open_round() -> RoundConfig:
        """The round of the current year (Asia/Shanghai): the running Round workflow's
        configuration (its windows after any change), else the round file / the notice's
        pattern. Refusal when its submission has closed or its calendar is unknown."""
        year = shanghai_now().year
        settings = load_settings()
        try:
            config = await control.running_round_config(await portal.temporal(), year)
        except (RPCError, RuntimeError, OSError) as exc:  # Temporal not reachable
            log.warning("round %s: %s", year, exc)
            raise Refusal("系统暂时无法办理，请稍后重试。", type(exc).__name__, 503) from None
        if config is None:
            try:
                config = round_config_for(year, settings)
            except (InputError, CalendarYearUnknown) as exc:
                raise Refusal(
                    f"{year}年度的职称评审尚未开放，请留意通知。", str(exc), 409
                ) from None
        if shanghai_now() >= config.submission_closes_at:
            raise Refusal(
                f"{year}年度网上申报已于{_when(config.submission_closes_at)}截止，"
                "目前没有开放申报的评审年度。",
                f"round {year}: submission closed at {shanghai_iso(config.submission_closes_at)}",
                409,
            )
        return config

    def new_page(
        request: Request,
        account: Any,
        values: dict[str, str],
        errors: dict[str, str] | None = None,
        refusal: Refusal | None = None,
        round_config: RoundConfig | None = None,
    ) -> HTMLResponse:
        context = {
            "account": account,
            "form": FORM,
            "values": values,
            "errors": errors or {},
            "round": round_config,
            "opens": round_config and _when(round_config.submission_opens_at),
            "closes": round_config and _when(round_config.submission_closes_at),
        }
        response = portal.render(request, "applicant_new.html", context, refusal)
        if errors and refusal is None:
            response.status_code = 400
        return response

    @app.get("/applicant/new", response_class=HTMLResponse)
    async def new_declaration(request: Request) -> Response:
        account = await portal.current(request, Role.applicant)
        current, _ = await find_current(account)
        if current is not None and current.state.round_year >= shanghai_now().year:
            return RedirectResponse("/applicant", 303)
        try:
            round_config = await open_round()
        except Refusal as refusal:
            return new_page(request, account, {}, refusal=refusal)
        return new_page(request, account, {}, round_config=round_config)

    @app.post("/applicant/new", response_class=HTMLResponse)
    async def create_declaration(request: Request) -> Response:
        account = await portal.current(request, Role.applicant)
        form = await portal.form_checked(request)
        values = {k: v for k, v in form.items() if k in FIELDS}
        try:
            round_config = await open_round()
        except Refusal as refusal:
            return new_page(request, account, values, refusal=refusal)
        data = declaration_data(form)
        try:
            control.DeclarationFile.model_validate(data)
        except ValidationError as exc:
            return new_page(request, account, values, field_errors(exc), None, round_config)
        settings = load_settings()
        declaration = control.declaration_input(
            data, round_config, "form", settings.applicant_key_secret
        )
        key = declaration.applicant_key
        if account.applicant_key and account.applicant_key != key:
            errors = {"applicant.id_card": "该身份证号码与您账户绑定的申报人不一致。"}
            return new_page(request, account, values, errors, None, round_config)
        declaration = await with_integrity_archive(declaration)
        refusals = check_eligibility(declaration, shanghai_now().date())
        if refusals:  # R1–R8: said now, and nothing started (one declaration per round)
            refusal = Refusal(
                "不符合申报条件：" + "；".join(f"{r.rule} {r.reason_zh}" for r in refusals),
                "; ".join(f"{r.rule}: {r.reason}" for r in refusals),
                400,
            )
            return new_page(request, account, values, None, refusal, round_config)
        if not account.applicant_key:
            await bind_applicant(account.id, key)
        try:
            await control.start_declaration_in_round(
                await portal.temporal(), declaration, settings.task_queue
            )
        except WorkflowAlreadyStartedError:
            refusal = Refusal(
                f"您在{round_config.year}年度已有一份申报（每人每个评审年度只能申报一次）。",
                "AlreadyDeclared: one declaration per applicant per round",
                409,
            )
            return new_page(request, account, values, None, refusal, round_config)
        except (RPCError, RuntimeError) as exc:
            log.warning("starting a declaration: %s", exc)
            refusal = Refusal("系统暂时无法办理，请稍后重试。", type(exc).__name__, 503)
            return new_page(request, account, values, None, refusal, round_config)
        return RedirectResponse("/applicant", 303)

    async def with_integrity_archive(declaration: DeclarationInput) -> DeclarationInput:
        """R8: an integrity-archive record in force (control.with_integrity_block)."""
        today = shanghai_now().date()
        until = await control.integrity_block(declaration.applicant_key, today, portal.engine())
        return control.with_integrity_block(declaration, until)

    async def bind_applicant(account_id: int, key: str) -> None:
        """An applicant account without an applicant yet is bound to this one, once."""
        async with portal.engine().begin() as conn:
            await conn.execute(
                update(Account)
                .where(Account.id == account_id, Account.applicant_key.is_(None))
                .values(applicant_key=key)
            )

    # --- materials -----------------------------------------------------------------------------

    @app.post("/applicant/materials", response_class=HTMLResponse)
    async def upload_material(request: Request) -> Response:
        account = await portal.current(request, Role.applicant)
        config = upload_config(app)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > config.max_bytes + MULTIPART_OVERHEAD:
            # refused before reading the body; the CSRF token is never looked at: nothing
            # is done either way
            refusal = Refusal(
                f"文件过大：不能超过{config.max_bytes / 1024 / 1024:.0f}MB。",
                f"request of {length} bytes",
                413,
            )
            return await applicant_page(request, account, refusal)
        form = await portal.form_checked(request)
        try:
            current = await editable_current(account)
        except Refusal as refusal:
            return await applicant_page(request, account, refusal)
        upload = (await request.form()).get("file")
        title = form.get("title", "").strip()
        if upload is None or isinstance(upload, str) or not upload.filename:
            refusal = Refusal("请选择要上传的文件。", "no file", 400)
            return await applicant_page(request, account, refusal)
        problem = title_problem(title, current)
        if problem:
            return await applicant_page(request, account, Refusal(problem, "title", 400))
        listed = await materials_of(current.workflow_id, account.id)
        if len(listed) >= MAX_MATERIALS:
            refusal = Refusal(f"材料最多{MAX_MATERIALS}份。", "too many materials", 400)
            return await applicant_page(request, account, refusal)
        try:
            stored = await store_form_file(
                portal.engine(), config, owner_account_id=account.id, file=upload
            )
        except UploadRefused as refused:
            refusal = Refusal(refused.text, refused.detail, refused.status)
            return await applicant_page(request, account, refusal)
        if any(m["upload"].id == stored.id for m in listed):
            refusal = Refusal("这份文件已在材料清单中。", "already listed", 409)
            return await applicant_page(request, account, refusal)
        async with portal.engine().begin() as conn:
            await conn.execute(
                DeclarationMaterial.__table__.insert().values(
                    workflow_id=current.workflow_id, upload_id=stored.id, title=title
                )
            )
        return RedirectResponse("/applicant#materials", 303)

    def title_problem(title: str, current: Current) -> str | None:
        if not title:
            return "请填写材料名称（如：学历证书）。"
        if len(title) > 100:
            return "材料名称最多100个字。"
        row = current.row
        names = [row.applicant_name, row.employer_name] if row is not None else []
        if any(name and name in title for name in names):
            return "材料名称中不能含有本人姓名或工作单位（盲评）。"
        return None

    @app.post("/applicant/materials/{material_id}/remove", response_class=HTMLResponse)
    async def remove_material(request: Request, material_id: int) -> Response:
        account = await portal.current(request, Role.applicant)
        await portal.form_checked(request)
        try:
            current = await editable_current(account)
        except Refusal as refusal:
            return await applicant_page(request, account, refusal)
        await own_material(account, current.workflow_id, material_id)
        async with portal.engine().begin() as conn:
            await conn.execute(
                delete(DeclarationMaterial).where(DeclarationMaterial.id == material_id)
            )
        return RedirectResponse("/applicant#materials", 303)

    # --- the masking tool ----------------------------------------------------------------------

    async def mask_page(
        request: Request, account: Any, material_id: int, refusal: Refusal | None = None
    ) -> HTMLResponse:
        current, problem = await find_current(account)
        if current is None:
            if problem is not None:
                return await applicant_page(request, account, problem)
            raise HTTPException(404, "没有您的申报")
        material = await own_material(account, current.workflow_id, material_id)
        upload: StoredUpload = material["upload"]
        masked = None
        if upload.masked_sha256:
            masked = await find_own_by_sha256(portal.engine(), account.id, upload.masked_sha256)
        context = {
            "account": account,
            "material": material,
            "upload": upload,
            "masked": masked,
            "editable": current.state.stage in EDITABLE,
        }
        return portal.render(request, "applicant_mask.html", context, refusal)

    @app.get("/applicant/materials/{material_id}/mask", response_class=HTMLResponse)
    async def mask_tool(request: Request, material_id: int) -> Response:
        account = await portal.current(request, Role.applicant)
        return await mask_page(request, account, material_id)

    @app.post("/applicant/materials/{material_id}/mask", response_class=HTMLResponse)
    async def mask_material(request: Request, material_id: int) -> Response:
        account = await portal.current(request, Role.applicant)
        form = await portal.form_checked(request)
        try:
            current = await editable_current(account)
        except Refusal as refusal:
            return await mask_page(request, account, material_id, refusal)
        material = await own_material(account, current.workflow_id, material_id)
        upload: StoredUpload = material["upload"]
        config = upload_config(app)
        data = await run_in_threadpool(read_upload, config.directory, upload.sha256)
        try:
            copy = await run_in_threadpool(
                masked_copy, data, upload.media_type, form.get("boxes", "")
            )
        except BoxesRefused as refused:
            refusal = Refusal(refused.text, refused.detail, 400)
            return await mask_page(request, account, material_id, refusal)
        stored = await store_upload(
            portal.engine(),
            config.directory,
            owner_account_id=account.id,
            declared_name=f"masked-{upload.sha256[:12]}.{SUFFIXES[copy.media_type]}",
            data=copy.data,
            max_bytes=None,  # made here, from pages already checked
        )
        await set_masked(portal.engine(), upload.id, stored.sha256)
        return RedirectResponse(f"/applicant/materials/{material_id}/mask#masked", 303)

    @app.get("/applicant/uploads/{upload_id}/pages/{index}")
    async def upload_page(request: Request, upload_id: int, index: int) -> Response:
        """A page of one's own upload (an original or its masked copy) as PNG: what the
        masking tool shows and burns (portal.uploads.page_images)."""
        account = await portal.current(request, Role.applicant)
        upload = await find_upload(portal.engine(), upload_id, owner_account_id=account.id)
        if upload is None or not 0 <= index < upload.pages:
            raise HTTPException(404, "没有这一页")
        config = upload_config(app)
        data = await run_in_threadpool(read_upload, config.directory, upload.sha256)
        image = await run_in_threadpool(page_image, data, upload.media_type, index)
        return Response(
            await run_in_threadpool(png_bytes, image),
            media_type="image/png",
            headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
        )

    # --- submission and resubmission ----------------------------------------------------------

    async def send_materials(
        request: Request, account: Any, action: str, note: str | None
    ) -> Response:
        current, problem = await find_current(account)
        if problem is not None:
            return await applicant_page(request, account, problem)
        if current is None:
            raise HTTPException(404, "没有您的申报")
        listed = await materials_of(current.workflow_id, account.id)
        unmasked = [m["title"] for m in listed if not m["masked"]]
        if unmasked:  # R11: said here; the workflow's validator refuses it as well
            refusal = Refusal(
                "以下材料尚未遮盖本人姓名和工作单位，不能提交："
                + "、".join(unmasked)
                + "。请先使用遮盖工具。",
                "R11: materials not masked",
                409,
            )
            return await applicant_page(request, account, refusal)
        materials = [
            {"name": m["title"], "sha256": m["upload"].masked_sha256, "masked": True}
            for m in listed
        ]
        # An empty list leaves the declaration's own materials (one started from a file)
        data = {"note": note or None, "materials": materials or None}
        try:
            await portal.send(account, current.workflow_id, action, data)
        except Refusal as refusal:
            if "no materials" in refusal.detail:
                refusal = Refusal("请先上传材料并完成遮盖后再提交。", refusal.detail, 409)
            return await applicant_page(request, account, refusal)
        return RedirectResponse("/applicant", 303)

    @app.post("/applicant/submit", response_class=HTMLResponse)
    async def applicant_submit(request: Request) -> Response:
        account = await portal.current(request, Role.applicant)
        form = await portal.form_checked(request)
        return await send_materials(request, account, "submit", form.get("note", "").strip())

    @app.post("/applicant/resubmit", response_class=HTMLResponse)
    async def applicant_resubmit(request: Request) -> Response:
        account = await portal.current(request, Role.applicant)
        form = await portal.form_checked(request)
        return await send_materials(request, account, "resubmit", form.get("note", "").strip())
