"""The applicant's way ahead (portal/applicant_guide.py): every stage is on the path, every
ending says what follows, and each level's needs come from the round's tables."""

from __future__ import annotations

from models.common import ENDINGS, Level, Stage, VocationalSkillLevel
from portal.applicant_guide import PATH, WHAT_FOLLOWS_ZH, declaration_path, level_requirements
from tests.helpers.samples import sample_round_config


def test_every_stage_is_a_step_of_the_path_and_every_ending_says_what_follows() -> None:
    covered = [stage for _, stages in PATH for stage in stages]
    assert sorted(covered) == sorted(set(covered))  # each stage in one step
    assert set(Stage) - set(covered) == set(ENDINGS) - {Stage.approved}
    assert set(WHAT_FOLLOWS_ZH) == set(ENDINGS)


def test_before_declaring_the_first_step_is_current() -> None:
    steps = declaration_path(None)
    assert [s.status for s in steps] == ["current"] + ["todo"] * (len(PATH) - 1)


def test_each_levels_needs_follow_the_rounds_tables() -> None:
    config = sample_round_config()
    needs = level_requirements(config)
    assert needs["初级"] == ["不要求现有职称"]
    assert (
        needs["中级"][0]
        == "须具备初级职称（或相应职业资格、市外职称、高级工职业技能等级）满4年，上传相应证书"
    )
    assert "至少2项业绩成果" in needs["副高级"][1]
    del config.skill_level_equivalents[VocationalSkillLevel.senior_worker]
    del config.conditions[Level.junior]
    needs = level_requirements(config)
    assert "初级" not in needs and "高级工" not in needs["中级"][0]
