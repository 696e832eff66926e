import re

import pytest

from models.declaration import NUMBER_PATTERN
from rules.identity import (
    applicant_key,
    declaration_number,
    declaration_workflow_id,
    parse_declaration_number,
    round_workflow_id,
)
from tests.helpers.samples import SAMPLE_ID_CARD, TEST_SECRET


def test_applicant_key_is_stable_and_hides_the_id_card() -> None:
    key = applicant_key(SAMPLE_ID_CARD, TEST_SECRET)
    assert key == "0ec0016f977365fc"  # pinned: changing it would orphan running workflows
    assert applicant_key(SAMPLE_ID_CARD.lower(), TEST_SECRET) == key
    assert applicant_key("110105194912310029", TEST_SECRET) != key
    assert applicant_key(SAMPLE_ID_CARD, "another deployment") != key  # keyed
    assert SAMPLE_ID_CARD not in declaration_workflow_id(2025, key)


def test_no_key_without_a_secret() -> None:
    with pytest.raises(ValueError, match="ZHICHENG_APPLICANT_KEY_SECRET"):
        applicant_key(SAMPLE_ID_CARD, "")


def test_workflow_ids() -> None:
    assert declaration_workflow_id(2025, "eaabaf4afca1764a") == "decl-2025-eaabaf4afca1764a"
    assert round_workflow_id(2025) == "round-2025"


def test_declaration_numbers_are_the_year_and_a_counter() -> None:
    assert declaration_number(2026, 123) == "2026-000123"
    assert declaration_number(2026, 1_234_567) == "2026-1234567"  # more than a million: longer
    assert re.fullmatch(NUMBER_PATTERN, declaration_number(2026, 1))
    with pytest.raises(ValueError):
        declaration_number(2026, 0)
    assert parse_declaration_number("2026-000123") == (2026, 123)
    assert parse_declaration_number(" 2026-123\n") == (2026, 123)  # as a person types it
    for text in ("2026-0", "2026/000123", "26-000123", "2026-", "张三", SAMPLE_ID_CARD, ""):
        assert parse_declaration_number(text) is None, text
