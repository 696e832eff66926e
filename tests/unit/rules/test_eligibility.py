from datetime import date
from typing import Any

import pytest

from models.common import Level, VocationalSkillLevel
from models.declaration import (
    Achievement,
    AchievementKind,
    EligibilityFacts,
    EmployerKind,
    EmploymentStatus,
    TitleBasis,
)
from rules.eligibility import (
    Refusal,
    check_eligibility,
    defense_exempt,
    defense_required,
    effective_current_level,
    village_route_applies,
)
from tests.helpers.samples import sample_declaration_input, sample_round_config

TODAY = date(2025, 9, 10)


def facts(**changes: Any) -> EligibilityFacts:
    """The sample's eligible facts (junior for 5 years, CE done) with some changed."""
    return EligibilityFacts(**(sample_declaration_input().eligibility.model_dump() | changes))


def achievements(*kinds: AchievementKind) -> list[Achievement]:
    return [Achievement(kind=kind, title=f"成果{i}") for i, kind in enumerate(kinds, 1)]


def refusals(eligibility: EligibilityFacts | None = None, **overrides: Any) -> list[Refusal]:
    declaration = sample_declaration_input(eligibility=eligibility or facts(), **overrides)
    return check_eligibility(declaration, TODAY)


def only(found: list[Refusal], rule: str) -> Refusal:
    assert [r.rule for r in found] == [rule], found
    return found[0]


def test_the_sample_is_eligible() -> None:
    assert refusals() == []


def test_r1_other_specialty_or_series() -> None:
    refusal = only(refusals(specialty="electrical"), "R1")
    assert "electrical" in refusal.reason and "光伏硅基" in refusal.reason_zh
    only(refusals(series="health"), "R1")


def test_r1_level_missing_from_the_conditions_table() -> None:
    round_config = sample_round_config()
    del round_config.conditions[Level.intermediate]
    refusal = only(refusals(round=round_config), "R1")
    assert refusal.reason_zh == "本轮不评审中级职称"


def test_r2_retired() -> None:
    only(refusals(facts(employment_status=EmploymentStatus.retired)), "R2")


def test_r2_not_an_enterprise() -> None:
    refusal = only(refusals(facts(employer_kind=EmployerKind.public_institution)), "R2")
    assert "事业单位" in refusal.reason_zh


def test_r3_dispatched_staff_need_a_year_in_urumqi() -> None:
    dispatched = {"dispatched_from_out_of_town_private_enterprise": True}
    refusal = only(refusals(facts(**dispatched, months_working_in_urumqi=11)), "R3")
    assert "declared 11" in refusal.reason and "满12个月（已申报11个月）" in refusal.reason_zh
    assert refusals(facts(**dispatched, months_working_in_urumqi=12)) == []
    assert refusals(facts(months_working_in_urumqi=0)) == []  # not dispatched: no condition


def test_r4_continuing_education_unless_half_a_year_in_a_village() -> None:
    no_ce = {"continuing_education_completed": False}
    refusal = only(refusals(facts(**no_ce, village_stationed_months_this_year=5)), "R4")
    assert "已申报驻村5个月" in refusal.reason_zh
    assert refusals(facts(**no_ce, village_stationed_months_this_year=6)) == []


def test_r5_years_at_the_prerequisite_level() -> None:
    refusal = only(refusals(facts(years_at_current_level=3.5)), "R5")
    assert "needs 4 years at the junior level; declared 3.5" in refusal.reason
    assert "满4年（已申报3.5年）" in refusal.reason_zh
    assert refusals(facts(years_at_current_level=4)) == []


@pytest.mark.parametrize("basis", sorted(set(TitleBasis) - {TitleBasis.vocational_skill}))
def test_r5_any_basis_counts_the_same(basis: TitleBasis) -> None:
    assert refusals(facts(current_level_basis=basis)) == []


SKILL = TitleBasis.vocational_skill


@pytest.mark.parametrize(
    ("skill", "level", "prior"),
    [
        (VocationalSkillLevel.senior_worker, Level.intermediate, Level.junior),
        (VocationalSkillLevel.technician, Level.associate_senior, Level.intermediate),
    ],
)
def test_r25_a_vocational_skill_level_counts_as_its_title_level(
    skill: VocationalSkillLevel, level: Level, prior: Level
) -> None:
    """高级工 counts as junior (so intermediate may be applied for after 4 years), 技师 as
    intermediate: no title needs to be declared."""
    held = facts(
        current_level=None,
        current_level_basis=SKILL,
        vocational_skill_level=skill,
        years_at_current_level=5,
    )
    two = achievements(AchievementKind.patent, AchievementKind.standard)
    assert refusals(held, level=level, achievements=two) == []
    assert effective_current_level(held, sample_round_config()) is prior


