"""The applicant's pages: creating the declaration in the browser (field-level validation,
portal/declaration_form.py), the materials (upload, the masking tool, R11), submission; after
a return the reason, the 48-hour countdown and resubmission (with replaced materials).

    GET  /applicant                                  the declaration, its materials, submit
    GET  /applicant/new, POST /applicant/new         create it (starts the Declaration workflow)
    POST /applicant/materials                        upload a scan (multipart: file, title)
    POST /applicant/materials/{id}/remove            take it off the list (draft, correction)
    GET  /applicant/materials/{id}/mask, POST ...    the masking tool: boxes -> masked copy
    GET  /applicant/uploads/{id}/pages/{n}           a page of one's own upload, as PNG
    POST /applicant/submit, POST /applicant/resubmit the `submit` / `resubmit` updates
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from client.codec import CodecKeyError
from client.declarations import declaration_state, open_declaration
from client.errors import ArchiveUnavailable, DeclarationRefused
from client.inputs import declaration_file, declaration_input
from client.masked_checks import start_masked_copy_check
from client.rounds import running_round_config
from models.accounts import AddressKind, address_username
from models.common import STAGE_NAMES_ZH, Stage
from models.declaration import Applicant, DeclarationInput, DeclarationState
from models.documents import DocumentKind
from models.masked_check import CheckStatus, MaskedCheck
from models.round import RoundConfig
from portal.applicant_guide import (
    GENERAL_MATERIALS_ZH,
    WHAT_FOLLOWS_ZH,
    declaration_path,
    level_requirements,
)
from portal.audit import recorded_details
from portal.context import QUERY_TIMEOUT, Portal, Refusal, log
from portal.declaration_form import FIELDS, FORM, declaration_data, declaration_errors
from portal.deps import (
    ApplicantPage,
    CheckedForm,
    CurrentApplicant,
    Page,
    PortalDep,
    Uploads,
    checked_form,
)
from portal.documents import document_pdf, pdf_download, published_pdf
from portal.masking import MIN_BOX_PERCENT, MIN_BOX_PIXELS, BoxesRefused, masked_copy_bounded
from portal.materials import started_input
from portal.uploads import (
    MULTIPART_OVERHEAD,
    SUFFIXES,
    StoredUpload,
    UploadRefused,
    find_own_by_sha256,
    find_upload,
    page_pixel_sizes,
    read_upload,
    set_masked,
    store_form_file,
    store_upload,
    upload_config,
)
from portal.viewer import page_png
from rules.blind_review import (
    IDENTITY_KINDS_ZH,
    SEEN_KINDS_ZH,
    IdentityKind,
    first_identifying_title,
    identifying_title,
)
from rules.calendar import CalendarYearUnknown
from rules.deadlines import payment_deadline, payment_deadline_explained, window_close_explained
from rules.identity import declaration_workflow_id, round_workflow_id
from rules.publicity import round_publicity_end_explained
from rules.timezone import SHANGHAI, cn_datetime, cn_moment, cn_window, shanghai_iso
from settings import Settings
from store.accounts import Account
from store.config_files import InputError, round_config_for
from store.masked_checks import checks_of
from store.tables import DeclarationRow
from store.uploads import DeclarationMaterial, Upload
from workflows import documents as docs

router = APIRouter()

EDITABLE = (Stage.draft, Stage.correction)  # the materials list can change only here
MAX_MATERIALS = 30


def shanghai_now() -> datetime:
    return datetime.now(SHANGHAI)


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


def unavailable(workflow_id: str, exc: BaseException) -> Refusal:
    log.warning("state of %s: %s", workflow_id, exc)
    return Refusal("暂时无法读取申报状态，请稍后刷新。", type(exc).__name__, 503)


async def find_current(page: Page) -> tuple[Current | None, Refusal | None]:
    """The applicant's newest declaration with its state (the workflow's `state` query)."""
    portal, key = page.portal, page.account.applicant_key
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
            state = await declaration_state(
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


async def materials_of(page: Page, workflow_id: str) -> list[dict[str, Any]]:
    """The materials of the declaration on the applicant's list (its own uploads only)."""
    query = (
        select(
            DeclarationMaterial.id.label("material_id"),
            DeclarationMaterial.title.label("material_title"),
            Upload.__table__,
        )
        .join(Upload, Upload.id == DeclarationMaterial.upload_id)
        .where(DeclarationMaterial.workflow_id == workflow_id)
        .where(Upload.owner_account_id == page.account.id)
        .order_by(DeclarationMaterial.id)
    )
    async with page.portal.engine().connect() as conn:
        found = (await conn.execute(query)).all()
    materials = [material_view(row) for row in found]
    copies = [m["upload"].masked_sha256 for m in materials if m["masked"]]
    checks = await checks_of(page.portal.engine(), workflow_id, copies)
    for m in materials:
        m["check"] = checks.get(m["upload"].masked_sha256) if m["masked"] else None
        m["check_text"] = check_text(m["check"]) if m["check"] else None
    return materials


