"""What a form got wrong, in Chinese, field by field: pydantic's errors (from the declaration
form, or an action's payload: client.inputs.PayloadInvalid) under the name of the form field
they belong to, each said as a person reads it. The page shows each beside its field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic_core import ErrorDetails

from models.text import UNSTORABLE_TEXT
from models.validation import location

TYPE_MESSAGES = {  # pydantic's error types, in Chinese
    "missing": "此项必填。",
    "string_too_short": "此项必填。",
    "string_too_long": "内容过长（最多{max_length}个字）。",
    "string_type": "请填写文字。",
    "enum": "请从列表中选择。",
    "literal_error": "请从列表中选择。",
    "int_parsing": "请填写整数。",
    "int_from_float": "请填写整数。",
    "int_type": "请填写整数。",
    "float_parsing": "请填写数字。",
    "float_type": "请填写数字。",
    "greater_than_equal": "不能小于{ge}。",
    "less_than_equal": "不能大于{le}。",
    "bool_parsing": "请选择是或否。",
    "bool_type": "请选择是或否。",
    "datetime_type": "请填写日期和时间。",
    "timezone_aware": "请填写日期和时间。",
    UNSTORABLE_TEXT: "含有无法保存的控制字符（第{position}个字符），请删除后重新填写。",
    # a lone surrogate (pydantic's own check): to a person, invisible garbage pasted in
    "string_unicode": "含有无法保存的字符，请删除后重新填写。",
}

# The action forms' fields, named as the pages name them (for the sentence at the top).
FIELD_LABELS_ZH = {
    "note": "备注",
    "reason": "原因",
    "summary": "异议内容",
    "objection_id": "异议",
    "upheld": "异议是否成立",
    "resolution": "处理结果",
    "opinion": "推荐意见",
    "receipt_no": "缴费票据号",
    "starts_at": "答辩时间",
    "place": "答辩地点",
    "form": "答辩形式",
    "score": "答辩成绩",
    "session_id": "会议编号",
    "attending": "出席委员",
    "materials": "申报材料",
}


def error_message(error: ErrorDetails, own: Mapping[str, str] | None = None) -> str:
    """One error in Chinese: the field's own message for a value its validator refuses (`own`,
    by field name), else the type's, else pydantic's own words after "填写有误"."""
    name, kind = location(tuple(error["loc"])), str(error["type"])
    if own and name in own and kind == "value_error":
        return own[name]
    if kind in TYPE_MESSAGES:
        return TYPE_MESSAGES[kind].format(**(error.get("ctx") or {}))
    return "填写有误：" + str(error["msg"]).removeprefix("Value error, ")


def field_errors(
    errors: Iterable[ErrorDetails],
    fields: Iterable[str],
    own: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Each error under its form field's name (`fields`; `_form` for one that is not a field),
    in Chinese; the first error of a field wins."""
    known = set(fields)
    found: dict[str, str] = {}
    for error in errors:
        name = location(tuple(error["loc"]))
        found.setdefault(name if name in known else "_form", error_message(error, own))
    return found


def refusal_sentence(errors: Mapping[str, str]) -> str:
    """The sentence at the top of the page: the first wrong field by its label, and its error."""
    for name, message in errors.items():
        label = FIELD_LABELS_ZH.get(name)
        if label:
            return f"“{label}”{message}"
    return "填写的内容不完整或格式不对：" + next(iter(errors.values()), "")


def number(text: str) -> Any:
    """A form's number as JSON would carry it (12, 12.5); the text itself when it is not one,
    so that the payload's model names the field that is wrong."""
    text = text.strip()
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    return text


def boolean(text: str) -> Any:
    """A form's "true"/"false" (radio buttons' values) as a boolean; anything else as it is."""
    return {"true": True, "false": False}.get(text.strip(), text)
