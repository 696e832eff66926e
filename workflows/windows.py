"""R9: a change of the round's windows, as the Round workflow accepts it and as each open
Declaration applies it. One set of rules for both, so a change the round accepts is one every
declaration takes. Plain functions (the workflow passes its clock), tested on their own
(tests/unit/test_workflow_builders.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import ValidationError

from models.round import WINDOW_FIELDS, RoundConfig
from rules.actions import Refused
from rules.timezone import shanghai_iso


def window_changes(
    config: RoundConfig, proposed: Mapping[str, datetime | None]
) -> dict[str, datetime]:
    """The proposed boundaries (by WINDOW_FIELDS name; None: not given) that differ from
    `config`'s: empty when the change is already applied (the round may send a page twice)."""
    return {
        name: at
        for name in WINDOW_FIELDS
        if (at := proposed.get(name)) is not None and at != getattr(config, name)
    }


def changed_config(config: RoundConfig, changes: Mapping[str, datetime]) -> RoundConfig | Refused:
    """`config` with `changes` applied, or why the windows would not be valid (in order,
    submission before review before payment: RoundConfig's own checks)."""
    try:
        return RoundConfig.model_validate(config.model_dump() | dict(changes))
    except ValidationError as exc:
        message = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        return Refused("Invalid", f"the changed windows are not valid: {message}")


def boundary_refusal(
    config: RoundConfig, changes: Mapping[str, datetime], now: datetime
) -> Refused | None:
    """The round's own rule: a boundary already passed cannot move, and none moves into the
    past. None when every change may be made now."""
    for name, at in changes.items():
        before = getattr(config, name)
        if before <= now:
            return Refused(
                "OutsideWindow",
                f"{name} {shanghai_iso(before)} has passed: a past boundary cannot move",
                {"boundary": name, "passed_at": shanghai_iso(before)},
            )
        if at <= now:
            facts = {"problem": "boundary_in_past", "boundary": name, "at": shanghai_iso(at)}
            return Refused("Invalid", f"{name} {shanghai_iso(at)} is in the past", facts)
    return None