def check_text(check: MaskedCheck) -> str:
    """The masked copy's OCR check as the applicant's list says it (R11). A copy without one
    (made before the checks) says nothing: if its declaration needs one, the submission's
    refusal says to make the copy again."""
    if check.status is CheckStatus.pending:
        if not check.pages:
            return "检查中"
        return f"检查中（第{min(check.pages_done + 1, check.pages)}页/共{check.pages}页）"
    if check.status is CheckStatus.clean:
        return "未发现可识别信息"
    seen = "；".join(
        f"第{f.page}页 {f.place} 可见{SEEN_KINDS_ZH[IdentityKind(f.kind)]}" for f in check.findings
    )
    return f"发现：{seen} — 请重新遮盖"


def _last_at(state: DeclarationState, action: str) -> datetime | None:
    done = [t.at for t in state.timeline if t.action == action]
    return done[-1] if done else None


def deadline_explanations(state: DeclarationState, settings: Settings) -> dict[str, str]:
    """How each deadline shown was computed (issue 14): the windows of the notice (R9, R10),
    the publicity's and the result publicity's end (R13, R20: the working days counted, the
    holidays skipped, the make-up workdays counted), the correction deadline (R15: clock
    hours) and the payment deadline (R17). One whose rule gives another moment than the
    workflow's (the round's windows moved since) is not explained."""
    explained: dict[str, str] = {}
    deadlines = {name: datetime.fromisoformat(at) for name, at in state.deadlines.items()}
    returned = _last_at(state, "return_for_correction")
    if returned and "correction_deadline" in deadlines:
        explained["correction_deadline"] = (
            f"自退回时（{cn_moment(returned)}）起计48小时，夜间和节假日照常计算"
        )
    try:
        config = round_config_for(state.round_year, settings)
    except (InputError, CalendarYearUnknown):
        return explained  # the deadlines stand; only their explanations are missing
    if "submission_closes_at" in deadlines:
        explained["submission_closes_at"] = window_close_explained(
            "submission", config.submission_opens_at, deadlines["submission_closes_at"]
        )
    if "review_opens_at" in deadlines and "review_closes_at" in deadlines:
        explained["review_closes_at"] = window_close_explained(
            "review", deadlines["review_opens_at"], deadlines["review_closes_at"]
        )
    accepted = _last_at(state, "accept_materials")
    due = deadlines.get("payment_due_at")
    if accepted and due and payment_deadline(config, accepted) == due:
        explained["payment_due_at"] = payment_deadline_explained(config, accepted)
    for name, action in (
        ("publicity_ends_at", "start_publicity"),
        ("result_publicity_ends_at", "committee_vote"),
    ):
        started = _last_at(state, action)
        if started and name in deadlines:
            with suppress(CalendarYearUnknown):  # the deadline stands, unexplained
                explained[name] = round_publicity_end_explained(config, started)
    return explained


