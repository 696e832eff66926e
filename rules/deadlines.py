"""Clock deadlines and window checks."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.round import RoundConfig
from rules.actions import Refused
from rules.timezone import shanghai_iso, to_shanghai


def correction_deadline(returned_at: datetime, hours: int = 48) -> datetime:
    """R15 (interp.): clock hours from the return, nights and holidays included."""
    return to_shanghai(returned_at) + timedelta(hours=hours)


def payment_deadline(round_config: RoundConfig, accepted_at: datetime) -> datetime:
    """R17 (interp.): the round's payment close, but never less than `payment_grace_days`
    clock days after the materials were accepted (a late review must not cost the applicant)."""
    grace_end = to_shanghai(accepted_at) + timedelta(days=round_config.payment_grace_days)
    return max(to_shanghai(round_config.payment_closes_at), grace_end)


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
