"""R20: the evaluation committee's quorum and vote (人社部令第40号)."""

from __future__ import annotations

from dataclasses import dataclass

from models.round import Ratio


def _at_least(count: int, ratio: Ratio) -> int:
    """ceil(count × ratio) in integers: the smallest whole number not below the share."""
    return -(-count * ratio.numerator // ratio.denominator)


@dataclass(frozen=True)
class Tally:
    members: int
    attending: int
    yes_votes: int
    required_attendance: int
    required_yes: int
    quorum_met: bool
    passed: bool

    def describe(self) -> str:
        attendance = (
            f"{self.attending} of {self.members} members attending; "
            f"quorum needs {self.required_attendance}"
        )
        if not self.quorum_met:
            return f"{attendance}: the meeting is not valid"
        outcome = "passed" if self.passed else "not passed"
        return f"{attendance}; {self.yes_votes} yes of {self.required_yes} needed: {outcome}"


def tally_vote(
    members: int, attending: int, yes_votes: int, quorum: Ratio, pass_ratio: Ratio
) -> Tally:
    """R20: valid iff attending >= ceil(members × quorum);
    passes iff valid and yes_votes >= ceil(attending × pass_ratio)."""
    if members < 1:
        raise ValueError(f"a committee needs at least 1 member, got {members}")
    if not 0 <= attending <= members:
        raise ValueError(f"attending must be between 0 and {members} members, got {attending}")
    if not 0 <= yes_votes <= attending:
        raise ValueError(f"yes votes must be between 0 and {attending} attending, got {yes_votes}")
    required_attendance = _at_least(members, quorum)
    required_yes = _at_least(attending, pass_ratio)
    quorum_met = attending >= required_attendance
    return Tally(
        members=members,
        attending=attending,
        yes_votes=yes_votes,
        required_attendance=required_attendance,
        required_yes=required_yes,
        quorum_met=quorum_met,
        passed=quorum_met and yes_votes >= required_yes,
    )
