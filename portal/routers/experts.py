"""The expert pool (R27), the supervisor's alone: list and search, add and edit (earlier
employers, related persons by ID card: typed, kept as a keyed hash, never shown back),
take out of the pool and put back with a confirmation, import and export a spreadsheet, and
each expert's change history (store/experts.py writes an audit row for every change).

    GET  /supervisor/experts                    the list (q, specialty, active in the address)
    GET  /supervisor/experts/new                the add form; POST adds
    GET  /supervisor/experts/{code}             one expert: the edit form, its history
    POST /supervisor/experts/{code}             the edit
    POST /supervisor/experts/{code}/active      in or out of the pool (confirmed first)
    POST /supervisor/experts/import             a .xlsx or .csv file: all rows or none
    GET  /supervisor/experts/export.{xlsx|csv}  the pool as a file (no ID card in it)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from documents.expert_sheets import COLUMNS, SheetError, SheetKind, read_cells, read_sheet
from documents.expert_sheets import write_sheet as sheet_bytes
from models.common import Actor, Role
from models.experts import MAX_NOTE, ExpertProfile, ExpertView
from portal.deps import CheckedForm, Page, SupervisorPage
from store.experts import (
    ImportRefused,
    add_expert,
    expert_changes,
    get_expert,
    import_experts,
    list_experts,
    set_active,
    specialties,
    update_expert,
)

router = APIRouter()
MAX_UPLOAD = 5 * 1024 * 1024
FIELD_NAMES = {key: title for key, title in COLUMNS.items()} | {
    "past_employers": "近三年曾任职单位",
    "relations": "回避关系人",
    "active": "在库状态",
}
ACTIONS_ZH = {"created": "入库", "updated": "修改", "deactivated": "停用", "activated": "恢复在库"}
MEDIA = {
    SheetKind.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    SheetKind.csv: "text/csv; charset=utf-8",
}


def _actor(page: Page) -> Actor:
    return Actor(role=Role.supervisor, id=f"supervisor:{page.account.username}")


def _note(form: dict[str, str]) -> str | None:
    """The change's note (the audit row's), as typed, bounded."""
    return form.get("note", "").strip()[:MAX_NOTE] or None


def _form_cells(form: dict[str, str]) -> dict[str, str]:
    """The form's fields as a spreadsheet row's cells (documents/expert_sheets.py reads both
    alike, with the same Chinese errors)."""
    cells = {key: form.get(key, "").strip() for key in COLUMNS if key not in ("code", "active")}
    if form.get("clear_relations") == "yes":
        cells["relations"] = "无"
    return cells


def _form_of(view: ExpertView | None, form: dict[str, str] | None = None) -> dict[str, str]:
    """What the form shows: what was typed (a refused post), else the expert as stored. The
    related persons' ID cards are never shown back."""
    if form is not None:
        return {k: v for k, v in _form_cells(form).items() if k != "relations"}
    if view is None:
        return {}
    past = "\n".join(f"{e.uscc}|{e.name}|{e.left_on.isoformat()}" for e in view.past_employers)
    values: dict[str, Any] = view.model_dump()
    return {
        key: past if key == "past_employers" else str(values.get(key) or "")
        for key in COLUMNS
        if key not in ("code", "active", "relations")
    }


@router.get("/supervisor/experts", response_class=HTMLResponse)
async def experts(
    page: SupervisorPage,
    q: Annotated[str, Query(max_length=100)] = "",
    specialty: Annotated[str, Query(max_length=100)] = "",
    active: Annotated[str, Query(pattern="^(|yes|no)$")] = "yes",
) -> Response:
    engine = page.portal.engine()
    found = await list_experts(
        engine,
        specialty=specialty or None,
        active={"yes": True, "no": False}.get(active),
        query=q or None,
    )
    context = {
        "experts": found,
        "q": q,
        "specialty": specialty,
        "active": active,
        "specialties": await specialties(engine),
    }
    return page.render("supervisor_experts.html", context)


async def _edit_page(
    page: SupervisorPage,
    view: ExpertView | None,
    errors: list[str] | None = None,
    form: dict[str, str] | None = None,
    done: str | None = None,
) -> Response:
    history = await expert_changes(page.portal.engine(), view.code) if view else []
    context = {
        "expert": view,
        "form": _form_of(view, form),
        "errors": errors or [],
        "done": done,
        "history": history,
        "field_names": FIELD_NAMES,
        "actions": ACTIONS_ZH,
    }
    response = page.render("supervisor_expert.html", context)
    if errors:
        response.status_code = 422
    return response


