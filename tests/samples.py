"""Valid sample data for tests: identity numbers checked with stdnum and phonenumbers."""

from __future__ import annotations

from functools import cache
from typing import Any

from models.calendar import WorkingCalendar
from models.common import Jurisdiction, Level
from models.declaration import (
    Achievement,
    AchievementKind,
    Applicant,
    DeclarationInput,
    EligibilityFacts,
    Employer,
    Material,
)
from models.round import RoundConfig
from rules.calendar_source import build_calendar
from rules.identity import applicant_key
from rules.round_plan import default_round_config

SAMPLE_ID_CARD = "11010519491231002X"  # valid 居民身份证号 (stdnum.cn.ric)
SAMPLE_USCC = "91110000802100433B"  # valid 统一社会信用代码 (stdnum.cn.uscc)
SAMPLE_MOBILE = "13800138000"  # valid CN mobile; stored as +8613800138000
TEST_SECRET = "zhicheng-tests"  # the applicant-key secret of the tests (rules.identity)


@cache
def _calendar_2025() -> WorkingCalendar:
    return build_calendar([2025])


def sample_round_config() -> RoundConfig:
    """The 2025 round on the real statutory calendar (a fresh copy each call)."""
    return default_round_config(2025, _calendar_2025().model_copy(deep=True))


def sample_declaration_input(**overrides: Any) -> DeclarationInput:
    """An eligible intermediate-level declaration for 2025; keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "round": sample_round_config(),
        "applicant_key": applicant_key(SAMPLE_ID_CARD, TEST_SECRET),
        "applicant": Applicant(
            name="张三",
            id_card=SAMPLE_ID_CARD,
            mobile=SAMPLE_MOBILE,
            email="zhangsan@example.com",
            employer=Employer(name="新疆示例硅业有限公司", uscc=SAMPLE_USCC),
        ),
        "level": Level.intermediate,
        "jurisdiction": Jurisdiction.ftz_urumqi,
        "eligibility": EligibilityFacts(
            continuing_education_completed=True,
            current_level=Level.junior,
            years_at_current_level=5,
        ),
        "achievements": [Achievement(kind=AchievementKind.patent, title="多晶硅还原炉节能装置")],
        "materials": [Material(name="学历证书.pdf", sha256="0" * 64, masked=True)],
    }
    return DeclarationInput(**(fields | overrides))
