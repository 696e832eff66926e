"""Who may do what, in which stage: the one table behind every update validator and the
`allowed_actions` of the `state` query. Windows and deadlines are checked by the workflow,
which knows the clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from models.common import Role, Stage

A, E, C, B, M, S, X = (
    Role.applicant,
    Role.employer,
    Role.competent_unit,
    Role.evaluation_body,
    Role.committee,
    Role.supervisor,
    Role.system,
)

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

# action -> {stage: roles allowed in that stage}
ACTIONS: Mapping[str, Mapping[Stage, frozenset[Role]]] = {
    "submit": {Stage.draft: frozenset({A})},  # R11
    "employer_return": {Stage.employer_review: frozenset({E})},  # R12
    "start_publicity": {Stage.employer_review: frozenset({E})},  # R13
    # R13 objections go to the employer; R20 result objections to the HR service centre.
    "raise_objection": {
        Stage.publicity: frozenset({E}),
        Stage.result_publicity: frozenset({S}),
    },
    "resolve_objection": {
        Stage.publicity: frozenset({E}),
        Stage.recommendation: frozenset({E}),
        Stage.result_publicity: frozenset({S}),
    },
    "recommend": {Stage.recommendation: frozenset({E})},  # R14
    "competent_unit_recommend": {Stage.competent_unit_review: frozenset({C})},  # R14
    "competent_unit_return": {Stage.competent_unit_review: frozenset({C})},
    "accept_materials": {Stage.evaluation_review: frozenset({B})},  # R15, R16
    "return_for_correction": {Stage.evaluation_review: frozenset({B})},  # R15
    "resubmit": {Stage.correction: frozenset({A})},  # R15
    "confirm_payment": {Stage.payment: frozenset({B})},  # R17
    "arrange_defense": {Stage.defense: frozenset({B})},  # R18
    "record_defense_score": {Stage.defense: frozenset({B})},  # R18
    "supply_defense_average": {Stage.defense: frozenset({B, X})},  # R19
    "committee_vote": {Stage.committee: frozenset({M})},  # R20
    "withdraw": {stage: frozenset({A}) for stage in WITHDRAWABLE},
}


@dataclass(frozen=True)
class Refused:
    kind: str  # UnknownAction | WrongStage | WrongRole | OutsideWindow | Invalid
    message: str


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
    """Actions open in `stage`, with the roles that may take them."""
    return {
        action: sorted(by_stage[stage], key=lambda r: r.value)
        for action, by_stage in ACTIONS.items()
        if stage in by_stage
    }