def test_r25_the_skill_level_is_needed_and_must_match_a_declared_level() -> None:
    found = refusals(facts(current_level=None, current_level_basis=SKILL))
    assert [r.rule for r in found] == ["R25", "R5"]  # and so no prerequisite level is held
    assert "高级工、技师或高级技师" in found[0].reason_zh
    assert found[0].condition_zh == "高技能人才申报"
    mismatch = facts(
        current_level=Level.intermediate,
        current_level_basis=SKILL,
        vocational_skill_level=VocationalSkillLevel.senior_worker,
    )
    refusal = only(refusals(mismatch), "R25")
    assert "高级工对应初级职称，与填写的现有级别中级不一致" in refusal.reason_zh


def test_r25_the_table_is_the_rounds() -> None:
    """A round that counts 高级工 as nothing refuses it (the table is configurable)."""
    config = sample_round_config()
    del config.skill_level_equivalents[VocationalSkillLevel.senior_worker]
    held = facts(
        current_level=None,
        current_level_basis=SKILL,
        vocational_skill_level=VocationalSkillLevel.senior_worker,
    )
    found = refusals(held, round=config)
    assert [r.rule for r in found] == ["R25", "R5"]  # and so no prerequisite level is held
    assert found[0].reason_zh == "本轮评审中高级工不对应任何职称级别"


def test_r5_the_prerequisite_level_is_needed() -> None:
    refusal = only(refusals(facts(current_level=None)), "R5")
    assert "current level: none" in refusal.reason and "当前：无" in refusal.reason_zh
    associate = achievements(AchievementKind.patent, AchievementKind.standard)
    skipping = refusals(facts(), level=Level.associate_senior, achievements=associate)
    assert "needs the intermediate level first" in only(skipping, "R5").reason


def test_r5_already_at_or_above_the_target() -> None:
    only(refusals(facts(current_level=Level.junior), level=Level.junior), "R5")
    refusal = only(refusals(facts(current_level=Level.associate_senior)), "R5")
    assert refusal.reason_zh == "已具备副高级（职称），不低于申报级别中级"
    assert refusals(facts(current_level=None, years_at_current_level=0), level=Level.junior) == []


VILLAGE_ROUTE = {
    "current_level": Level.intermediate,
    "years_at_current_level": 1,
    "consecutive_village_years": 3,
    "consecutive_excellent_assessments": 3,
}
TWO_ACHIEVEMENTS = achievements(AchievementKind.process_flow, AchievementKind.patent)


def test_r6_village_route_waives_the_years() -> None:
    route = facts(**VILLAGE_ROUTE)
    assert village_route_applies(route, Level.associate_senior)
    assert refusals(route, level=Level.associate_senior, achievements=TWO_ACHIEVEMENTS) == []


@pytest.mark.parametrize(
    "change",
    [{"consecutive_village_years": 2}, {"consecutive_excellent_assessments": 2}],
)
def test_r6_needs_three_years_of_both(change: dict[str, Any]) -> None:
    short = facts(**(VILLAGE_ROUTE | change))
    assert not village_route_applies(short, Level.associate_senior)
    found = refusals(short, level=Level.associate_senior, achievements=TWO_ACHIEVEMENTS)
    assert "needs 5 years at the intermediate level; declared 1" in only(found, "R5").reason


def test_r6_is_only_for_intermediate_to_associate_senior() -> None:
    village_junior = facts(**(VILLAGE_ROUTE | {"current_level": Level.junior}))
    assert not village_route_applies(village_junior, Level.intermediate)
    assert not village_route_applies(village_junior, Level.associate_senior)


def test_r7_achievements_of_any_kind_papers_not_required() -> None:
    refusal = only(refusals(achievements=[]), "R7")
    assert "needs 1 achievements" in refusal.reason and "已提交0项" in refusal.reason_zh
    for kind in AchievementKind:
        assert refusals(achievements=achievements(kind)) == []


def test_r8_integrity_archive_blocks_until_its_last_day() -> None:
    refusal = only(refusals(facts(integrity_blocked_until=TODAY)), "R8")
    assert TODAY.isoformat() in refusal.reason and TODAY.isoformat() in refusal.reason_zh
    assert refusals(facts(integrity_blocked_until=date(2025, 9, 9))) == []


def test_every_failed_rule_is_reported() -> None:
    found = refusals(
        facts(employment_status=EmploymentStatus.retired, continuing_education_completed=False),
        achievements=[],
    )
    assert [r.rule for r in found] == ["R2", "R4", "R7"]


def test_defense_required_for_intermediate_and_associate_senior() -> None:
    assert [defense_required(level) for level in Level] == [False, True, True]


def test_defense_exempt_after_half_a_year_in_a_village() -> None:
    assert defense_exempt(facts(village_stationed_months_this_year=6))
    assert not defense_exempt(facts(village_stationed_months_this_year=5))
