import pytest

from models.round import TWO_THIRDS, Ratio
from rules.committee import tally_vote


def test_two_of_nine_attending_is_not_a_valid_meeting() -> None:
    tally = tally_vote(9, 2, 2, TWO_THIRDS, TWO_THIRDS)
    assert tally.required_attendance == 6
    assert (tally.quorum_met, tally.passed) == (False, False)
    assert tally.describe() == "2 of 9 members attending; quorum needs 6: the meeting is not valid"


def test_six_of_nine_with_four_yes_passes() -> None:
    tally = tally_vote(9, 6, 4, TWO_THIRDS, TWO_THIRDS)
    assert (tally.required_attendance, tally.required_yes) == (6, 4)
    assert (tally.quorum_met, tally.passed) == (True, True)
    assert tally.describe() == "6 of 9 members attending; quorum needs 6; 4 yes of 4 needed: passed"


def test_six_of_nine_with_three_yes_fails() -> None:
    tally = tally_vote(9, 6, 3, TWO_THIRDS, TWO_THIRDS)
    assert (tally.quorum_met, tally.passed) == (True, False)
    assert tally.describe().endswith("3 yes of 4 needed: not passed")


def test_five_of_nine_falls_short_of_quorum_even_if_unanimous() -> None:
    tally = tally_vote(9, 5, 5, TWO_THIRDS, TWO_THIRDS)
    assert (tally.quorum_met, tally.passed) == (False, False)


def test_shares_are_exact_integers() -> None:
    # 10 × 0.7 is 7.000000000000001 in floats, whose ceiling would wrongly demand 8.
    seven_tenths = Ratio(numerator=7, denominator=10)
    tally = tally_vote(10, 7, 5, seven_tenths, seven_tenths)
    assert (tally.required_attendance, tally.required_yes) == (7, 5)
    assert tally.passed


@pytest.mark.parametrize(
    ("members", "attending", "yes_votes", "message"),
    [(0, 0, 0, "at least 1 member"), (9, 10, 0, "attending"), (9, 6, 7, "yes votes")],
)
def test_impossible_counts_are_refused(
    members: int, attending: int, yes_votes: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        tally_vote(members, attending, yes_votes, TWO_THIRDS, TWO_THIRDS)


def test_shares_round_up() -> None:
    # 7 × 2/3 = 4.67 → 5 must attend; 5 × 2/3 = 3.33 → 4 yes votes needed.
    assert not tally_vote(7, 4, 4, TWO_THIRDS, TWO_THIRDS).quorum_met
    assert not tally_vote(7, 5, 3, TWO_THIRDS, TWO_THIRDS).passed
    tally = tally_vote(7, 5, 4, TWO_THIRDS, TWO_THIRDS)
    assert (tally.required_attendance, tally.required_yes, tally.passed) == (5, 4, True)
