"""Every payload a person or a client can send (a declaration's start input, each update's
argument, the round's input and actions) is bounded: each text has a maximum length (or a
pattern or a fixed set of values), each list and mapping a maximum size, so that no payload
is larger than a page can show or the database should keep (issue 13, "bounded lengths").

The models are walked, not listed: a field added without a bound fails here."""

from __future__ import annotations

import types
import typing
from datetime import date, datetime
from enum import Enum

import annotated_types
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from client.inputs import ROUND_UPDATES, action_models
from models.declaration import DeclarationInput
from models.round import RoundInput

# Text whose own validator fixes its length: an ID card number, a credit code, a mobile
# number (rules of their own in models/declaration.py) and an e-mail address (RFC 5321).
SELF_BOUNDED = {
    ("Applicant", "id_card"),
    ("Applicant", "mobile"),
    ("Applicant", "email"),
    ("Employer", "uscc"),
}
# State the Round workflow carries into its next run (continue-as-new): built by the workflow,
# never sent by a person.
CARRIED = {"RoundProgress"}
ROOTS: list[type[BaseModel]] = [
    DeclarationInput,
    RoundInput,
    *action_models().values(),
    *ROUND_UPDATES.values(),
]


def bounded(metadata: list[object]) -> bool:
    return any(
        bounded(list(m.metadata))
        if isinstance(m, FieldInfo)
        else isinstance(m, annotated_types.MaxLen) or bool(getattr(m, "pattern", None))
        for m in metadata
    )


def unbounded_fields(roots: list[type[BaseModel]]) -> list[str]:
    found: list[str] = []
    seen: set[type[BaseModel]] = set()

    def walk_type(owner: str, name: str, hint: object, metadata: list[object]) -> None:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is typing.Annotated:
            walk_type(owner, name, args[0], [*metadata, *args[1:]])
        elif origin in (typing.Union, types.UnionType):
            for arg in args:
                if arg is not type(None):
                    walk_type(owner, name, arg, metadata)
        elif origin in (list, dict, tuple, set, frozenset):
            if origin is not tuple and not bounded(metadata):
                found.append(f"{owner}.{name}: a {origin.__name__} without max_length")
            for arg in args:
                if arg is not Ellipsis:
                    walk_type(owner, f"{name}[]", arg, [])
        elif isinstance(hint, type) and issubclass(hint, BaseModel):
            walk_model(hint)
        elif hint is str and not bounded(metadata) and (owner, name) not in SELF_BOUNDED:
            found.append(f"{owner}.{name}: text without max_length")
        elif isinstance(hint, type) and issubclass(
            hint, Enum | int | float | bool | date | datetime
        ):
            return

    def walk_model(model: type[BaseModel]) -> None:
        if model in seen or model.__name__ in CARRIED:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            assert isinstance(info, FieldInfo)
            walk_type(model.__name__, name, info.annotation, list(info.metadata))

    for root in roots:
        walk_model(root)
    return sorted(set(found))


def test_every_text_and_list_a_person_can_send_is_bounded() -> None:
    assert unbounded_fields(ROOTS) == []


@pytest.mark.parametrize("root", ROOTS, ids=lambda m: m.__name__)
def test_the_walk_finds_an_unbounded_field_in_any_payload(root: type[BaseModel]) -> None:
    """Not a test that cannot fail: an unbounded text or list in any payload is found."""

    class Loose(BaseModel):
        words: list[str]

    class Unbounded(root):  # type: ignore[valid-type, misc]
        loose: str = ""
        nested: Loose | None = None

    assert unbounded_fields([Unbounded]) == [
        "Loose.words: a list without max_length",
        "Loose.words[]: text without max_length",
        "Unbounded.loose: text without max_length",
    ]
