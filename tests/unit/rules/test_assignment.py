"""转办 (R26, rules/assignment.py): whom an organisation may hand a declaration to, and who
may assign in which stage (rules/actions.py HOLDERS)."""

from __future__ import annotations

from models.common import Actor, Role, Stage
from rules.actions import ACTIONS, HOLDERS, action_refusal
from rules.assignment import account_actor, assignment_refusal, organisation_key

USCC, UNIT = "91110000802100433B", "某主管局"


def refusal(actor: Actor, assignee: Actor, unit: str | None, current: Actor | None = None):
    return assignment_refusal(
        actor, assignee, unit, employer_uscc=USCC, competent_unit=f" {UNIT} ", current=current
    )


def test_each_organisation_assigns_in_the_stages_it_holds_only() -> None:
    assert ACTIONS["assign"] == {stage: frozenset({role}) for stage, role in HOLDERS.items()}
    assert action_refusal("assign", Role.employer, Stage.publicity) is None
    assert action_refusal("assign", Role.evaluation_body, Stage.correction) is None
    refused = action_refusal("assign", Role.employer, Stage.draft)
    assert refused is not None and refused.kind == "WrongStage"
    refused = action_refusal("assign", Role.employer, Stage.competent_unit_review)
    assert refused is not None and refused.kind == "WrongRole"
    for stage in (Stage.committee, Stage.result_publicity, Stage.approved):
        assert stage not in HOLDERS


def test_a_colleague_of_the_holding_organisation_only() -> None:
    hr = account_actor(Role.employer, "hr-01")
    assert hr == Actor(role=Role.employer, id="employer:hr-01")
    assert refusal(hr, account_actor("employer", "hr-02"), USCC) is None
    for assignee, unit in (
        (account_actor("employer", "hr-02"), "91310000MA1FL4UX7B"),  # another employer
        (account_actor("evaluation_body", "pj-01"), None),  # another organisation
        (Actor(role=Role.employer, id="hr-02"), USCC),  # not an account's actor id
    ):
        found = refusal(hr, assignee, unit)
        assert found is not None and found.facts == {"problem": "assignee_elsewhere"}
    unit_actor = account_actor("competent_unit", "zg-01")
    assert refusal(unit_actor, account_actor("competent_unit", "zg-02"), UNIT) is None
    assert refusal(unit_actor, account_actor("competent_unit", "zg-02"), "别的局") is not None
    body = account_actor("evaluation_body", "pj-01")
    assert refusal(body, account_actor("evaluation_body", "pj-02"), None) is None


def test_the_current_assignee_again_is_refused_and_keys_per_role() -> None:
    hr2 = account_actor("employer", "hr-02")
    found = refusal(account_actor("employer", "hr-01"), hr2, USCC, current=hr2)
    assert found is not None and found.facts == {"problem": "already_assigned"}
    assert organisation_key("employer", USCC, "王科长") == USCC
    assert organisation_key("competent_unit", None, f" {UNIT} ") == UNIT
    assert organisation_key("evaluation_body", None, "评审员") == ""
