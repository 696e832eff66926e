"""The action table: every validator's role and stage check, and the workflow's updates."""

from __future__ import annotations

from temporalio.workflow import _Definition

from models.common import ENDINGS, Role, Stage
from rules.actions import ACTIONS, action_refusal, allowed_in
from workflows.declaration import DeclarationWorkflow


def test_every_action_is_an_update_of_the_workflow_and_back():
    updates = set(_Definition.must_from_class(DeclarationWorkflow).updates)
    assert updates == set(ACTIONS)


def test_no_action_in_an_ending():
    for stage in ENDINGS:
        assert allowed_in(stage) == {}


def test_refusals_name_what_is_wrong():
    wrong_stage = action_refusal("accept_materials", Role.evaluation_body, Stage.draft)
    assert wrong_stage is not None and wrong_stage.kind == "WrongStage"
    assert "only in: evaluation_review" in wrong_stage.message
    wrong_role = action_refusal("accept_materials", Role.employer, Stage.evaluation_review)
    assert wrong_role is not None and wrong_role.kind == "WrongRole"
    assert wrong_role.message.endswith("is for evaluation_body, not employer")
    unknown = action_refusal("approve_everything", Role.supervisor, Stage.draft)
    assert unknown is not None and unknown.kind == "UnknownAction"
    assert action_refusal("submit", Role.applicant, Stage.draft) is None


def test_objections_go_to_the_employer_then_to_the_supervisor():
    assert action_refusal("raise_objection", Role.employer, Stage.publicity) is None
    assert action_refusal("raise_objection", Role.supervisor, Stage.result_publicity) is None
    assert action_refusal("raise_objection", Role.employer, Stage.result_publicity) is not None


def test_withdraw_only_before_the_committee_decides():
    assert "withdraw" in allowed_in(Stage.defense)
    assert "withdraw" not in allowed_in(Stage.committee)
    assert "withdraw" not in allowed_in(Stage.result_publicity)
