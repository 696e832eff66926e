import pytest

from rules.identity import applicant_key, declaration_workflow_id, round_workflow_id
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
