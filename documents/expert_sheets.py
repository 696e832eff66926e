"""The expert pool as a spreadsheet (.xlsx, or CSV in UTF-8) with Chinese headers, read and
written for the supervisor (the command line's `expert import|export`, the portal).

In documents/, not store/: a file format people read and fill in, no database (the import's
transaction is store/experts.py import_experts). Reading checks every row with the pool's
own model (models/experts.py) and reports every error as 「第N行 列名：问题」; any error
refuses the whole file. An export never holds an ID-card number: 回避关系人 is the count, which
an import reads as "unchanged"."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook
from pydantic import ValidationError

from documents.spreadsheets import SheetKind, write_table
from models.experts import ExpertView, ImportRow

COLUMNS = {
    "code": "专家编号",
    "name": "姓名",
    "employer_uscc": "工作单位统一社会信用代码",
    "employer_name": "工作单位",
    "specialty": "专业",
    "title": "职称",
    "mobile": "手机",
    "email": "电子邮箱",
    "active": "在库（是/否）",
    "past_employers": "近三年曾任职单位",
    "relations": "回避关系人",
}
REQUIRED = ("name", "employer_uscc", "employer_name", "specialty", "title")
# What a field's own check says, in Chinese (pydantic's messages are English)
INVALID = {
    "employer_uscc": "不是有效的统一社会信用代码",
    "uscc": "不是有效的统一社会信用代码",
    "mobile": "不是有效的手机号码",
    "email": "不是有效的电子邮箱地址",
    "id_card": "不是有效的身份证号",
    "left_on": "离职日期应写作 2024-06-30",
}
PART_NAMES = {
    "uscc": "统一社会信用代码",
    "name": "名称",
    "left_on": "离职日期",
    "id_card": "身份证号",
    "relation": "关系",
}
MAX_ROWS = 5000  # models.committee.MAX_POOL
YES, NO = "是", "否"
CLEAR_RELATIONS = "无"


class SheetError(ValueError):
    """A file refused as a whole: `errors` in Chinese, one per row and column."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} error(s) in the file")
        self.errors = errors


