"""R20, R27: the evaluation committee's quorum and vote, the draw of a session's members and
alternates, avoidance (回避) and the tally of each declaration (人社部令第40号)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from models.committee import (
    BoxCount,
    DeclarationTally,
    PoolConflict,
    PoolSnapshot,
    Recusal,
    Seat,
    SeatKind,
    SeatResponse,
)
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


# --- the committee session (R27): draw, alternates, recusals, tallies --------------------------


def pool_digest(
    declarations: Iterable[str], experts: Iterable[str], conflicts: Iterable[PoolConflict]
) -> str:
    """SHA-256 of the pool as drawn from, in a canonical form (sorted, one fact per line):
    with the recorded seed anyone can recompute the draw (like the R22 spot check)."""
    lines = [f"declaration {d}" for d in sorted(set(declarations))]
    lines += [f"expert {code}" for code in sorted(set(experts))]
    lines += sorted({f"conflict {c.code} {c.workflow_id} {c.reason.value}" for c in conflicts})
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass(frozen=True)
class Draw:
    seats: list[Seat]
    excluded: list[str]  # conflicted with more than the allowed share of the declarations


class DrawImpossible(ValueError):
    pass


def conflicted_declarations(conflicts: Iterable[PoolConflict]) -> dict[str, set[str]]:
    """Each expert's conflicting declarations."""
    found: dict[str, set[str]] = {}
    for conflict in conflicts:
        found.setdefault(conflict.code, set()).add(conflict.workflow_id)
    return found


def draw_seats(
    snapshot: PoolSnapshot, seed: int, members: int, alternates: int, max_conflict_share: Ratio
) -> Draw:
    """R27: members then alternates drawn at random from the active pool, leaving out anyone
    conflicted with more than `max_conflict_share` of the session's declarations. The pool is
    sorted first, so the same seed over the same snapshot always draws the same seats."""
    declarations = set(snapshot.declarations)
    allowed = (len(declarations) * max_conflict_share.numerator) / max_conflict_share.denominator
    by_expert = conflicted_declarations(snapshot.conflicts)
    candidates = sorted(set(snapshot.experts))
    excluded = [c for c in candidates if len(by_expert.get(c, set()) & declarations) > allowed]
    eligible = [c for c in candidates if c not in excluded]
    wanted = members + alternates
    if wanted > len(eligible):
        raise DrawImpossible(
            f"the pool has {len(eligible)} experts who can sit "
            f"({len(excluded)} left out for conflicts), {wanted} wanted "
            f"({members} members and {alternates} alternates)"
        )
    drawn = random.Random(seed).sample(eligible, wanted)
    seats = [
        Seat(
            code=code,
            position=index + 1,
            kind=SeatKind.member if index < members else SeatKind.alternate,
        )
        for index, code in enumerate(drawn)
    ]
    return Draw(seats=seats, excluded=excluded)


def answer_seat(seats: list[Seat], code: str, accept: bool, at: datetime) -> Seat | None:
    """A drawn expert's answer. A member who declines is replaced by the first alternate still
    waiting, in drawn order, who becomes a member (R27); returns that alternate, if any. An
    alternate who declines is simply no longer waiting."""
    seat = next(s for s in seats if s.code == code)
    seat.response = SeatResponse.confirmed if accept else SeatResponse.declined
    seat.responded_at = at
    if accept or seat.kind is not SeatKind.member:
        return None
    waiting = [
        s for s in seats if s.kind is SeatKind.alternate and s.response is not SeatResponse.declined
    ]
    if not waiting:
        return None
    stepping_in = min(waiting, key=lambda s: s.position)
    stepping_in.kind = SeatKind.member
    stepping_in.replaces = code
    return stepping_in


def pool_recusals(conflicts: Iterable[PoolConflict], codes: Iterable[str]) -> list[Recusal]:
    """R27: the recusals the pool already knows for the seated members (employer, relation)."""
    seated = set(codes)
    unique = {(c.workflow_id, c.code): c.reason for c in conflicts if c.code in seated}
    return [
        Recusal(workflow_id=workflow_id, code=code, reason=reason)
        for (workflow_id, code), reason in sorted(unique.items())
    ]


def required_share(count: int, ratio: Ratio) -> int:
    """ceil(count × ratio): the attendance a quorum needs, or the yes votes a pass needs."""
    return _at_least(count, ratio)


def declaration_tally(
    workflow_id: str,
    members: int,
    count: BoxCount,
    quorum: Ratio,
    pass_ratio: Ratio,
) -> DeclarationTally:
    """R20 for one declaration, counted over its non-recused attendees (interp.): it is voted
    only if they are at least `quorum` of the members (else it stays in `committee` and the
    record says why), and passes with yes votes of at least `pass_ratio` of them."""
    tally = tally_vote(members, count.eligible, count.yes, quorum, pass_ratio)
    cast = count.yes + count.no + count.abstain
    return DeclarationTally(
        workflow_id=workflow_id,
        members=members,
        eligible=count.eligible,
        yes=count.yes,
        no=count.no,
        abstain=count.abstain,
        not_cast=count.eligible - cast,
        required_attendance=tally.required_attendance,
        required_yes=tally.required_yes,
        voted=tally.quorum_met,
        passed=tally.passed,
    )
