"""The expert pool as a spreadsheet (documents/expert_sheets.py): an export reads back as
the same experts, never with an ID card; a bad file is refused with every error, by row and
column, in Chinese."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook

from documents.expert_sheets import COLUMNS, SheetError, SheetKind, read_sheet, write_sheet
from models.experts import ExpertView
from tests.helpers.experts import profile, uscc_of
from tests.helpers.projection import id_card


def _view(code: str, **fields: object) -> ExpertView:
    given = profile(past=[(2, date(2025, 3, 31))], **fields)  # type: ignore[arg-type]
    return ExpertView(code=code, relations=2, **given.model_dump(exclude={"relations"}))


def _csv(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows([list(COLUMNS.values()), *rows])
    return text.getvalue().encode()


@pytest.mark.parametrize("kind", list(SheetKind))
def test_an_export_reads_back_as_the_same_experts(kind: SheetKind) -> None:
    views = [_view("E0001"), _view("E0002", name="李秀英", active=False, mobile=None)]
    data = write_sheet(views, kind)
    rows = read_sheet(data, f"专家库.{kind.value}")
    assert [r.code for r in rows] == ["E0001", "E0002"]
    for row, view in zip(rows, views, strict=True):
        assert row.profile.relations is None  # the count: the declared ones stay
        assert row.profile.model_dump(exclude={"relations"}) == view.model_dump(
            exclude={"code", "relations", "updated_at"}
        )


def test_an_export_holds_text_never_a_formula() -> None:
    data = write_sheet([_view("E0001", name="=HYPERLINK(1)")], SheetKind.xlsx)
    (row,) = read_sheet(data, "pool.xlsx")
    assert row.profile.name == "=HYPERLINK(1)"
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None and sheet["B2"].data_type == "s"


def test_an_import_adds_with_relations_by_id_card() -> None:
    card = id_card(5)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "工作单位统一社会信用代码", "工作单位", "专业", "职称", "回避关系人"])
    sheet.append(["张伟", uscc_of(1), "示例单位", "光伏硅基", "高级工程师", f"{card}|配偶"])
    out = io.BytesIO()
    book.save(out)
    (row,) = read_sheet(out.getvalue(), "new.XLSX")
    assert row.code is None and row.line == 2
    assert row.profile.relations is not None and row.profile.relations[0].id_card == card


def test_every_error_is_told_by_row_and_column_and_nothing_is_read() -> None:
    good = ["", "王建国", uscc_of(1), "单位", "光伏硅基", "正高级工程师", "", "", "是", "", ""]
    bad = [
        "X1",
        "",
        "91650100000000000X",
        "单位",
        "光伏硅基",
        "正高级工程师",
        "12345",
        "not-mail",
        "也许",
        f"{uscc_of(2)}|旧单位|2025/13/01",
        "110105194912310021|配偶",
    ]
    with pytest.raises(SheetError) as refused:
        read_sheet(_csv([good, bad]), "pool.csv")
    assert refused.value.errors == [
        "第3行 在库（是/否）：应填「是」或「否」",
        "第3行 专家编号：应写作 E0001 这样的编号",
        "第3行 姓名：不能为空",
        "第3行 工作单位统一社会信用代码：不是有效的统一社会信用代码",
        "第3行 手机：不是有效的手机号码",
        "第3行 电子邮箱：不是有效的电子邮箱地址",
        "第3行 近三年曾任职单位：第1项 离职日期应写作 2024-06-30",
        "第3行 回避关系人：第1项 不是有效的身份证号",
    ]
    with pytest.raises(SheetError) as shape:
        read_sheet(_csv([[*good[:9], "只有名称", ""]]), "pool.csv")
    assert shape.value.errors == [
        "第2行 近三年曾任职单位：第1项应写作「统一社会信用代码|名称|离职日期」"
    ]
    with pytest.raises(SheetError) as kind:
        read_sheet(b"", "pool.xls")
    assert kind.value.errors == ["文件 pool.xls：只能导入 .xlsx 或 .csv 文件"]
    with pytest.raises(SheetError) as header:
        read_sheet("姓名\n王建国\n".encode(), "pool.csv")
    assert header.value.errors[0].startswith("第1行 表头：缺少列 工作单位统一社会信用代码")