async def applicant_page(page: Page, refusal: Refusal | None = None) -> HTMLResponse:
    current, problem = await find_current(page)
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
        materials = await materials_of(page, current.workflow_id)
    this_year = shanghai_now().year
    round_config, round_note = None, None
    if current is None:  # before declaring: the round's dates and what each level needs
        try:
            round_config = await open_round(page.portal)
        except Refusal as closed:
            round_note = closed.text
    defense = None
    if current is not None and current.state.stage is Stage.defense:  # R18: the latest one
        arranged = await recorded_details(
            page.portal, current.workflow_id, ["arrange_defense"], ("starts_at", "place", "form")
        )
        defense = arranged[-1] if arranged else None
    context = {
        "path": declaration_path(state),
        "explained": deadline_explanations(state, page.portal.settings) if state else {},
        "round": round_config,
        "round_note": round_note,
        "requirements": level_requirements(round_config) if round_config else {},
        "general_materials": GENERAL_MATERIALS_ZH,
        "what_follows": WHAT_FOLLOWS_ZH.get(state.stage) if state else None,
        "defense": defense,
        "contact": page.portal.settings.document_contact,
        "declaration": current,
        "state": state,
        "return_reason": return_reason,
        "remaining": remaining,
        "materials": materials,
        "editable": state is not None and state.stage in EDITABLE,
        "unmasked": [m["title"] for m in materials if not m["masked"]],
        "can_create": problem is None and (current is None or current.state.round_year < this_year),
        "max_mb": upload_config(page.request.app).max_bytes / 1024 / 1024,
    }
    return page.render("applicant.html", context, refusal)


async def editable_current(page: Page) -> Current:
    current, problem = await find_current(page)
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


async def own_material(page: Page, workflow_id: str, material_id: int) -> dict[str, Any]:
    for material in await materials_of(page, workflow_id):
        if material["id"] == material_id:
            return material
    raise HTTPException(404, "没有这份材料")


# --- the declaration page ----------------------------------------------------------------


@router.get("/applicant", response_class=HTMLResponse)
async def applicant_home(page: ApplicantPage) -> Response:
    return await applicant_page(page)


@router.get("/applicant/material-requirements")
async def material_requirements_pdf(page: ApplicantPage) -> Response:
    """Attachment 1 (网上申报材料填写要求) of this year's round: as the round published it,
    else rendered from the round's configuration (the same template)."""
    try:
        config = await open_round(page.portal)
    except Refusal as closed:
        return await applicant_page(page, closed)
    scope = round_workflow_id(config.year)
    data = await published_pdf(page.portal, scope, DocumentKind.material_requirements)
    if data is None:
        request = docs.material_requirements(config, scope, datetime.now(UTC))
        data = await document_pdf(request, page.portal.settings)
    return pdf_download(data, f"附件1-{config.year}年度网上申报材料填写要求.pdf")


# --- creating it ---------------------------------------------------------------------------


async def open_round(portal: Portal) -> RoundConfig:
    """The round of the current year (Asia/Shanghai): the running Round workflow's
    configuration (its windows after any change), else the round file / the notice's
    pattern. Refusal when its submission has closed or its calendar is unknown."""
    year = shanghai_now().year
    settings = portal.settings
    try:
        config = await running_round_config(await portal.temporal(), year)
    except (RPCError, RuntimeError, OSError) as exc:  # Temporal not reachable
        log.warning("round %s: %s", year, exc)
        raise Refusal("系统暂时无法办理，请稍后重试。", type(exc).__name__, 503) from None
    if config is None:
        try:
            config = round_config_for(year, settings)
        except (InputError, CalendarYearUnknown) as exc:
            raise Refusal(f"{year}年度的职称评审尚未开放，请留意通知。", str(exc), 409) from None
    if shanghai_now() >= config.submission_closes_at:
        raise Refusal(
            f"{year}年度网上申报已于{cn_datetime(config.submission_closes_at)}截止，"
            "目前没有开放申报的评审年度。",
            f"round {year}: submission closed at {shanghai_iso(config.submission_closes_at)}",
            409,
        )
    return config


def new_page(
    page: Page,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    refusal: Refusal | None = None,
    round_config: RoundConfig | None = None,
) -> HTMLResponse:
    context = {
        "form": FORM,
        "values": values,
        "errors": errors or {},
        "round": round_config,
        "window": round_config
        and cn_window(round_config.submission_opens_at, round_config.submission_closes_at),
    }
    response = page.render("applicant_new.html", context, refusal)
    if errors and refusal is None:
        response.status_code = 400
    return response


