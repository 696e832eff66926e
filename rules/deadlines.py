"""Clock deadlines and window checks."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.round import RoundConfig
from rules.actions import Refused
from rules.timezone import cn_moment, shanghai_iso, to_shanghai


def correction_deadline(returned_at: datetime, hours: int = 48) -> datetime:
    """R15 (interp.): clock hours from the return, nights and holidays included."""
    return to_shanghai(returned_at) + timedelta(hours=hours)


def payment_deadline(round_config: RoundConfig, accepted_at: datetime) -> datetime:
    """R17 (interp.): the round's payment close, but never less than `payment_grace_days`
    clock days after the materials were accepted (a late review must not cost the applicant)."""
    grace_end = to_shanghai(accepted_at) + timedelta(days=round_config.payment_grace_days)
    return max(to_shanghai(round_config.payment_closes_at), grace_end)


def payment_deadline_explained(round_config: RoundConfig, accepted_at: datetime) -> str:
    """R17, for a person: how `payment_deadline` was computed from the acceptance, e.g.
    "自材料受理时（2026年10月12日 10:00）起至少7日（至10月19日 10:00），且不早于本轮缴费截止
    时间（2026年11月15日 24:00），取较晚者：至2026年11月15日 24:00止，按日历日计算，节假日
    不顺延"."""
    grace_end = to_shanghai(accepted_at) + timedelta(days=round_config.payment_grace_days)
    due = payment_deadline(round_config, accepted_at)
    return (
        f"自材料受理时（{cn_moment(accepted_at)}）起至少{round_config.payment_grace_days}日"
        f"（至{cn_moment(grace_end)}），且不早于本轮缴费截止时间"
        f"（{cn_moment(round_config.payment_closes_at)}），取较晚者：至{cn_moment(due)}止，"
        "按日历日计算，节假日不顺延"
    )


WINDOWS_EXPLAINED_ZH = {  # R9, R10: what each window of the notice is for, and its close
    "submission": (
        "网上材料申报",
        "用人单位审核、单位内部公示和推荐都须在此前完成，逾期未报送评审机构的申报终止",
    ),
    "review": ("评审机构审核", "审核期满仍未审核完毕的，评审机构继续审核，不影响申报人"),
}


def window_close_explained(name: str, opens_at: datetime, closes_at: datetime) -> str:
    """R9, R10, for a person: a window of the round is set by the notice (or the round's
    adjustment) in calendar days, so its close is not moved by holidays; `name`: submission or
    review. E.g. "按本年度评审通知，网上材料申报自2026年09月01日 00:00起，至2026年09月29日
    24:00止，按日历日计算，节假日不顺延；…"."""
    what, then = WINDOWS_EXPLAINED_ZH[name]
    opens = f"{to_shanghai(opens_at):%Y年%m月%d日 %H:%M}"
    return (
        f"按本年度评审通知，{what}自{opens}起，至{cn_moment(closes_at)}止，"
        f"按日历日计算，节假日不顺延；{then}"
    )


def window_refusal(
    name: str, at: datetime, opens_at: datetime, closes_at: datetime
) -> Refused | None:
    """R9: None inside [opens_at, closes_at), else OutsideWindow naming the window."""
    if opens_at <= at < closes_at:
        return None
    message = (
        f"outside the {name} window: {shanghai_iso(opens_at)} – {shanghai_iso(closes_at)}"
        f" (now {shanghai_iso(at)})"
    )
    facts = {
        "window": name,
        "opens_at": shanghai_iso(opens_at),
        "closes_at": shanghai_iso(closes_at),
    }
    return Refused("OutsideWindow", message, facts)


def deadline_refusal(name: str, at: datetime, deadline: datetime) -> Refused | None:
    """R15, R17: None before `deadline`, else OutsideWindow naming it (`name`: correction,
    payment)."""
    if at < deadline:
        return None
    message = f"the {name} deadline {shanghai_iso(deadline)} has passed"
    return Refused(
        "OutsideWindow", message, {"deadline": name, "closes_at": shanghai_iso(deadline)}
    )
