from datetime import UTC, datetime

import pytest

from rules.deadlines import (
    correction_deadline,
    deadline_refusal,
    payment_deadline,
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
