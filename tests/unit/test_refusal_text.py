"""Every refusal outside a window names the window, in Chinese, with its dates written one way
(portal/refusal_text.py over the facts the rules give: rules/deadlines.py, rules/round_plan.py,
workflows/windows.py)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from portal.refusal_text import refused_text
from rules.deadlines import deadline_refusal, window_refusal
from rules.round_plan import late_publicity_refusal
from rules.timezone import SHANGHAI
from tests.helpers.samples import sample_round_config
from workflows.windows import boundary_refusal

OPENS = datetime(2026, 10, 1, tzinfo=SHANGHAI)
CLOSES = datetime(2026, 10, 31, tzinfo=SHANGHAI)
LATIN = re.compile(r"[A-Za-z]{2,}")  # developer text; "UTC" of the offset is allowed below


def chinese(text: str | None) -> str:
    assert text is not None
    assert not LATIN.findall(text.replace("UTC", "")), text
    return text


def test_a_window_is_named_with_its_dates() -> None:
    refused = window_refusal("review", CLOSES, OPENS, CLOSES)
    assert refused is not None
    assert chinese(refused_text(refused.kind, refused.facts)) == (
        "评审机构审核时间为2026年10月01日 00:00至2026年10月30日 24:00（北京时间 UTC+08:00），"
        "现在不在此时间内，不能办理。"
    )
    early = window_refusal("submission", OPENS - timedelta(days=1), OPENS, CLOSES)
    assert early is not None
    assert chinese(refused_text(early.kind, early.facts)).startswith(
        "本年度申报及单位审核、公示、推荐的时间为2026年10月01日 00:00至"
    )


def test_a_deadline_is_named_with_its_moment() -> None:
    deadline = datetime(2026, 10, 3, 14, 30, tzinfo=SHANGHAI)
    refused = deadline_refusal("correction", CLOSES, deadline)
    assert refused is not None
    assert chinese(refused_text(refused.kind, refused.facts)) == (
        "补正期限（退回后48小时）已于2026年10月03日 14:30（北京时间 UTC+08:00）截止，不能再办理。"
    )


def test_a_late_publicity_names_its_latest_start_day() -> None:
    config = sample_round_config()  # 2025: the latest start is Sept 22
    refused = late_publicity_refusal(config, datetime(2025, 9, 23, 9, tzinfo=SHANGHAI))
    assert refused is not None
    text = chinese(refused_text(refused.kind, refused.facts))
    assert "最迟须在2025年09月22日开始公示" in text
    assert "公示期将于2025年09月29日 24:00（北京时间 UTC+08:00）结束" in text


def test_a_passed_boundary_of_the_round_is_named() -> None:
    config = sample_round_config()
    later = config.submission_closes_at + timedelta(days=3)
    refused = boundary_refusal(config, {"submission_closes_at": later}, config.submission_closes_at)
    assert refused is not None
    assert chinese(refused_text(refused.kind, refused.facts)).startswith("申报截止时间（")


def test_other_refusals_keep_their_general_sentence() -> None:
    assert refused_text("WrongStage", None) is None
    assert refused_text("OutsideWindow", None) is None


def test_an_invalid_refusal_names_its_problem() -> None:
    later = datetime(2025, 9, 29, tzinfo=SHANGHAI)
    config = sample_round_config()
    refused = boundary_refusal(config, {"review_closes_at": later}, later + timedelta(days=1))
    assert refused is not None and refused.kind == "Invalid"
    assert chinese(refused_text(refused.kind, refused.facts)) == (
        "评审机构审核截止时间不能调整到已经过去的时间"
        "（2025年09月28日 24:00（北京时间 UTC+08:00））。"
    )
    assert refused_text("Invalid", {"problem": "session_recorded", "session_id": "S1"}) == (
        "会议S1已经登记过，不能重复登记。"
    )
    # a fact missing, or an unknown problem: the kind's general sentence instead
    assert refused_text("Invalid", {"problem": "session_recorded"}) is None
    assert refused_text("Invalid", {"problem": "no_such_problem"}) is None


def test_a_score_before_the_defense_names_its_start() -> None:
    """R18: the workflow refuses a score before the arranged defense starts (workflows/
    declaration.py `_check_record_defense_score`), naming its start."""
    facts = {"problem": "defense_not_started", "starts_at": "2026-10-12T10:00:00+08:00"}
    assert chinese(refused_text("OutsideWindow", facts)) == (
        "答辩定于2026年10月12日 10:00（北京时间 UTC+08:00）开始，答辩开始后才能录入答辩成绩。"
    )
