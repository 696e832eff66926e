"""The pages of an error a person can meet (a missing page, another's declaration, a form
not sent from the portal, an address with a malformed part): in Chinese, saying what to do,
never FastAPI's English JSON (issue 14). A redirect (the login page) stays a redirect."""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from portal.context import Portal, Refusal

ERRORS_ZH = {
    400: "请求的内容不完整或格式不对，请返回上一页，刷新后重新填写提交。",
    403: "您无权打开这个页面，或页面已过期：请刷新页面后重新提交；仍不行的，请重新登录。",
    404: "没有找到这个页面或这份申报，请从首页重新进入。",
    405: "不能这样打开这个页面，请从首页重新进入。",
    413: "提交的内容过大，请缩小文件后重新上传。",
    422: "网址或表单的内容不完整或格式不对，请从本系统的页面重新进入或提交。",
}
_CHINESE = re.compile(r"[\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def said_to_people(detail: object, status: int) -> str:
    """The exception's detail when it is a sentence for a person (Chinese, no English word),
    else the status's general sentence."""
    if isinstance(detail, str) and _CHINESE.search(detail) and not _LATIN_WORD.search(detail):
        return detail
    return ERRORS_ZH.get(status, "操作未能完成，请返回首页后重试。")


async def http_error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code < 400:  # a redirect (to the login page)
        return await http_exception_handler(request, exc)
    text = said_to_people(exc.detail, exc.status_code)
    return error_page(request, Refusal(text, str(exc.detail), exc.status_code), exc.headers)


async def invalid_request_page(request: Request, exc: Exception) -> Response:
    return error_page(request, Refusal(ERRORS_ZH[422], type(exc).__name__, 422))


def error_page(
    request: Request, refusal: Refusal, headers: Mapping[str, str] | None = None
) -> Response:
    portal: Portal = request.app.state.portal
    response = portal.render(request, "error.html", {}, refusal)
    response.headers.update(headers or {})
    return response


HANDLERS = {HTTPException: http_error_page, RequestValidationError: invalid_request_page}
