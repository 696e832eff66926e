"""Issue 14, item 4: every refusal outside a window names the window. The windows and
deadlines each action's validator checks are read from the Declaration workflow itself (its
`_check_<action>` methods and the checks they call), so an action given a new window is
tested here without anyone listing it; each is refused through the same rule the workflow
calls and said as the portal says it (portal/refusal_text.py)."""

from __future__ import annotations

import inspect
import re
from datetime import timedelta

import pytest

from portal.refusal_text import REFUSED_DEADLINES_ZH, WINDOW_NAMES_ZH, refused_text
from rules.actions import ACTIONS, Refused
from rules.deadlines import deadline_refusal, window_refusal
from rules.round_plan import late_publicity_refusal
from rules.timezone import cn_datetime, cn_window
from tests.helpers.samples import sample_round_config
from workflows.declaration import DeclarationWorkflow

# A method that checks one window on its own, by name (the rest name theirs in the call).
NAMED_CHECKS = {
    "_check_submission_window": ("window", "submission"),
    "_check_review_open": ("window", "review"),
}
WINDOW_CALL = re.compile(r'_check_window\(\s*"(\w+)"')
DEADLINE_CALL = re.compile(r'_check_before\([^)]*?"(\w+)"\s*\)')
CALLS = re.compile(r"self\.(_check_\w+)\(")


def checks_of(method: str, seen: frozenset[str] = frozenset()) -> set[tuple[str, str]]:
    """The (window | deadline, name) pairs `method` of the workflow checks, itself or through
    the `_check_…` methods it calls."""
    if method in NAMED_CHECKS:
        return {NAMED_CHECKS[method]}
    source = inspect.getsource(getattr(DeclarationWorkflow, method))
    found = {("window", name) for name in WINDOW_CALL.findall(source)}
    found |= {("deadline", name) for name in DEADLINE_CALL.findall(source)}
    if "late_publicity_refusal(" in source:
        found.add(("deadline", "publicity_start"))
    for called in set(CALLS.findall(source)) - seen - {method}:
        if hasattr(DeclarationWorkflow, called):
            found |= checks_of(called, seen | {method})
    return found


ACTION_WINDOWS = sorted(
    (action, kind, name)
    for action in ACTIONS
    if hasattr(DeclarationWorkflow, f"_check_{action}")
    for kind, name in checks_of(f"_check_{action}")
)


def test_the_actions_with_windows_are_found() -> None:
    """The reading above finds what the notice sets (R9, R10, R13, R15, R17)."""
    assert {
        ("submit", "window", "submission"),
        ("start_publicity", "window", "submission"),
        ("start_publicity", "deadline", "publicity_start"),
        ("accept_materials", "window", "review"),
        ("return_for_correction", "window", "review"),
        ("resubmit", "deadline", "correction"),
        ("confirm_payment", "deadline", "payment"),
    } <= set(ACTION_WINDOWS)


def refusal_for(kind: str, name: str) -> tuple[Refused, list[str]]:
    """The refusal the workflow makes for window or deadline `name` (now just past it), and
    what its sentence must say: the window's or deadline's name and its dates."""
    config = sample_round_config()
    if kind == "window":
        opens, closes = {
            "submission": (config.submission_opens_at, config.submission_closes_at),
            "review": (config.review_opens_at, config.review_closes_at),
        }[name]
        refused = window_refusal(name, closes + timedelta(minutes=1), opens, closes)
        assert refused is not None
        return refused, [WINDOW_NAMES_ZH[name], cn_window(opens, closes)]
    if name == "publicity_start":
        refused = late_publicity_refusal(config, config.submission_closes_at - timedelta(days=1))
        assert refused is not None and refused.facts is not None
        return refused, ["最迟须在", "开始公示"]
    due = config.payment_closes_at
    refused = deadline_refusal(name, due + timedelta(minutes=1), due)
    assert refused is not None
    return refused, [REFUSED_DEADLINES_ZH[name], cn_datetime(due)]


@pytest.mark.parametrize(("action", "kind", "name"), ACTION_WINDOWS)
def test_every_refusal_outside_a_window_names_it(action: str, kind: str, name: str) -> None:
    refused, named = refusal_for(kind, name)
    assert refused.kind == "OutsideWindow"
    text = refused_text(refused.kind, refused.facts)
    assert text is not None, (action, name)
    for part in named:
        assert part in text, (action, text)
    assert not re.search(r"[A-Za-z]{2,}", text.replace("UTC", "")), text
    assert not re.search(r"R\d+", text), text
