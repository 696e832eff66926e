"""The expert pool's shapes (models/experts.py): bounded, checked as the declaration checks
the same fields, and an ID card never shown back."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from models.experts import ExpertProfile, ImportRow, Relation
from tests.helpers.experts import profile, uscc_of
from tests.helpers.projection import id_card
from tests.unit.test_payload_bounds import unbounded_fields


def test_every_text_and_list_a_supervisor_gives_is_bounded() -> None:
    assert unbounded_fields([ExpertProfile, ImportRow]) == []


def test_a_profile_is_normalized_as_the_declaration_is() -> None:
    given = profile(" 王建国 ", mobile="138 0013 8000", email="Wang@Example.COM")
    assert (given.name, given.mobile, given.email) == (
        "王建国",
        "+8613800138000",
        "wang@example.com",
    )
    assert profile(mobile="", email=" ").mobile is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"employer_uscc": "91650100000000000X"}, "employer_uscc"),
        ({"mobile": "010-12345678"}, "mobile"),
        ({"email": "not-an-address"}, "email"),
        ({"name": "  "}, "name"),
        ({"title": "长" * 101}, "title"),
    ],
)
def test_a_bad_field_is_named(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        profile(**fields)
    assert [e["loc"][0] for e in refused.value.errors()] == [field]


def test_a_relation_checks_the_id_card_and_never_shows_it() -> None:
    card = id_card(3)
    relation = Relation(id_card=card.lower(), relation="配偶")
    assert relation.id_card == card and card not in repr(relation)
    with pytest.raises(ValidationError):
        Relation(id_card=card[:-1] + ("0" if card[-1] != "0" else "1"), relation="配偶")
    with pytest.raises(ValidationError):
        profile(past=[(1, date(2025, 1, 1))], employer_uscc=uscc_of(1)[:-1])
