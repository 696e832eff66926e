"""The client side's checks of what a person sends (client/inputs.py, models/text.py,
models/validation.strictly) and the workers' strict decoder (client/payloads.py): text that
cannot be stored, and values of the wrong JSON type, are refused with the field's path."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payload

from client.inputs import (
    ROUND_UPDATES,
    PayloadInvalid,
    action_models,
    action_payload,
    declaration_file,
    round_action_payload,
)
from client.payloads import InvalidPayload, StrictPayloadConverter
from models.common import Role
from models.declaration import DefenseScoreAction, ResolveObjectionAction
from models.text import UNSTORABLE_TEXT, storable, unstorable_text_error
from tests.helpers.samples import sample_declaration_input


def text_fields(model: type[BaseModel]) -> list[str]:
    """The model's own text fields (str or str | None), but the actor's."""
    return [
        name for name, info in model.model_fields.items() if info.annotation in (str, str | None)
    ]


DECLARATION_TEXTS = [
    (model_name, field)
    for model_name, model in action_models().items()
    for field in text_fields(model)
]
ROUND_TEXTS = [
    (name, field) for name, model in ROUND_UPDATES.items() for field in text_fields(model)
]


def test_every_kind_of_text_is_covered() -> None:
    fields = {field for _, field in DECLARATION_TEXTS + ROUND_TEXTS}
    assert {"note", "reason", "summary", "resolution", "opinion", "place", "form"} <= fields
    assert {"receipt_no", "session_id", "finding"} <= fields


@pytest.mark.parametrize(("action", "field"), DECLARATION_TEXTS)
@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x7f", "\x85"])
def test_a_declaration_action_refuses_unstorable_text_in_each_field(
    action: str, field: str, bad: str
) -> None:
    with pytest.raises(PayloadInvalid) as refused:
        action_payload(action, Role.employer, "hr-01", {field: f"正文{bad}"})
    [error] = [e for e in refused.value.errors if e["loc"] == (field,)]
    assert error["type"] == UNSTORABLE_TEXT
    assert error["ctx"]["position"] == 3


@pytest.mark.parametrize(("action", "field"), DECLARATION_TEXTS)
def test_a_lone_surrogate_is_refused_in_each_field(action: str, field: str) -> None:
    """pydantic refuses it before our check does (string_unicode): named all the same."""
    with pytest.raises(PayloadInvalid) as refused:
        action_payload(action, Role.employer, "hr-01", {field: "正文\ud800"})
    assert any(e["loc"] == (field,) for e in refused.value.errors)


@pytest.mark.parametrize(("action", "field"), ROUND_TEXTS)
def test_a_round_action_refuses_unstorable_text_in_each_field(action: str, field: str) -> None:
    with pytest.raises(PayloadInvalid) as refused:
        round_action_payload(action, Role.supervisor, "hr-01", {field: "a\x00"})
    assert any(e["loc"] == (field,) and e["type"] == UNSTORABLE_TEXT for e in refused.value.errors)


def test_line_breaks_and_tabs_are_text() -> None:
    payload = action_payload("employer_return", Role.employer, "e", {"reason": "一\r\n二\t三"})
    assert payload.model_dump()["reason"] == "一\r\n二\t三"
    assert unstorable_text_error("普通的中文，English, 123\n") is None


def test_storable_replaces_what_cannot_be_kept() -> None:
    assert storable("li\x00ming\ud800") == "li\ufffdming\ufffd"


def test_the_start_input_refuses_unstorable_text_at_its_path() -> None:
    data = sample_declaration_input().model_dump(mode="json", exclude={"round", "applicant_key"})
    data["applicant"]["name"] = "李\x00明"
    data["achievements"] = [{"kind": "patent", "title": "一种\x0b方法"}]
    with pytest.raises(ValidationError) as refused:
        declaration_file(data)
    places = {e["loc"] for e in refused.value.errors() if e["type"] == UNSTORABLE_TEXT}
    assert places == {("applicant", "name"), ("achievements", 0, "title")}


VOTE = {"session_id": "S1", "members": 9, "attending": 7, "yes_votes": 5}
RESOLVE = {"objection_id": 1, "upheld": True, "resolution": "r"}


@pytest.mark.parametrize(
    ("action", "data", "where"),
    [
        ("resolve_objection", RESOLVE | {"upheld": "yes"}, "upheld"),
        ("resolve_objection", RESOLVE | {"upheld": 1}, "upheld"),
        ("resolve_objection", RESOLVE | {"objection_id": "1"}, "objection_id"),
        ("resolve_objection", RESOLVE | {"objection_id": True}, "objection_id"),
        ("record_defense_score", {"score": True}, "score"),
        ("record_defense_score", {"score": "6"}, "score"),
        ("committee_vote", VOTE | {"yes_votes": False}, "yes_votes"),
        ("committee_vote", VOTE | {"attending": "7"}, "attending"),
    ],
)
def test_values_of_the_wrong_type_are_not_coerced(
    action: str, data: dict[str, Any], where: str
) -> None:
    with pytest.raises(PayloadInvalid) as refused:
        action_payload(action, Role.employer, "e", data)
    assert [e["loc"] for e in refused.value.errors] == [(where,)]
    assert str(refused.value).startswith(f"{where}: ")


def test_values_of_the_right_type_pass() -> None:
    score = action_payload("record_defense_score", Role.evaluation_body, "e", {"score": 6})
    assert isinstance(score, DefenseScoreAction) and score.score == 6.0
    data = {"objection_id": 1, "upheld": False, "resolution": "不成立"}
    resolved = action_payload("resolve_objection", Role.employer, "e", data)
    assert isinstance(resolved, ResolveObjectionAction) and resolved.upheld is False


def payload(data: bytes) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def test_the_workers_decoder_is_strict_and_names_the_field_not_the_value() -> None:
    converter = StrictPayloadConverter()
    good = b'{"actor": {"role": "employer", "id": "e"}, "objection_id": 1, "upheld": true, '
    decoded = converter.from_payload(payload(good + b'"resolution": "r"}'), ResolveObjectionAction)
    assert decoded.upheld is True
    bad = good.replace(b"true", b'"yes"') + '"resolution": "李明的身份证号"}'.encode()
    with pytest.raises(InvalidPayload) as refused:
        converter.from_payload(payload(bad), ResolveObjectionAction)
    assert str(refused.value) == ("ResolveObjectionAction: upheld: Input should be a valid boolean")
    nul = good + b'"resolution": "a\\u0000"}'
    with pytest.raises(InvalidPayload, match=r"resolution: contains a control character"):
        converter.from_payload(payload(nul), ResolveObjectionAction)