def _profile(
    form: dict[str, str], view: ExpertView | None
) -> tuple[ExpertProfile | None, list[str]]:
    errors: list[str] = []
    row = read_cells(_form_cells(form), errors, where="")
    if row is None:
        return None, errors
    active = view.active if view else True
    return row.profile.model_copy(update={"active": active}), []


@router.get("/supervisor/experts/new", response_class=HTMLResponse)
async def new_expert(page: SupervisorPage) -> Response:
    return await _edit_page(page, None)


@router.post("/supervisor/experts/new", response_class=HTMLResponse)
async def add(page: SupervisorPage, form: CheckedForm) -> Response:
    profile, errors = _profile(form, None)
    if profile is None:
        return await _edit_page(page, None, errors, form)
    secret = page.portal.settings.applicant_key_secret
    code = await add_expert(page.portal.engine(), profile, _actor(page), secret, _note(form))
    return RedirectResponse(f"/supervisor/experts/{code}?done=added", status_code=303)


@router.post("/supervisor/experts/import", response_class=HTMLResponse)
async def import_file(page: SupervisorPage, form: CheckedForm) -> Response:
    upload = (await page.request.form()).get("file")
    errors: list[str] = []
    summary = None
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors = ["请选择要导入的 .xlsx 或 .csv 文件"]
    else:
        data = await upload.read(MAX_UPLOAD + 1)
        try:
            if len(data) > MAX_UPLOAD:
                raise SheetError([f"文件 {upload.filename}：超过 5 MB"])
            rows = read_sheet(data, upload.filename)
            summary = await import_experts(
                page.portal.engine(),
                rows,
                _actor(page),
                page.portal.settings.applicant_key_secret,
                _note(form),
            )
        except (SheetError, ImportRefused) as exc:
            errors = exc.errors
    response = page.render("supervisor_experts_import.html", {"errors": errors, "summary": summary})
    if errors:
        response.status_code = 422
    return response


@router.get("/supervisor/experts/export.{kind}")
async def export(page: SupervisorPage, kind: SheetKind) -> Response:
    views = await list_experts(page.portal.engine())
    filename = f"experts.{kind.value}"
    return Response(
        sheet_bytes(views, kind),
        media_type=MEDIA[kind],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _expert(page: SupervisorPage, code: str) -> ExpertView:
    view = await get_expert(page.portal.engine(), code)
    if view is None:
        raise HTTPException(404, "专家库中没有这位专家")
    return view


DONE_ZH = {
    "added": "已加入专家库。",
    "saved": "已保存。",
    "unchanged": "没有改动。",
    "activated": "已恢复在库：此后的抽取会包括这位专家。",
    "deactivated": "已停用：此后的抽取不再包括这位专家，已抽中的评审会不受影响。",
}


@router.get("/supervisor/experts/{code}", response_class=HTMLResponse)
async def expert(
    page: SupervisorPage, code: str, done: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    return await _edit_page(page, await _expert(page, code), done=DONE_ZH.get(done))


@router.post("/supervisor/experts/{code}", response_class=HTMLResponse)
async def edit(page: SupervisorPage, code: str, form: CheckedForm) -> Response:
    view = await _expert(page, code)
    profile, errors = _profile(form, view)
    if profile is None:
        return await _edit_page(page, view, errors, form)
    secret = page.portal.settings.applicant_key_secret
    changed = await update_expert(
        page.portal.engine(), code, profile, _actor(page), secret, _note(form)
    )
    done = "saved" if changed else "unchanged"
    return RedirectResponse(f"/supervisor/experts/{code}?done={done}", status_code=303)


@router.post("/supervisor/experts/{code}/active", response_class=HTMLResponse)
async def activate(page: SupervisorPage, code: str, form: CheckedForm) -> Response:
    view = await _expert(page, code)
    active = form.get("active") == "yes"
    if form.get("confirmed") != "yes":
        ask = {
            "title": "恢复在库" if active else "停用专家",
            "consequence": (
                f"{view.name}（{view.code}）将重新进入专家库，此后的评审会抽取会包括这位专家。"
                if active
                else f"{view.name}（{view.code}）将不再被抽取为评审专家；信息和记录保留，"
                "可随时恢复在库。已抽中的评审会不受影响。"
            ),
            "button": "确认恢复" if active else "确认停用",
            "back": f"/supervisor/experts/{code}",
        }
        fields = {"active": "yes" if active else "no", "note": form.get("note", "")}
        context = {"ask": ask, "action": f"/supervisor/experts/{code}/active", "fields": fields}
        return page.render("confirm.html", context)
    await set_active(page.portal.engine(), code, active, _actor(page), _note(form))
    done = "activated" if active else "deactivated"
    return RedirectResponse(f"/supervisor/experts/{code}?done={done}", status_code=303)
