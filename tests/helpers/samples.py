"""Valid sample data for tests: identity numbers checked with stdnum and phonenumbers."""

from __future__ import annotations

from functools import cache
from typing import Any

from models.calendar import WorkingCalendar
from models.common import Jurisdiction, Level, Role
from models.declaration import (
    Achievement,
    AchievementKind,
    Applicant,
    DeclarationInput,
    EligibilityFacts,
    Employer,
    Material,
)
from models.records import ACCOUNT_EVENTS, BLIND_ROLES, SESSION_EVENTS, NotificationEvent
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


NOTIFICATION_COMMON = {  # the context every notification gets
    "applicant_name": "张三",
    "level_zh": "中级",
    "round_year": 2025,
    "declaration_id": "decl-2025-0123456789abcdef",
    "declaration_number": "2025-000001",
}
# What the workflow passes per event besides COMMON (times are ISO 8601 strings).
# A sample context per event: what the workflow passes for it.
NOTIFICATION_SAMPLES: dict[NotificationEvent, dict[str, Any]] = {
    NotificationEvent.ineligible: {
        "refusals": [{"rule": "R2", "reason_zh": "离退休人员不得申报参加职称评审"}]
    },
    NotificationEvent.employer_returned: {"reason": "业绩材料未遮盖单位名称"},
    NotificationEvent.publicity_started: {"publicity_ends_at": "2025-09-12T00:00:00+08:00"},
    NotificationEvent.objection_upheld: {
        "resolution": "经核实业绩材料不实",
        "during_zh": "单位内部公示",
    },
    NotificationEvent.returned_for_correction: {
        "reason": "职称证书扫描件不清晰",
        "correction_deadline": "2025-10-03T06:00:00Z",
        "return_count": 1,
        "max_returns": 3,
    },
    NotificationEvent.abandoned: {"correction_deadline": "2025-10-03T06:00:00+00:00"},
    NotificationEvent.locked: {"return_count": 4, "reason": "继续教育证明缺失"},
    NotificationEvent.materials_accepted: {"payment_closes_at": "2025-11-15T23:59:59+08:00"},
    NotificationEvent.unpaid: {"payment_closes_at": "2025-11-15T23:59:59+08:00"},
    NotificationEvent.payment_confirmed: {"defense_required": True, "defense_exempt": False},
    NotificationEvent.defense_arranged: {
        "starts_at": "2025-11-20T01:30:00+00:00",
        "place": "甘泉堡经济技术开发区人力资源服务中心三楼会议室",
        "form": "现场答辩",
    },
    NotificationEvent.result_publicity_started: {
        "result_publicity_ends_at": "2025-12-05T00:00:00+08:00",
        "yes_votes": 8,
        "attending": 9,
    },
    NotificationEvent.not_passed: {"yes_votes": 5, "attending": 9, "required_yes": 6},
    NotificationEvent.approved: {},
    NotificationEvent.not_submitted: {"submission_closes_at": "2025-09-30T00:00:00+08:00"},
    NotificationEvent.withdrawn: {},
    NotificationEvent.review_overdue: {"review_closes_at": "2025-10-31T00:00:00+08:00"},
    NotificationEvent.revoked: {
        "reason": "抽查发现业绩证明材料系伪造",
        "revoked_at": "2026-03-02T02:00:00+00:00",
        "blocked_until": "2029-03-02",
        "integrity_years": 3,
    },
    NotificationEvent.submitted: {"to_zh": "用人单位", "resubmission": False},
    NotificationEvent.declaration_submitted: {
        "submission_closes_at": "2025-09-30T00:00:00+08:00",
        "resubmission": True,
    },
    NotificationEvent.publicity_ended: {"submission_closes_at": "2025-09-30T00:00:00+08:00"},
    NotificationEvent.recommended: {"by_zh": "用人单位", "to_zh": "主管单位"},
    NotificationEvent.recommendation_received: {
        "submission_closes_at": "2025-09-30T00:00:00+08:00"
    },
    NotificationEvent.recommendation_returned: {
        "submission_closes_at": "2025-09-30T00:00:00+08:00",
        "reason": "推荐意见附件不完整",
    },
    NotificationEvent.declaration_arrived: {
        "review_opens_at": "2025-10-01T00:00:00+08:00",
        "review_closes_at": "2025-10-31T00:00:00+08:00",
        "resubmission": False,
    },
    NotificationEvent.committee_arrived: {"defended": True},
    NotificationEvent.correction_reminder: {
        "deadline": "2025-10-03T14:00:00+08:00",
        "lead_zh": "4小时",
        "stage_zh": "退回补正",
    },
    NotificationEvent.payment_reminder: {
        "deadline": "2025-11-15T00:00:00+08:00",
        "lead_zh": "3天",
        "stage_zh": "待缴费",
    },
    NotificationEvent.review_closing: {
        "deadline": "2025-10-31T00:00:00+08:00",
        "lead_zh": "3天",
        "stage_zh": "评审机构审核",
    },
    NotificationEvent.submission_closing: {
        "deadline": "2025-09-30T00:00:00+08:00",
        "lead_zh": "3天",
        "stage_zh": "单位内部公示",
    },
    NotificationEvent.evaluation_digest: {
        "arrived": 12,
        "open": 30,
        "since": "2025-09-28T09:00:00+08:00",
        "until": "2025-09-29T09:00:00+08:00",
        "review_closes_at": "2025-10-31T00:00:00+08:00",
    },
    NotificationEvent.registration_code: {
        "code": "042917",
        "minutes": 10,
        "expires_at": "2025-09-01T10:10:00+08:00",
    },
    NotificationEvent.password_reset_code: {
        "code": "042917",
        "minutes": 10,
        "expires_at": "2025-09-01T10:10:00+08:00",
    },
    NotificationEvent.committee_drawn: {
        "round_year": 2025,
        "committee_name": "工程系列光伏硅基专业职称评审委员会",
        "alternate": True,
        "position": 10,
        "held_at": "2025-11-25T01:30:00+00:00",
        "place": "甘泉堡经济技术开发区人力资源服务中心第一会议室",
    },
    NotificationEvent.committee_seated: {
        "round_year": 2025,
        "committee_name": "工程系列光伏硅基专业职称评审委员会",
        "alternate": False,
        "position": 10,
        "held_at": None,
        "place": None,
    },
}
# Whom each event goes to (the first recipient where there are several); the rest: the applicant.
NOTIFICATION_RECIPIENTS: dict[NotificationEvent, Role] = {
    NotificationEvent.evaluation_digest: Role.evaluation_body,
    NotificationEvent.review_closing: Role.evaluation_body,
    NotificationEvent.submission_closing: Role.employer,
    NotificationEvent.review_overdue: Role.evaluation_body,
    NotificationEvent.declaration_submitted: Role.employer,
    NotificationEvent.publicity_ended: Role.employer,
    NotificationEvent.recommendation_received: Role.competent_unit,
    NotificationEvent.recommendation_returned: Role.employer,
    NotificationEvent.declaration_arrived: Role.evaluation_body,
    NotificationEvent.committee_arrived: Role.committee,
    NotificationEvent.committee_drawn: Role.expert,
    NotificationEvent.committee_seated: Role.expert,
}
NOTIFICATION_BLIND_COMMON = {  # what a blind reviewer's messages get instead (R11)
    "level_zh": "中级",
    "jurisdiction_zh": "中国（新疆）自贸试验区乌鲁木齐片区",
    "round_year": 2025,
}


def notification_recipient(event: NotificationEvent) -> Role:
    return NOTIFICATION_RECIPIENTS.get(event, Role.applicant)


def notification_context(event: NotificationEvent) -> dict[str, Any]:
    """The sample context of `event` as its recipient gets it (an account's message: only
    its own, it belongs to no declaration)."""
    if event in ACCOUNT_EVENTS or event in SESSION_EVENTS:
        return dict(NOTIFICATION_SAMPLES[event])
    blind = notification_recipient(event) in BLIND_ROLES
    return {
        **(NOTIFICATION_BLIND_COMMON if blind else NOTIFICATION_COMMON),
        **NOTIFICATION_SAMPLES[event],
    }


# What a production process needs besides the setting a test is about: each secret its own,
# 48 bytes, none shipped (settings.py, SECRETS). The codec keys are left to the test.
OTHER_PRODUCTION_SECRETS = {
    "ZHICHENG_APPLICANT_KEY_SECRET": "a" * 48,
    "PORTAL_SECRET": "p" * 48,
    "ZHICHENG_ACTOR_SIGNING_KEY": "s" * 48,
}