def sheet_kind(filename: str) -> SheetKind:
    """The kind by the file's name; SheetError for another."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in SheetKind.__members__:
        raise SheetError([f"文件 {filename}：只能导入 .xlsx 或 .csv 文件"])
    return SheetKind(suffix)


# --- writing ----------------------------------------------------------------------------------


def _cells(view: ExpertView) -> list[str]:
    past = "; ".join(f"{e.uscc}|{e.name}|{e.left_on.isoformat()}" for e in view.past_employers)
    values: dict[str, Any] = view.model_dump()
    values.update(
        active=YES if view.active else NO,
        past_employers=past,
        relations=str(view.relations),  # the count, never an ID card
    )
    return ["" if values.get(key) is None else str(values[key]) for key in COLUMNS]


def write_sheet(views: Sequence[ExpertView], kind: SheetKind) -> bytes:
    rows = [list(COLUMNS.values()), *(_cells(v) for v in views)]
    return write_table(rows, kind, "专家库")


# --- reading ----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _table(data: bytes, kind: SheetKind) -> list[list[str]]:
    if kind is SheetKind.csv:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")  # Excel's CSV on a Chinese Windows
            except UnicodeDecodeError:
                raise SheetError(["文件：不是 UTF-8 或 GB18030 编码的 CSV 文件"]) from None
        return [[_text(c) for c in row] for row in csv.reader(io.StringIO(text))]
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises several kinds for a file that is not a workbook
        raise SheetError(["文件：不是有效的 .xlsx 文件"]) from None
    sheet = book.worksheets[0]
    return [[_text(c) for c in row] for row in sheet.iter_rows(values_only=True)]


def _parts(cell: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    """`a|b|c; a|b|c` as one mapping per item; ValueError naming the item that is wrong."""
    separated = cell.replace("；", ";").replace("\n", ";")  # a page's text area: one a line
    items = [item.strip() for item in separated.split(";") if item.strip()]
    found = []
    for number, item in enumerate(items, 1):
        parts = [p.strip() for p in item.replace("｜", "|").split("|")]
        if len(parts) != len(names):
            shape = "|".join(PART_NAMES[n] for n in names)
            raise ValueError(f"第{number}项应写作「{shape}」")
        found.append(dict(zip(names, parts, strict=True)))
    return found


def _message(error: Any) -> str:
    kind, loc = error["type"], error["loc"]
    field = next((str(part) for part in reversed(loc) if isinstance(part, str)), "")
    if kind in ("missing", "string_too_short") or error.get("input", "") is None:
        return "不能为空"
    if kind == "string_too_long":
        return f"不能超过{error['ctx']['max_length']}个字"
    if kind == "too_long":
        return f"最多{error['ctx']['max_length']}项"
    return INVALID.get(field, "填写有误")


def read_cells(
    cells: dict[str, str], errors: list[str], line: int = 1, where: str | None = None
) -> ImportRow | None:
    """One expert from its cells by column key (COLUMNS; a page's form gives the same), or
    None with its errors appended as 「{where} 列名：问题」(`where`: 第N行 by default)."""
    prefix = f"第{line}行 " if where is None else where

    def wrong(column: str, what: str) -> None:
        errors.append(f"{prefix}{COLUMNS[column]}：{what}")

    values: dict[str, Any] = {key: cells.get(key) or None for key in REQUIRED}
    values["mobile"] = cells.get("mobile") or None
    values["email"] = cells.get("email") or None
    active = cells.get("active", "") or YES
    if active not in (YES, NO):
        wrong("active", "应填「是」或「否」")
    values["active"] = active == YES
    before = len(errors)
    for column, names in (
        ("past_employers", ("uscc", "name", "left_on")),
        ("relations", ("id_card", "relation")),
    ):
        cell = cells.get(column, "")
        if column == "relations" and (not cell or cell.isdigit()):
            values[column] = None  # empty, or an export's count: the declared ones stay
            continue
        if column == "relations" and cell == CLEAR_RELATIONS:
            values[column] = []
            continue
        try:
            values[column] = _parts(cell, names)
        except ValueError as exc:
            wrong(column, str(exc))
    code = cells.get("code") or None
    if len(errors) > before:
        return None
    try:
        return ImportRow.model_validate({"line": line, "code": code, "profile": values})
    except ValidationError as exc:
        for error in exc.errors():
            loc = [part for part in error["loc"] if part != "profile"]
            column = str(loc[0]) if loc and str(loc[0]) in COLUMNS else "code"
            item = f"第{loc[1] + 1}项 " if len(loc) > 2 and isinstance(loc[1], int) else ""
            if column == "code":
                wrong("code", "应写作 E0001 这样的编号")
            else:
                wrong(column, item + _message(error))
        return None


def read_sheet(data: bytes, filename: str) -> list[ImportRow]:
    """Every row of the file (the first sheet of a workbook), or SheetError with every error;
    the first row holds the headers (in any order; 专家编号 and the last two may be left out)."""
    table = _table(data, sheet_kind(filename))
    if not table:
        raise SheetError(["文件：是空的"])
    header = {text: index for index, text in enumerate(table[0]) if text}
    by_title = {title: key for key, title in COLUMNS.items()}
    missing = [COLUMNS[key] for key in REQUIRED if COLUMNS[key] not in header]
    if missing:
        raise SheetError([f"第1行 表头：缺少列 {'、'.join(missing)}"])
    if len(table) - 1 > MAX_ROWS:
        raise SheetError([f"文件：最多 {MAX_ROWS} 行专家"])
    rows: list[ImportRow] = []
    errors: list[str] = []
    for line, raw in enumerate(table[1:], 2):
        if not any(raw):
            continue  # a blank row
        cells = {
            by_title[title]: raw[index] if index < len(raw) else ""
            for title, index in header.items()
            if title in by_title
        }
        row = read_cells(cells, errors, line)
        if row is not None:
            rows.append(row)
    if errors:
        raise SheetError(errors)
    return rows