@router.get("/applicant/new", response_class=HTMLResponse)
async def new_declaration(page: ApplicantPage) -> Response:
    current, _ = await find_current(page)
    if current is not None and current.state.round_year >= shanghai_now().year:
        return RedirectResponse("/applicant", 303)
    try:
        round_config = await open_round(page.portal)
    except Refusal as refusal:
        return new_page(page, {}, refusal=refusal)
    return new_page(page, prefilled(page), round_config=round_config)


def prefilled(page: Page) -> dict[str, str]:
    """The form's applicant fields from the account: its name, ID-card number (sealed at
    rest, shown here only: the applicant's own form) and registered addresses."""
    account = page.account
    if not (account.id_card_sealed and account.applicant_key):
        return {}
    try:
        id_card = page.portal.id_cards.open(account.id_card_sealed, account.applicant_key)
    except CodecKeyError as exc:  # its key no longer listed: the applicant types it
        log.warning("account %s: ID card not prefilled: %s", account.id, exc)
        return {}
    values = {"applicant.name": account.display_name, "applicant.id_card": id_card}
    if account.mobile:
        values["applicant.mobile"] = address_username(AddressKind.mobile, account.mobile)
    if account.email:
        values["applicant.email"] = account.email
    return values


@router.post("/applicant/new", response_class=HTMLResponse)
async def create_declaration(page: ApplicantPage, form: CheckedForm) -> Response:
    portal, account = page.portal, page.account
    values = {k: v for k, v in form.items() if k in FIELDS}
    try:
        round_config = await open_round(portal)
    except Refusal as no_round:
        return new_page(page, values, refusal=no_round)

    def refused(errors: dict[str, str] | None, refusal: Refusal | None = None) -> HTMLResponse:
        return new_page(page, values, errors, refusal, round_config)

    data = declaration_data(form)
    try:
        declaration_file(data)
    except ValidationError as exc:
        return refused(declaration_errors(exc))
    settings = portal.settings
    declaration = declaration_input(data, round_config, "form", settings.applicant_key_secret)
    # R11 (interp.): the portal's declarations need each masked copy's OCR check clean
    declaration = declaration.model_copy(update={"masked_text_check": True})
    key = declaration.applicant_key
    if account.applicant_key and account.applicant_key != key:
        return refused({"applicant.id_card": "该身份证号码与您账户绑定的申报人不一致。"})

    async def bind(_: DeclarationInput) -> None:  # checked and about to start: bind it
        if not account.applicant_key:
            await bind_applicant(portal, account.id, key)

    try:
        await open_declaration(
            await portal.temporal(),
            declaration,
            settings.task_queue,
            signer=portal.signer,
            engine=portal.engine(),
            before_start=bind,
        )
    except DeclarationRefused as exc:  # R1–R10: said now, and nothing started
        return refused(None, declaration_refusal(exc, round_config.year))
    except (ArchiveUnavailable, RPCError, RuntimeError) as exc:
        log.warning("starting a declaration: %s", exc)
        refusal = Refusal("系统暂时无法办理，请稍后重试。", type(exc).__name__, 503)
        return refused(None, refusal)
    return RedirectResponse("/applicant", 303)


def declaration_refusal(exc: DeclarationRefused, year: int) -> Refusal:
    """What the applicant reads when their declaration cannot be opened (nothing started)."""
    if exc.reason == "Ineligible":
        return Refusal(
            "不符合申报条件："
            + "；".join(f"{r.condition_zh}：{r.reason_zh}" for r in exc.refusals),
            "; ".join(f"{r.rule}: {r.reason}" for r in exc.refusals),
            400,
        )
    if exc.reason == "IdentifyingTitle":
        text = f"材料名称含有申报人的个人信息{BLIND_TITLES}，未能创建申报。"
        return Refusal(text, exc.message, 400)
    if exc.reason == "AlreadyDeclared":
        return Refusal(
            f"您在{year}年度已有一份申报（每人每个评审年度只能申报一次）。",
            "AlreadyDeclared: one declaration per applicant per round",
            409,
        )
    return Refusal(f"{year}年度网上申报已经截止，不能再新建申报。", f"{exc.reason}: {exc}", 409)


async def bind_applicant(portal: Portal, account_id: int, key: str) -> None:
    """An applicant account without an applicant yet is bound to this one, once."""
    async with portal.engine().begin() as conn:
        await conn.execute(
            update(Account)
            .where(Account.id == account_id, Account.applicant_key.is_(None))
            .values(applicant_key=key)
        )


