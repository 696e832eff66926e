"""Update ids (rules/update_ids.py): stable for one request, different for anything else, no
actor id or operator's text inside, and clear refusals of a malformed request id or token."""

from __future__ import annotations

import pytest

from rules.update_ids import (
    REQUEST_ID,
    BadRequestId,
    checked_form_token,
    checked_request_id,
    cli_update_id,
    coordination_update_id,
    new_form_token,
    new_request_id,
    portal_update_id,
)
from tests.helpers.samples import SAMPLE_ID_CARD, SAMPLE_MOBILE

ACTOR, WORKFLOW, ACTION = "employer:hr-zhangsan", "decl-2025-0123456789abcdef", "start_publicity"
TOKEN = "0123456789abcdef0123456789abcdef"


def test_one_request_has_one_stable_id():
    first = portal_update_id(ACTOR, WORKFLOW, ACTION, TOKEN)
    assert first == portal_update_id(ACTOR, WORKFLOW, ACTION, TOKEN)
    assert first.startswith("portal-") and len(first) == len("portal-") + 40
    again = cli_update_id(ACTOR, WORKFLOW, ACTION, "r1")
    assert again == cli_update_id(ACTOR, WORKFLOW, ACTION, "r1") and again.startswith("cli-")


def test_another_account_token_action_or_workflow_is_another_id():
    base = portal_update_id(ACTOR, WORKFLOW, ACTION, TOKEN)
    others = {
        portal_update_id("employer:hr-lisi", WORKFLOW, ACTION, TOKEN),  # another's token
        portal_update_id(ACTOR, "decl-2025-fedcba9876543210", ACTION, TOKEN),
        portal_update_id(ACTOR, WORKFLOW, "employer_return", TOKEN),
        portal_update_id(ACTOR, WORKFLOW, ACTION, new_form_token()),
        cli_update_id(ACTOR, WORKFLOW, ACTION, TOKEN),  # the same text from the command line
    }
    assert base not in others and len(others) == 5
    # the parts are encoded apart: moving a separator between them is another id
    moved = portal_update_id("a", "b:c", ACTION, TOKEN)
    assert portal_update_id("a:b", "c", ACTION, TOKEN) != moved


def test_no_actor_id_or_personal_data_inside():
    for update_id in (
        portal_update_id(ACTOR, WORKFLOW, ACTION, TOKEN),
        cli_update_id(f"applicant:{SAMPLE_MOBILE}", WORKFLOW, "submit", SAMPLE_ID_CARD),
    ):
        for text in ("hr-zhangsan", "employer", ACTOR, SAMPLE_MOBILE, SAMPLE_ID_CARD, TOKEN):
            assert text not in update_id
        assert REQUEST_ID.fullmatch(update_id)


def test_a_coordination_page_names_its_updates_by_its_activity_execution():
    one = coordination_update_id("round-2025", "run-1", "7", WORKFLOW, "change_windows")
    assert one == coordination_update_id("round-2025", "run-1", "7", WORKFLOW, "change_windows")
    assert one.startswith("round-")
    others = {
        coordination_update_id("round-2025", "run-1", "8", WORKFLOW, "change_windows"),
        coordination_update_id("round-2025", "run-2", "7", WORKFLOW, "change_windows"),
        coordination_update_id("round-2025", "run-1", "7", "decl-2025-other", "change_windows"),
        coordination_update_id("round-2025", "run-1", "7", WORKFLOW, "committee_vote"),
    }
    assert one not in others and len(others) == 4


def test_fresh_ids_are_fresh_and_valid():
    ids = {new_request_id() for _ in range(100)}
    assert len(ids) == 100 and all(checked_request_id(i) == i for i in ids)
    tokens = {new_form_token() for _ in range(100)}
    assert len(tokens) == 100 and all(checked_form_token(t) == t for t in tokens)


@pytest.mark.parametrize("text", ["", "a b", "x" * 65, "申报-1", "id/1", "a\n"])
def test_a_malformed_request_id_is_refused_with_what_one_looks_like(text: str):
    with pytest.raises(BadRequestId, match="1 to 64 characters, each a letter, a digit or"):
        checked_request_id(text)


def test_the_longest_request_id_and_every_allowed_character_pass():
    longest = "A-z.0_9:" + "x" * 56
    assert checked_request_id(longest) == longest


@pytest.mark.parametrize("value", [None, "", TOKEN.upper(), TOKEN[:-1], TOKEN + "0", 42])
def test_a_missing_or_malformed_form_token_is_refused(value: object):
    with pytest.raises(BadRequestId, match="no request token, or a malformed one"):
        checked_form_token(value)
