"""Tables people download as spreadsheets (.xlsx with openpyxl, or CSV that Excel opens as
UTF-8): the expert pool (documents/expert_sheets.py), a round's roster and figures
(documents/roster.py). Every cell is text, never a formula: in .xlsx by its type, in CSV by a
leading apostrophe on a cell that would start one."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from enum import StrEnum

from openpyxl import Workbook

FORMULA_STARTS = ("=", "+", "@")


class SheetKind(StrEnum):
    xlsx = "xlsx"
    csv = "csv"


def _csv_cell(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def write_table(rows: Sequence[Sequence[str]], kind: SheetKind, title: str) -> bytes:
    """`rows` (the header first) as one sheet named `title`, or as CSV."""
    if kind is SheetKind.csv:
        text = io.StringIO()
        csv.writer(text).writerows([[_csv_cell(cell) for cell in row] for row in rows])
        return text.getvalue().encode("utf-8-sig")  # the BOM: Excel reads it as UTF-8
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]  # Excel's limit
    for row in rows:
        sheet.append(list(row))
    for cells in sheet.iter_rows():
        for cell in cells:
            cell.data_type = "s"  # text, never a formula (a name may begin with "=")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
