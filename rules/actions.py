"""Who may do what, in which stage: the one table behind every update validator and the
`allowed_actions` of the `state` query. Windows and deadlines are checked by the workflow,
which knows the clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from models.common import Role, Stage

APPLICANT = frozenset({Role.applicant})
EMPLOYER = frozenset({Role.employer})
COMPETENT_UNIT = frozenset({Role.competent_unit})
EVALUATION_BODY = frozenset({Role.evaluation_body})
COMMITTEE = frozenset({Role.committee})
SUPERVISOR = frozenset({Role.supervisor})
SYSTEM = frozenset({Role.system})  # the Round workflow: not offered to people

# Before a decision (the committee vote), the applicant may withdraw.
WITHDRAWABLE = (
    Stage.draft,
    Stage.employer_review,
    Stage.publicity,
    Stage.recommendation,
    Stage.competent_unit_review,
    Stage.evaluation_review,
    Stage.correction,
    Stage.payment,
    Stage.defense,
)

# R26 (interp.): the organisation that holds a declaration in each stage, whose accounts
# may hand it to a colleague (转办, `assign`): the employer until it recommends, its competent
# unit while it reviews, the evaluation body from its review to the defense (the correction
# too: the resubmission comes back to it). Nobody assigns the applicant's own stages, nor
# the committee's and the supervisor's.
HOLDERS: Mapping[Stage, Role] = {
    Stage.employer_review: Role.employer,
    Stage.publicity: Role.employer,
    Stage.recommendation: Role.employer,
    Stage.competent_unit_review: Role.competent_unit,
    Stage.evaluation_review: Role.evaluation_body,
    Stage.correction: Role.evaluation_body,
    Stage.payment: Role.evaluation_body,
    Stage.defense: Role.evaluation_body,
}

# action -> {stage: roles allowed in that stage}
ACTIONS: Mapping[str, Mapping[Stage, frozenset[Role]]] = {
    "submit": {Stage.draft: APPLICANT},  # R11
    "employer_return": {Stage.employer_review: EMPLOYER},  # R12
    "start_publicity": {Stage.employer_review: EMPLOYER},  # R13
    # R13 objections go to the employer; R20 result objections to the HR service centre.
    "raise_objection": {
        Stage.publicity: EMPLOYER,
        Stage.result_publicity: SUPERVISOR,
    },
    "resolve_objection": {
        Stage.publicity: EMPLOYER,
        Stage.recommendation: EMPLOYER,
        Stage.result_publicity: SUPERVISOR,
    },
    "recommend": {Stage.recommendation: EMPLOYER},  # R14
    "competent_unit_recommend": {Stage.competent_unit_review: COMPETENT_UNIT},  # R14
    "competent_unit_return": {Stage.competent_unit_review: COMPETENT_UNIT},
    "accept_materials": {Stage.evaluation_review: EVALUATION_BODY},  # R15, R16
    "return_for_correction": {Stage.evaluation_review: EVALUATION_BODY},  # R15
    "resubmit": {Stage.correction: APPLICANT},  # R15
    "confirm_payment": {Stage.payment: EVALUATION_BODY},  # R17
    "arrange_defense": {Stage.defense: EVALUATION_BODY},  # R18
    "record_defense_score": {Stage.defense: EVALUATION_BODY},  # R18
    "supply_defense_average": {Stage.defense: EVALUATION_BODY | {Role.system}},  # R19
    "committee_vote": {Stage.committee: COMMITTEE},  # R20
    "withdraw": {stage: APPLICANT for stage in WITHDRAWABLE},
    "assign": {stage: frozenset({role}) for stage, role in HOLDERS.items()},  # R26: 转办
    # R9: the round moves its windows; every open declaration's timers follow.
    "change_windows": {stage: SYSTEM for stage in Stage if not stage.is_ending},
}


@dataclass(frozen=True)
class Refused:
    # UnknownAction | WrongStage | WrongRole | OutsideWindow | Invalid | IdentifyingTitle | ...
    kind: str
    message: str  # English, one line, for operators and logs
    # What a person is told beside the kind, as named facts (the refusal's details): for
    # OutsideWindow the window ("window": submission | review, "opens_at", "closes_at") or
    # the deadline ("deadline": correction | payment | publicity_start, "closes_at" or
    # "latest_start"), ISO 8601 in Beijing time. The portal says them in Chinese.
    facts: dict[str, str] | None = None


def action_refusal(action: str, role: Role, stage: Stage) -> Refused | None:
    """None when `role` may do `action` in `stage`; else what is wrong, in one line."""
    by_stage = ACTIONS.get(action)
    if by_stage is None:
        return Refused("UnknownAction", f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    roles = by_stage.get(stage)
    if roles is None:
        stages = ", ".join(by_stage)
        return Refused(
            "WrongStage",
            f"{action} is not allowed in stage {stage.value} (only in: {stages})",
        )
    if role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        return Refused(
            "WrongRole",
            f"{action} in stage {stage.value} is for {allowed}, not {role.value}",
        )
    return None


def allowed_in(stage: Stage) -> dict[str, list[Role]]:
    """Actions open in `stage`, with the roles that may take them (the round's system-only
    actions, like `change_windows`, are not offered)."""
    return {
        action: sorted(by_stage[stage], key=lambda r: r.value)
        for action, by_stage in ACTIONS.items()
        if stage in by_stage and by_stage[stage] != SYSTEM  # the round's own, not a person's
    }
