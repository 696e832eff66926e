import re
from datetime import UTC, datetime, timedelta

import pytest

from rules.deadlines import (
    correction_deadline,
    deadline_refusal,
    payment_deadline,
    payment_deadline_explained,
    window_close_explained,
    window_refusal,
)
from rules.timezone import SHANGHAI
from tests.helpers.samples import sample_round_config


def test_correction_deadline_is_48_clock_hours_through_holidays() -> None:
    returned = datetime(2025, 9, 30, 10, 15, tzinfo=SHANGHAI)  # the eve of National Day
    assert correction_deadline(returned).isoformat() == "2025-10-02T10:15:00+08:00"


def test_correction_deadline_is_shown_in_shanghai_time() -> None:
    returned = datetime(2025, 10, 9, 20, tzinfo=UTC)  # 04:00 on Oct 10 in Shanghai
    assert correction_deadline(returned, hours=72).isoformat() == "2025-10-13T04:00:00+08:00"


def test_correction_deadline_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        correction_deadline(datetime(2025, 10, 9, 20))


def test_payment_deadline_is_the_round_close_or_the_grace_period() -> None:
    config = sample_round_config()  # payment closes 2025-11-15 00:00 +08:00
    early = datetime(2025, 10, 3, 9, tzinfo=SHANGHAI)
    assert payment_deadline(config, early).isoformat() == "2025-11-15T00:00:00+08:00"
    late = datetime(2025, 11, 12, 9, tzinfo=SHANGHAI)
    expected = f"2025-11-{12 + config.payment_grace_days}T09:00:00+08:00"
    assert payment_deadline(config, late).isoformat() == expected


OPENS = datetime(2025, 9, 1, tzinfo=SHANGHAI)
CLOSES = datetime(2025, 9, 30, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "at",
    [
        OPENS,
        datetime(2025, 9, 29, 23, 59, 59, tzinfo=SHANGHAI),
        datetime(2025, 9, 29, 15, tzinfo=UTC),
    ],
)
def test_inside_the_window(at: datetime) -> None:
    assert window_refusal("submission", at, OPENS, CLOSES) is None


def test_after_the_window_names_it() -> None:
    at = datetime(2025, 10, 2, 2, tzinfo=UTC)
    refused = window_refusal("submission", at, OPENS, CLOSES)
    assert refused is not None and refused.kind == "OutsideWindow"
    assert refused.message == (
        "outside the submission window: 2025-09-01T00:00:00+08:00 – 2025-09-30T00:00:00+08:00"
        " (now 2025-10-02T10:00:00+08:00)"
    )
    assert refused.facts == {  # what the portal says in Chinese
        "window": "submission",
        "opens_at": "2025-09-01T00:00:00+08:00",
        "closes_at": "2025-09-30T00:00:00+08:00",
    }


def test_a_passed_deadline_names_it() -> None:
    assert deadline_refusal("payment", OPENS, CLOSES) is None
    refused = deadline_refusal("payment", CLOSES, CLOSES)
    assert refused is not None
    assert refused.message == "the payment deadline 2025-09-30T00:00:00+08:00 has passed"
    assert refused.facts == {"deadline": "payment", "closes_at": "2025-09-30T00:00:00+08:00"}


def test_the_close_itself_is_outside_and_so_is_before_opening() -> None:
    assert window_refusal("submission", CLOSES, OPENS, CLOSES) is not None
    opening = datetime(2025, 8, 31, 16, tzinfo=UTC)  # exactly 00:00 on Sept 1 in Shanghai
    assert window_refusal("review", opening, OPENS, CLOSES) is None
    early = window_refusal("review", datetime(2025, 8, 31, 15, 59, tzinfo=UTC), OPENS, CLOSES)
    assert early is not None and early.message.startswith("outside the review window:")
    assert early.message.endswith("(now 2025-08-31T23:59:00+08:00)")


def test_the_payment_deadline_is_explained_from_the_acceptance() -> None:
    """Issue 14, item 4: from what moment (the acceptance), the grace days, the round's close,
    whichever is later (R17), calendar days."""
    config = sample_round_config()  # payment closes 2025-11-15 00:00 (+08:00), grace 7 days
    early = datetime(2025, 10, 9, 10, 30, tzinfo=SHANGHAI)
    assert payment_deadline_explained(config, early) == (
        "自材料受理时（2025年10月09日 10:30）起至少7日（至2025年10月16日 10:30），且不早于"
        "本轮缴费截止时间（2025年11月14日 24:00），取较晚者：至2025年11月14日 24:00止，"
        "按日历日计算，节假日不顺延"
    )
    late = datetime(2025, 11, 12, 16, tzinfo=SHANGHAI)  # a late review: the grace days win
    assert payment_deadline(config, late) == late + timedelta(days=7)
    assert payment_deadline_explained(config, late).endswith(
        "取较晚者：至2025年11月19日 16:00止，按日历日计算，节假日不顺延"
    )


def test_each_window_close_is_explained_with_what_it_is_for() -> None:
    """R9, R10: the notice's windows are calendar days; the submission close also binds the
    employer's review, publicity and recommendation; the review close ends nothing."""
    config = sample_round_config()
    submission = window_close_explained(
        "submission", config.submission_opens_at, config.submission_closes_at
    )
    assert submission.startswith(
        "按本年度评审通知，网上材料申报自2025年09月01日 00:00起，至2025年09月29日 24:00止，"
        "按日历日计算，节假日不顺延；用人单位审核、单位内部公示和推荐都须在此前完成"
    )
    review = window_close_explained("review", config.review_opens_at, config.review_closes_at)
    assert "评审机构审核自2025年10月01日 00:00起，至2025年10月30日 24:00止" in review
    assert "不影响申报人" in review
    for text in (submission, review, payment_deadline_explained(config, config.review_opens_at)):
        assert not re.search(r"[A-Za-z]{2,}|R\d+", text), text