# --- materials -----------------------------------------------------------------------------


BLIND_TITLES = "（盲评：评审机构能看到材料名称）"


def title_problem(title: str, applicant: Applicant) -> str | None:
    if not title:
        return "请填写材料名称（如：学历证书）。"
    if len(title) > 100:
        return "材料名称最多100个字。"
    kind = identifying_title(title, applicant)
    if kind is not None:  # R11, as the workflow checks it at submission
        return (
            f"材料名称中不能含有{IDENTITY_KINDS_ZH[kind]}{BLIND_TITLES}，"
            "请改用如“学历证书”“业绩证明（专利）”的名称。"
        )
    return None


async def applicant_of(page: Page, workflow_id: str) -> Applicant:
    """The applicant as the declaration's workflow holds them (its start input): what the
    titles are checked against (R11)."""
    try:
        return (await started_input(await page.portal.temporal(), workflow_id)).applicant
    except (RPCError, RuntimeError, LookupError) as exc:
        raise unavailable(workflow_id, exc) from None


@router.post("/applicant/materials", response_class=HTMLResponse)
async def upload_material(page: ApplicantPage, uploads: Uploads) -> Response:
    length = page.request.headers.get("content-length", "")
    if length.isdigit() and int(length) > uploads.max_bytes + MULTIPART_OVERHEAD:
        # refused before reading the body; the CSRF token is never looked at: nothing
        # is done either way
        refusal = Refusal(
            f"文件过大：不能超过{uploads.max_bytes / 1024 / 1024:.0f}MB。",
            f"request of {length} bytes",
            413,
        )
        return await applicant_page(page, refusal)
    form = await checked_form(page.request)  # here, after the size: not as a dependency
    try:
        current = await editable_current(page)
    except Refusal as not_editable:
        return await applicant_page(page, not_editable)
    upload = (await page.request.form()).get("file")
    title = form.get("title", "").strip()
    if upload is None or isinstance(upload, str) or not upload.filename:
        refusal = Refusal("请选择要上传的文件。", "no file", 400)
        return await applicant_page(page, refusal)
    try:
        applicant = await applicant_of(page, current.workflow_id)
    except Refusal as unreadable:
        return await applicant_page(page, unreadable)
    problem = title_problem(title, applicant)
    if problem:
        return await applicant_page(page, Refusal(problem, "title", 400))
    listed = await materials_of(page, current.workflow_id)
    if len(listed) >= MAX_MATERIALS:
        refusal = Refusal(f"材料最多{MAX_MATERIALS}份。", "too many materials", 400)
        return await applicant_page(page, refusal)
    try:
        stored = await store_form_file(
            page.portal.engine(), uploads, owner_account_id=page.account.id, file=upload
        )
    except UploadRefused as refused:
        refusal = Refusal(refused.text, refused.detail, refused.status)
        return await applicant_page(page, refusal)
    if any(m["upload"].id == stored.id for m in listed):
        refusal = Refusal("这份文件已在材料清单中。", "already listed", 409)
        return await applicant_page(page, refusal)
    async with page.portal.engine().begin() as conn:
        await conn.execute(
            insert(DeclarationMaterial).values(
                workflow_id=current.workflow_id, upload_id=stored.id, title=title
            )
        )
    return RedirectResponse("/applicant#materials", 303)


@router.post("/applicant/materials/{material_id}/remove", response_class=HTMLResponse)
async def remove_material(
    page: ApplicantPage,
    _form: CheckedForm,  # its CSRF token; the form has nothing else
    material_id: int,
) -> Response:
    try:
        current = await editable_current(page)
    except Refusal as refusal:
        return await applicant_page(page, refusal)
    await own_material(page, current.workflow_id, material_id)
    async with page.portal.engine().begin() as conn:
        await conn.execute(delete(DeclarationMaterial).where(DeclarationMaterial.id == material_id))
    return RedirectResponse("/applicant#materials", 303)


# --- the masking tool ----------------------------------------------------------------------


