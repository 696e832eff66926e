"""A refusal's window or deadline, said in Chinese: what the workflow's refusal names as facts
(rules.actions.Refused.facts, carried as the failure's details) as a sentence that tells the
person when the action could have been done, or can be."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from rules.blind_review import SEEN_KINDS_ZH, IdentityKind
from rules.timezone import cn_datetime, cn_window

KIND_VALUES = {kind.value for kind in IdentityKind}

WINDOW_NAMES_ZH = {  # R9
    "submission": "本年度申报及单位审核、公示、推荐的时间",
    "review": "评审机构审核时间",
}
REFUSED_DEADLINES_ZH = {
    "correction": "补正期限（退回后48小时）",  # R15
    "payment": "缴费期限",  # R17
}

BOUNDARY_NAMES_ZH = {  # R9: the round's windows, moved by change_windows
    "submission_opens_at": "申报开始时间",
    "submission_closes_at": "申报截止时间",
    "review_opens_at": "评审机构审核开始时间",
    "review_closes_at": "评审机构审核截止时间",
    "payment_closes_at": "缴费截止时间",
}


def _day_or_moment(value: str) -> str:
    """'2025-09-22' -> '2025年09月22日'; an instant (a drill's) as cn_datetime writes it."""
    if "T" not in value:
        return f"{date.fromisoformat(value):%Y年%m月%d日}"
    return cn_datetime(value)


PROBLEMS_ZH = {  # an Invalid refusal's problem (workflows/refusals.py `invalid`)
    "opinion_wording": "推荐意见须为规定的表述：「{opinion}」。",  # R14
    "defense_in_past": "答辩时间{starts_at}已经过去，请填写今后的时间。",  # R18
    "defense_not_started": "答辩定于{starts_at}开始，答辩开始后才能录入答辩成绩。",  # R18
    "session_recorded": "会议{session_id}已经登记过，不能重复登记。",  # R20
    "boundary_in_past": "{boundary}不能调整到已经过去的时间（{at}）。",  # R9
    "assignee_elsewhere": "只能转办给持有该申报的本单位的同事。",  # R26
    "already_assigned": "该申报已由这位同事经办，无需再转办。",  # R26
    "masked_text_found": "第{material}份材料的遮盖副本中仍能识别出个人信息："  # R11
    "第{page}页 {place} 可见{kind}。请重新遮盖该材料后再提交。",
    "masked_check_pending": "第{material}份材料的遮盖检查尚未完成"  # R11
    "（系统正在识别遮盖副本中是否仍有个人信息），请稍后提交。",
    "quorum_not_met": "已签到{signed_in}人，委员{members}人：须至少{required}人签到"  # R20
    "（三分之二以上）会议方为有效，暂不能开会。",
    "seat_declined": "您已谢绝参加本次评审会议，不能再确认或签到。",  # R27
    "signed_in": "您已签到；签到后无需重复签到，也不能再谢绝。",  # R27
    "not_seated": "您是候补委员，尚未递补为委员，不能签到。",  # R27
    "unknown_declaration": "申报的回避事项不属于本次会议的申报。",  # R27
    "masked_check_missing": "第{material}份材料的遮盖副本尚未经过遮盖检查"  # R11
    "（遮盖检查尚未完成），请重新生成遮盖副本，检查完成后再提交。",
}


def _problem_text(facts: Mapping[str, str]) -> str | None:
    template = PROBLEMS_ZH.get(facts.get("problem", ""))
    if template is None:
        return None
    said = {
        name: BOUNDARY_NAMES_ZH.get(value, value)
        if name == "boundary"
        else SEEN_KINDS_ZH.get(IdentityKind(value), value)
        if name == "kind" and value in KIND_VALUES
        else cn_datetime(value)
        if name in ("at", "starts_at")
        else value
        for name, value in facts.items()
    }
    try:
        return template.format(**said)
    except KeyError:  # a fact missing: the kind's general sentence instead
        return None


def refused_text(kind: str, facts: Mapping[str, str] | None) -> str | None:
    """The sentence for a refusal with its facts (a window, a deadline, a named problem);
    None when it has none: the kind's general sentence is said instead."""
    if not facts:
        return None
    if "problem" in facts:
        return _problem_text(facts)
    if kind != "OutsideWindow":
        return None
    if facts.get("window") in WINDOW_NAMES_ZH and "opens_at" in facts and "closes_at" in facts:
        window = cn_window(facts["opens_at"], facts["closes_at"])
        return f"{WINDOW_NAMES_ZH[facts['window']]}为{window}，现在不在此时间内，不能办理。"
    if facts.get("deadline") in REFUSED_DEADLINES_ZH and "closes_at" in facts:
        name = REFUSED_DEADLINES_ZH[facts["deadline"]]
        return f"{name}已于{cn_datetime(facts['closes_at'])}截止，不能再办理。"
    if facts.get("boundary") in BOUNDARY_NAMES_ZH and "passed_at" in facts:  # R9
        name = BOUNDARY_NAMES_ZH[facts["boundary"]]
        return f"{name}（{cn_datetime(facts['passed_at'])}）已经过去，不能再调整。"
    if facts.get("deadline") == "publicity_start" and "latest_start" in facts:  # R10, R13
        ends = f"将于{cn_datetime(facts['ends_at'])}结束，" if "ends_at" in facts else ""
        return (
            f"现在开始公示，公示期{ends}来不及在申报截止前完成推荐；"
            f"最迟须在{_day_or_moment(facts['latest_start'])}开始公示。"
        )
    return None
