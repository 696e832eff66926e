from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from models.common import Stage
from rules.overdue import STAGE_DEADLINES, current_deadline, overdue_items, passed_stage_deadline
from rules.timezone import SHANGHAI

NOW = datetime(2025, 10, 31, 12, 0, tzinfo=SHANGHAI)
DEADLINES = {
    "submission_closes_at": "2025-09-30T00:00:00+08:00",
    "review_opens_at": "2025-10-01T00:00:00+08:00",
    "review_closes_at": "2025-10-31T00:00:00+08:00",
    "publicity_ends_at": "2025-09-12T00:00:00+08:00",
}


def test_review_not_finished_by_the_window_close_is_overdue() -> None:
    passed = passed_stage_deadline(Stage.evaluation_review, DEADLINES, NOW)
    assert passed is not None
    assert passed.deadline == "review_closes_at"
    assert passed.due_at == datetime(2025, 10, 31, tzinfo=SHANGHAI)
    assert passed.overdue_by == timedelta(hours=12)


def test_before_the_deadline_nothing_is_overdue() -> None:
    early = datetime(2025, 10, 30, 23, 59, tzinfo=SHANGHAI)
    assert passed_stage_deadline("evaluation_review", DEADLINES, early) is None


def test_the_deadline_instant_itself_counts_as_passed() -> None:
    at_close = datetime(2025, 10, 31, tzinfo=SHANGHAI)
    passed = passed_stage_deadline(Stage.evaluation_review, DEADLINES, at_close)
    assert passed is not None and passed.overdue_by == timedelta(0)


@pytest.mark.parametrize(
    ("stage", "name"),
    [
        (Stage.correction, "correction_deadline"),
        (Stage.payment, "payment_due_at"),
        (Stage.result_publicity, "result_publicity_ends_at"),
    ],
)
def test_each_stage_has_its_own_deadline(stage: Stage, name: str) -> None:
    deadlines = DEADLINES | {name: "2025-10-20T10:00:00+08:00"}
    passed = passed_stage_deadline(stage, deadlines, NOW)
    assert passed is not None and passed.deadline == name
    # the review window's close does not make a correction or payment overdue
    assert passed_stage_deadline(stage, DEADLINES, NOW) is None


def test_a_publicity_is_due_at_the_earlier_of_its_end_and_submission_close() -> None:
    late_publicity = DEADLINES | {"publicity_ends_at": "2025-10-02T00:00:00+08:00"}
    assert current_deadline(Stage.publicity, late_publicity) == (
        "submission_closes_at",
        datetime(2025, 9, 30, tzinfo=SHANGHAI),
    )
    assert current_deadline(Stage.publicity, DEADLINES)[0] == "publicity_ends_at"  # type: ignore[index]


def test_stages_without_a_deadline_are_never_overdue() -> None:
    for stage in (Stage.defense, Stage.committee, Stage.approved, Stage.abandoned):
        assert stage not in STAGE_DEADLINES
        assert passed_stage_deadline(stage, DEADLINES, NOW + timedelta(days=400)) is None


def test_other_offsets_compare_as_instants() -> None:
    in_utc = {"payment_due_at": "2025-10-31T03:00:00+00:00"}  # 11:00 in Shanghai
    passed = passed_stage_deadline(Stage.payment, in_utc, NOW.astimezone(UTC))
    assert passed is not None and passed.overdue_by == timedelta(hours=1)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        passed_stage_deadline(Stage.payment, {}, datetime(2025, 10, 31))


def test_overdue_items_longest_overdue_first() -> None:
    rows = [
        SimpleNamespace(
            id="a", stage="payment", deadlines={"payment_due_at": "2025-10-31T11:00:00+08:00"}
        ),
        SimpleNamespace(id="b", stage="evaluation_review", deadlines=DEADLINES),
        SimpleNamespace(id="c", stage="defense", deadlines=DEADLINES),
        SimpleNamespace(
            id="d",
            stage="correction",
            deadlines={"correction_deadline": "2025-11-01T00:00:00+08:00"},
        ),
    ]
    found = overdue_items(rows, NOW, lambda r: r.stage, lambda r: r.deadlines)
    assert [(row.id, passed.deadline) for row, passed in found] == [
        ("b", "review_closes_at"),
        ("a", "payment_due_at"),
    ]