async def mask_page(page: Page, material_id: int, refusal: Refusal | None = None) -> HTMLResponse:
    current, problem = await find_current(page)
    if current is None:
        if problem is not None:
            return await applicant_page(page, problem)
        raise HTTPException(404, "没有您的申报")
    material = await own_material(page, current.workflow_id, material_id)
    upload: StoredUpload = material["upload"]
    masked = None
    if upload.masked_sha256:
        masked = await find_own_by_sha256(
            page.portal.engine(), page.account.id, upload.masked_sha256
        )
    outlines = await finding_outlines(page, masked, material["check"]) if masked else {}
    context = {
        "material": material,
        "upload": upload,
        "masked": masked,
        "check": material["check"],
        "check_text": material["check_text"],
        "outlines": outlines,
        "editable": current.state.stage in EDITABLE,
        "min_box": {"percent": MIN_BOX_PERCENT, "pixels": MIN_BOX_PIXELS},
    }
    return page.render("applicant_mask.html", context, refusal)


async def finding_outlines(
    page: Page, masked: StoredUpload, check: MaskedCheck | None
) -> dict[int, list[dict[str, Any]]]:
    """The check's findings as outlines on the masked copy's page images, by page (1-based):
    each box in percent of its page (the image scales with the page's width)."""
    if check is None or not check.findings:
        return {}
    uploads = upload_config(page.request.app)
    data = await run_in_threadpool(read_upload, uploads.directory, masked.sha256)
    sizes, _ = await run_in_threadpool(page_pixel_sizes, data, masked.media_type)
    outlines: dict[int, list[dict[str, Any]]] = {}
    for f in check.findings:
        if not 1 <= f.page <= len(sizes):
            continue
        width, height = sizes[f.page - 1]
        x, y, w, h = f.box
        outlines.setdefault(f.page, []).append(
            {
                "left": round(100 * x / width, 2),
                "top": round(100 * y / height, 2),
                "width": round(100 * w / width, 2),
                "height": round(100 * h / height, 2),
                "title": f"{f.place} 可见{SEEN_KINDS_ZH[IdentityKind(f.kind)]}",
            }
        )
    return outlines


@router.get("/applicant/materials/{material_id}/mask", response_class=HTMLResponse)
async def mask_tool(page: ApplicantPage, material_id: int) -> Response:
    return await mask_page(page, material_id)


@router.post("/applicant/materials/{material_id}/mask", response_class=HTMLResponse)
async def mask_material(
    page: ApplicantPage, form: CheckedForm, uploads: Uploads, material_id: int
) -> Response:
    try:
        current = await editable_current(page)
    except Refusal as not_editable:
        return await mask_page(page, material_id, not_editable)
    material = await own_material(page, current.workflow_id, material_id)
    upload: StoredUpload = material["upload"]
    data = await run_in_threadpool(read_upload, uploads.directory, upload.sha256)
    try:
        copy = await run_in_threadpool(
            masked_copy_bounded, data, upload.media_type, form.get("boxes", "")
        )
    except BoxesRefused as refused:
        refusal = Refusal(refused.text, refused.detail, 400)
        return await mask_page(page, material_id, refusal)
    engine = page.portal.engine()
    stored = await store_upload(
        engine,
        uploads.directory,
        owner_account_id=page.account.id,
        declared_name=f"masked-{upload.sha256[:12]}.{SUFFIXES[copy.media_type]}",
        data=copy.data,
        max_bytes=None,  # made here, from pages already checked
    )
    await set_masked(engine, upload.id, stored.sha256)
    try:  # R11: OCR of the copy, in the background (its progress on the materials list)
        await start_masked_copy_check(
            await page.portal.temporal(),
            engine,
            declaration_id=current.workflow_id,
            applicant=await applicant_of(page, current.workflow_id),
            masked_sha256=stored.sha256,
            media_type=copy.media_type,
            pages=copy.pages,
            task_queue=page.portal.settings.task_queue,
        )
    except (Refusal, RPCError, RuntimeError) as exc:
        log.warning("masked-copy check of %s not started: %s", current.workflow_id, exc)
        refusal = Refusal(
            "遮盖副本已生成，但遮盖检查暂时未能开始，请稍后再次点击“生成遮盖副本”。",
            type(exc).__name__,
            503,
        )
        return await mask_page(page, material_id, refusal)
    return RedirectResponse(f"/applicant/materials/{material_id}/mask#masked", 303)


