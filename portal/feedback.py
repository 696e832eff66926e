"""What a person is asked before an action and told after it.

**Before**: an action that cannot be undone or counts toward a limit (starting the publicity,
a return for correction, accepting the materials, a defense score, an upheld objection, the
committee's votes) is sent only with `confirmed=yes` in its form. A post without it is
answered with the confirm page (`confirm.html`, status 200): the consequence in words, the
fields as they were posted, a required checkbox and a new request token; nothing is sent.
The check is on the server, so a post over plain HTTP is held as a browser's is.

**After**: a route that acted redirects with `?done=<action>`; the page then says what was
done (`done_text`: a fixed sentence per action, filled with facts the page reads itself —
never with text from the query).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.responses import HTMLResponse

from portal.deps import Page

CONFIRMED = "confirmed"  # the form field; its value must be "yes"
NOT_CARRIED = ("csrf_token", "request_token", CONFIRMED)  # the confirm page makes its own


@dataclass(frozen=True)
class Confirmation:
    title: str  # what is about to be done: 开始单位内部公示
    consequence: str  # what follows from it, and what cannot be undone
    button: str
    back: str  # where "do not do it" leads


def confirmed(form: dict[str, str]) -> bool:
    return form.get(CONFIRMED) == "yes"


def confirm_page(page: Page, action: str, form: dict[str, str], ask: Confirmation) -> HTMLResponse:
    """The confirm step of the action posted to `action` (the same route): the form's own
    fields carried along, to be posted again with the checkbox ticked."""
    fields = {k: v for k, v in form.items() if k not in NOT_CARRIED}
    return page.render("confirm.html", {"ask": ask, "action": action, "fields": fields})


def publicity_confirmation(back: str, ends_at: str | None) -> Confirmation:
    ends = f"，若现在开始，公示至{ends_at}结束" if ends_at else ""
    return Confirmation(
        "审核通过，开始单位内部公示",
        f"审核通过后立即开始单位内部公示：公示5个工作日{ends}。公示开始后不可撤回，也不能再退回申报人修改；"
        "公示期间只能登记和处理异议，公示期满且无成立的异议，方可推荐。",
        "确认审核通过，开始公示",
        back,
    )


def return_confirmation(
    back: str,
    returned: int,
    max_returns: int,
    hours: int,
    *,
    masking: bool = False,
    counted: bool = True,
) -> Confirmation:
    """R15: the return about to be made is number `returned + 1` of `max_returns`; one
    because the masking is incomplete (R11) counts only where the round says so."""
    fix = "重新遮盖并提交" if masking else "补正并重新提交"
    deadline = f"申报人须在{hours}小时内{fix}，逾期申报终止。"
    this = returned + 1
    if masking and not counted:
        said = (
            f"因遮盖不完整退回，本次不计入退回次数（已计入{returned}次，共{max_returns}次）。"
            + deadline
        )
    elif this > max_returns:
        said = (
            f"这是第{this}次退回，已超过{max_returns}次：退回后申报即被锁定，"
            "申报人不能再提交，本年度申报终止。"
        )
    else:
        said = (
            f"这是第{this}次退回（共{max_returns}次）；第{max_returns + 1}次退回将锁定申报，"
            "申报人不能再提交。" + deadline
        )
    title = "因遮盖不完整退回" if masking else "退回补正"
    return Confirmation(title, said, f"确认{title}", back)


def accept_confirmation(back: str) -> Confirmation:
    return Confirmation(
        "材料齐全，受理",
        "受理后申报进入缴费环节，不能再退回补正；申报人将收到受理和缴费通知。",
        "确认受理",
        back,
    )


def score_confirmation(back: str) -> Confirmation:
    return Confirmation(
        "录入答辩成绩",
        "成绩录入后申报即进入评审委员会评议，成绩不能修改。",
        "确认录入成绩",
        back,
    )


def upheld_confirmation(back: str) -> Confirmation:
    return Confirmation(
        "认定异议成立",
        "异议成立的，申报即终止，不能恢复；申报人将收到通知。",
        "确认异议成立",
        back,
    )


def votes_confirmation(back: str) -> Confirmation:
    return Confirmation(
        "记录表决结果",
        "记录后，通过的申报进入评审结果公示，未通过的申报终止；表决结果不能更改。",
        "确认并记录表决结果",
        back,
    )


DONE_ZH = {
    # committee sessions (portal/routers/sessions.py)
    "draw_session": "已从专家库抽取委员和候补委员，已通知被抽取的专家确认。",
    "session_opened": "已开会：签到名单已固定，委员可以开始投票。",
    "session_closed": "已闭会：不再接受投票，系统正在计票并送交表决结果、生成会议记录。",
    "confirm_seat": "已确认参加本次评审会议，请在会议开始前签到。",
    "decline_seat": "已谢绝参加本次评审会议，席位将由候补委员递补。",
    "sign_in": "已签到。会议开始后即可查看申报材料并投票。",
    "ballot": "已投票（无记名：系统只记录您已投票）。",
    "start_publicity": "已审核通过，单位内部公示已开始{ends}。",
    "employer_return": "已退回申报人修改（不计入评审机构的退回次数）。",
    "raise_objection": "异议已登记；处理完毕前不能推荐。",
    "resolve_objection": "异议处理结果已记录。",
    "recommend": "已推荐，申报已报送{to}。",
    "competent_unit_recommend": "已推荐至评审机构。",
    "competent_unit_return": "已退回用人单位。",
    "accept_materials": "已受理，申报进入缴费环节，已通知申报人。",
    "return_for_correction": "已退回补正，已通知申报人。",
    "confirm_payment": "缴费已确认。",
    "arrange_defense": "答辩安排已发布{arrangement}，已通知申报人。",
    "record_defense_score": "答辩成绩已录入，申报进入评审委员会评议。",
    "supply_defense_averages": "已开始计算当年现场答辩平均分，并赋予驻村人员。",
    "open_session": "会议出席情况已登记。",
    "committee_votes": "表决结果已提交，正在逐份处理（见下方“表决结果的处理”）。",
    "assign": "已转办给{assignee}；转错了可再转回。",
}


def done_text(request: Any, **facts: str) -> str | None:
    """The sentence for the action named by the page's `?done=`, with the page's facts (an
    absent fact is left out); None without a known action."""
    template = DONE_ZH.get(request.query_params.get("done", ""))
    if template is None:
        return None
    said = {name: "" for name in ("ends", "to", "arrangement", "assignee")} | facts
    return template.format(**said)
