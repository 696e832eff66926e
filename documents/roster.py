"""A round's roster (花名册) and figures as spreadsheet tables (documents/spreadsheets.py), in
Chinese: what HR offices work from. Identities (name, employer) only for the roles that may
see them; the caller says which."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from models.common import (
    JURISDICTION_NAMES_ZH,
    LEVEL_NAMES_ZH,
    STAGE_NAMES_ZH,
    Jurisdiction,
    Level,
    Stage,
)
from models.statistics import Dimension, RoundFigures
from rules.timezone import shanghai_iso

ROSTER_HEADERS = [
    "申报编号", "姓名", "工作单位", "统一社会信用代码", "申报级别", "评审范围", "当前阶段",
    "退回补正次数", "下一期限（北京时间，+08:00）",
]  # fmt: skip
BLIND = "（不显示）"
FIGURE_HEADERS = {
    "declared": "申报", "recommended": "推荐", "returned": "被退回补正", "returns": "退回次数",
    "abandoned": "逾期未补正终止", "locked": "锁定", "passed": "评审通过", "approved": "审批通过",
    "revoked": "撤销", "overdue": "逾期", "in_progress": "办理中",
}  # fmt: skip
DIMENSION_HEADERS = {Dimension.level: "申报级别", Dimension.jurisdiction: "评审范围",
                     Dimension.employer: "工作单位"}  # fmt: skip


def _named(names: dict[Any, str], kind: type[Any], value: str) -> str:
    try:
        return names[kind(value)]
    except (KeyError, ValueError):
        return value


def roster_table(rows: Iterable[Any], *, identities: bool) -> list[list[str]]:
    """The header and one line per declaration (the projection's rows, by 申报编号)."""
    lines = [list(ROSTER_HEADERS)]
    for row in sorted(rows, key=lambda r: (r.number or "", r.workflow_id)):
        lines.append(
            [
                row.number or "",
                row.applicant_name if identities else BLIND,
                row.employer_name if identities else BLIND,
                row.employer_uscc if identities else BLIND,
                _named(LEVEL_NAMES_ZH, Level, row.level),
                _named(JURISDICTION_NAMES_ZH, Jurisdiction, row.jurisdiction),
                _named(STAGE_NAMES_ZH, Stage, row.stage),
                str(row.return_count),
                shanghai_iso(row.next_deadline) if row.next_deadline else "",
            ]
        )
    return lines


def figures_table(figures: RoundFigures, dimension: Dimension) -> list[list[str]]:
    """The figures per `dimension`, then the round's total."""
    lines = [[DIMENSION_HEADERS[dimension], *FIGURE_HEADERS.values()]]
    groups = [*figures.by.get(dimension, {}).items(), ("合计", figures.total)]
    for name, group in groups:
        label = _named(LEVEL_NAMES_ZH, Level, name) if dimension is Dimension.level else name
        if dimension is Dimension.jurisdiction:
            label = _named(JURISDICTION_NAMES_ZH, Jurisdiction, name)
        lines.append([label, *(str(getattr(group, key)) for key in FIGURE_HEADERS)])
    return lines