@router.get("/applicant/uploads/{upload_id}/pages/{index}")
async def upload_page(
    portal: PortalDep, account: CurrentApplicant, uploads: Uploads, upload_id: int, index: int
) -> Response:
    """A page of one's own upload (an original or its masked copy) as PNG: what the
    masking tool shows and burns (portal.uploads.page_images)."""
    upload = await find_upload(portal.engine(), upload_id, owner_account_id=account.id)
    return await page_png(uploads, upload, index)


# --- submission and resubmission ----------------------------------------------------------


async def send_materials(
    page: Page, action: str, note: str | None, request_token: str | None
) -> Response:
    current, problem = await find_current(page)
    if problem is not None:
        return await applicant_page(page, problem)
    if current is None:
        raise HTTPException(404, "没有您的申报")
    listed = await materials_of(page, current.workflow_id)
    unmasked = [m["title"] for m in listed if not m["masked"]]
    if unmasked:  # R11: said here; the workflow's validator refuses it as well
        refusal = Refusal(
            "以下材料尚未遮盖本人姓名和工作单位，不能提交："
            + "、".join(unmasked)
            + "。请先使用遮盖工具。",
            "R11: materials not masked",
            409,
        )
        return await applicant_page(page, refusal)
    titles = [m["title"] for m in listed]
    try:
        found = first_identifying_title(titles, await applicant_of(page, current.workflow_id))
    except Refusal as unreadable:
        return await applicant_page(page, unreadable)
    if found is not None:  # R11: a title listed before the check; the workflow refuses it too
        index, kind = found
        refusal = Refusal(
            f"第{index + 1}份材料“{titles[index]}”的名称含有{IDENTITY_KINDS_ZH[kind]}"
            f"{BLIND_TITLES}，不能提交。请移除该材料，改用不含个人信息的名称重新上传。",
            f"R11: materials[{index}]: the title identifies the applicant ({kind})",
            409,
        )
        return await applicant_page(page, refusal)
    materials = [
        {"name": m["title"], "sha256": m["upload"].masked_sha256, "masked": True} for m in listed
    ]
    # An empty list leaves the declaration's own materials (one started from a file)
    data = {"note": note or None, "materials": materials or None}
    try:
        await page.portal.send(
            page.account, current.workflow_id, action, data, request_token=request_token
        )
    except Refusal as refusal:
        if "no materials" in refusal.detail:
            refusal = Refusal("请先上传材料并完成遮盖后再提交。", refusal.detail, 409)
        elif refusal.detail.startswith("WrongStage") or current.state.stage.is_ending:
            # an ended declaration takes no update at all: said as the wrong stage it is
            refusal = Refusal(wrong_stage_text(action, current.state), refusal.detail, 409)
        return await applicant_page(page, refusal)
    return RedirectResponse("/applicant", 303)


SENDS_ZH = {"submit": ("提交", "填报中"), "resubmit": ("重新提交", "退回补正")}


def wrong_stage_text(action: str, state: DeclarationState) -> str:
    """Why the applicant cannot submit (resubmit) now, with the stage it is in and, after the
    correction deadline (R15), when that passed."""
    verb, when = SENDS_ZH[action]
    stage = STAGE_NAMES_ZH[state.stage]
    text = f"您的申报当前处于“{stage}”阶段，不能{verb}（只有{when}时可以{verb}）。"
    due = state.deadlines.get("correction_deadline")
    if action == "resubmit" and due and state.stage is not Stage.correction:
        text += f"补正期限为{cn_moment(due)}（北京时间 UTC+08:00）。"
    return text


@router.post("/applicant/submit", response_class=HTMLResponse)
async def applicant_submit(page: ApplicantPage, form: CheckedForm) -> Response:
    return await send_materials(
        page, "submit", form.get("note", "").strip(), form.get("request_token")
    )


@router.post("/applicant/resubmit", response_class=HTMLResponse)
async def applicant_resubmit(page: ApplicantPage, form: CheckedForm) -> Response:
    return await send_materials(
        page, "resubmit", form.get("note", "").strip(), form.get("request_token")
    )
