"""R20, R27: the draw of a session (reproducible from its seed and pool snapshot, conflicts
left out, alternates stepping in in order) and each declaration's tally with recusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.committee import (
    BoxCount,
    ConflictReason,
    PoolConflict,
    PoolSnapshot,
    SeatKind,
    SeatResponse,
)
from models.round import TWO_THIRDS, Ratio
from rules.committee import (
    DrawImpossible,
    answer_seat,
    declaration_tally,
    draw_seats,
    pool_digest,
    pool_recusals,
    required_share,
)

AT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
DECLARATIONS = [f"decl-2026-{i:016x}" for i in range(3)]
ONE_THIRD = Ratio(numerator=1, denominator=3)


def _snapshot(experts: int = 20, conflicts: list[PoolConflict] | None = None) -> PoolSnapshot:
    codes = [f"E{i:04d}" for i in range(1, experts + 1)]
    found = conflicts or []
    return PoolSnapshot(
        declarations=DECLARATIONS,
        experts=codes,
        conflicts=found,
        sha256=pool_digest(DECLARATIONS, codes, found),
    )


def test_the_same_seed_over_the_same_pool_draws_the_same_seats() -> None:
    snapshot = _snapshot()
    first = draw_seats(snapshot, 12345, 9, 4, ONE_THIRD)
    again = draw_seats(snapshot, 12345, 9, 4, ONE_THIRD)
    assert first.seats == again.seats
    assert [s.kind for s in first.seats] == [SeatKind.member] * 9 + [SeatKind.alternate] * 4
    assert [s.position for s in first.seats] == list(range(1, 14))
    assert len({s.code for s in first.seats}) == 13
    other = draw_seats(snapshot, 54321, 9, 4, ONE_THIRD)
    assert [s.code for s in other.seats] != [s.code for s in first.seats]


def test_the_order_the_pool_was_listed_in_does_not_change_the_draw() -> None:
    snapshot = _snapshot()
    shuffled = snapshot.model_copy(update={"experts": list(reversed(snapshot.experts))})
    assert (
        draw_seats(snapshot, 7, 9, 2, ONE_THIRD).seats
        == draw_seats(shuffled, 7, 9, 2, ONE_THIRD).seats
    )
    assert pool_digest(DECLARATIONS, shuffled.experts, []) == snapshot.sha256


def test_the_digest_changes_with_any_fact_of_the_pool() -> None:
    base = _snapshot()
    conflict = PoolConflict(
        code="E0001", workflow_id=DECLARATIONS[0], reason=ConflictReason.employer
    )
    assert pool_digest(DECLARATIONS, base.experts, [conflict]) != base.sha256
    assert pool_digest(DECLARATIONS[:2], base.experts, []) != base.sha256
    assert pool_digest(DECLARATIONS, base.experts[:-1], []) != base.sha256


def test_an_expert_conflicted_with_more_than_the_share_is_not_drawn() -> None:
    # 3 declarations, share 1/3: one conflict is allowed, two are not
    conflicts = [
        PoolConflict(code="E0001", workflow_id=DECLARATIONS[0], reason=ConflictReason.employer),
        PoolConflict(code="E0001", workflow_id=DECLARATIONS[1], reason=ConflictReason.relation),
        PoolConflict(code="E0002", workflow_id=DECLARATIONS[2], reason=ConflictReason.employer),
    ]
    snapshot = _snapshot(experts=11, conflicts=conflicts)
    draw = draw_seats(snapshot, 99, 9, 1, ONE_THIRD)
    assert draw.excluded == ["E0001"]
    assert "E0001" not in {s.code for s in draw.seats}
    assert "E0002" in {s.code for s in draw.seats}  # the 10 who can sit are all drawn


def test_a_pool_too_small_is_refused_with_its_counts() -> None:
    with pytest.raises(DrawImpossible, match="the pool has 8 experts who can sit"):
        draw_seats(_snapshot(experts=8), 1, 9, 0, ONE_THIRD)


def test_alternates_step_in_in_drawn_order() -> None:
    seats = draw_seats(_snapshot(), 3, 9, 3, ONE_THIRD).seats
    members = [s for s in seats if s.kind is SeatKind.member]
    first_alt, second_alt, third_alt = (s for s in seats if s.kind is SeatKind.alternate)
    third_alt_declines = answer_seat(seats, third_alt.code, False, AT)
    assert third_alt_declines is None
    stepped = answer_seat(seats, members[4].code, False, AT)
    assert stepped is not None and stepped.code == first_alt.code
    assert (stepped.kind, stepped.replaces) == (SeatKind.member, members[4].code)
    stepped = answer_seat(seats, members[0].code, False, AT)
    assert stepped is not None and stepped.code == second_alt.code
    # no alternate left waiting: the seat stays empty
    assert answer_seat(seats, members[1].code, False, AT) is None
    assert sum(1 for s in seats if s.seated) == 8
    assert answer_seat(seats, members[2].code, True, AT) is None
    assert members[2].response is SeatResponse.confirmed


def test_the_pool_recusals_are_those_of_seated_members() -> None:
    conflicts = [
        PoolConflict(code="E0001", workflow_id=DECLARATIONS[0], reason=ConflictReason.employer),
        PoolConflict(code="E0009", workflow_id=DECLARATIONS[1], reason=ConflictReason.relation),
    ]
    recusals = pool_recusals(conflicts, ["E0001", "E0002"])
    assert [(r.code, r.workflow_id, r.reason) for r in recusals] == [
        ("E0001", DECLARATIONS[0], ConflictReason.employer)
    ]


def _count(eligible: int, yes: int, no: int = 0, abstain: int = 0) -> BoxCount:
    return BoxCount(workflow_id=DECLARATIONS[0], eligible=eligible, yes=yes, no=no, abstain=abstain)


def test_nine_members_seven_signed_in_one_recused_four_yes_pass() -> None:
    tally = declaration_tally(DECLARATIONS[0], 9, _count(6, 4, 1, 1), TWO_THIRDS, TWO_THIRDS)
    assert (tally.eligible, tally.required_attendance, tally.required_yes) == (6, 6, 4)
    assert (tally.voted, tally.passed, tally.not_cast) == (True, True, 0)


def test_nine_members_seven_signed_in_one_recused_three_yes_do_not_pass() -> None:
    tally = declaration_tally(DECLARATIONS[0], 9, _count(6, 3, 2), TWO_THIRDS, TWO_THIRDS)
    assert (tally.voted, tally.passed, tally.not_cast) == (True, False, 1)


def test_too_few_non_recused_attendees_is_not_voted() -> None:
    tally = declaration_tally(DECLARATIONS[0], 9, _count(5, 5), TWO_THIRDS, TWO_THIRDS)
    assert (tally.voted, tally.passed) == (False, False)


def test_a_session_with_five_of_nine_signed_in_is_not_valid() -> None:
    assert required_share(9, TWO_THIRDS) == 6
    assert 5 < required_share(9, TWO_THIRDS) <= 7
    assert required_share(25, TWO_THIRDS) == 17
