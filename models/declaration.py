"""The declaration: what starts it, what each action carries, what its `state` query returns."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import phonenumbers
from pydantic import AwareDatetime, EmailStr, Field, field_validator
from stdnum.cn import ric, uscc

from models.common import (
    Actor,
    ActorSignature,
    Jurisdiction,
    Level,
    Role,
    Stage,
    Strict,
    VocationalSkillLevel,
)
from models.documents import DeclarationDocument
from models.masked_check import MaskedCheck
from models.round import MAX_COMMITTEE_MEMBERS, RoundConfig


class Employer(Strict):
    name: str = Field(min_length=1, max_length=200)
    uscc: str  # 统一社会信用代码
    competent_unit: str | None = Field(
        default=None, max_length=200
    )  # 主管单位, R14: recommend through it where there is one

    @field_validator("uscc")
    @classmethod
    def _valid_uscc(cls, value: str) -> str:
        try:
            return uscc.validate(value)
        except Exception as exc:  # stdnum raises several ValidationError subclasses
            raise ValueError(f"not a valid unified social credit code: {exc}") from None


def e164_mobile(value: str) -> str:
    """A mobile number (a WeChat account is bound to one, R16) in E.164 form; ValueError if
    `value` is not a valid mobile number (China by default)."""
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    mobile_types = (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in (
        mobile_types
    ):
        raise ValueError(f"not a valid mobile number: {value}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def valid_id_card(value: str) -> str:
    """A resident ID card number (居民身份证号码, GB 11643: 18 characters, its check digit
    right), compacted and upper-cased; ValueError otherwise."""
    try:
        return ric.validate(value)
    except Exception as exc:  # stdnum raises several ValidationError subclasses
        raise ValueError(f"not a valid resident ID card number: {exc}") from None


class Applicant(Strict):
    name: str = Field(min_length=1, max_length=100)
    id_card: str  # 居民身份证号; never used in workflow ids or search attributes
    mobile: str  # bound to the WeChat official account (R16)
    email: EmailStr | None = None
    employer: Employer

    @field_validator("id_card")
    @classmethod
    def _valid_id_card(cls, value: str) -> str:
        return valid_id_card(value)

    @field_validator("mobile")
    @classmethod
    def _valid_mobile(cls, value: str) -> str:
        return e164_mobile(value)


class EmploymentStatus(StrEnum):
    in_service = "in_service"
    retired = "retired"


class EmployerKind(StrEnum):
    enterprise = "enterprise"
    public_institution = "public_institution"
    government = "government"


class TitleBasis(StrEnum):
    """R5: how the applicant's current level was obtained; all count the same."""

    # The member is not named `title`: that would shadow str.title on every member.
    professional_title = "title"  # 职称
    qualification = "qualification"  # 职业资格
    outside_city_title = "outside_city_title"  # 市外取得的职称
    vocational_skill = "vocational_skill"  # R25: 职业技能等级（高技能人才）


class AchievementKind(StrEnum):
    """R7: papers are not required and may be replaced by any of the others."""

    paper = "paper"  # 论文
    patent = "patent"  # 专利成果
    technical_breakthrough = "technical_breakthrough"  # 技术突破
    process_flow = "process_flow"  # 工艺流程
    standard = "standard"  # 标准开发
    achievement_transformation = "achievement_transformation"  # 成果转化


class Achievement(Strict):
    kind: AchievementKind
    title: str = Field(min_length=1, max_length=300)


class EligibilityFacts(Strict):
    """What the applicant declares for R2–R8; checked when the declaration starts."""

    employment_status: EmploymentStatus = EmploymentStatus.in_service  # R2
    employer_kind: EmployerKind = EmployerKind.enterprise  # R2
    dispatched_from_out_of_town_private_enterprise: bool = False  # R3
    months_working_in_urumqi: int = Field(default=0, ge=0, le=1200)  # R3
    continuing_education_completed: bool = False  # R4
    village_stationed_months_this_year: int = Field(default=0, ge=0, le=12)  # R4, R19
    current_level: Level | None = None  # R5
    current_level_basis: TitleBasis = TitleBasis.professional_title  # R5
    # R25: with the vocational_skill basis, the skill level held; its title level comes from
    # the round's table (RoundConfig.skill_level_equivalents)
    vocational_skill_level: VocationalSkillLevel | None = None
    years_at_current_level: float = Field(default=0, ge=0, le=80)  # R5: former + current specialty
    consecutive_village_years: int = Field(default=0, ge=0, le=80)  # R6
    consecutive_excellent_assessments: int = Field(default=0, ge=0, le=80)  # R6
    integrity_blocked_until: date | None = None  # R8: end of an integrity-archive record


# Far more than any declaration has; a bound, so that no payload outgrows a page or a record.
MAX_ACHIEVEMENTS = 50
MAX_MATERIALS = 50


class Material(Strict):
    """An uploaded scan. `masked`: the applicant used the masking tool on name and employer.
    `check`: the OCR check of the masked copy (R11, models/masked_check.py), as the record
    database holds it when the submission is sent (client/masked_checks.py fills it in,
    whatever the caller put); None where there is none."""

    name: str = Field(min_length=1, max_length=200)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    masked: bool = False
    check: MaskedCheck | None = None


class MaskedCopyCheckInput(Strict):
    """The `MaskedCopyCheck` workflow's input: which copy, of which declaration, and the
    applicant whose name, numbers and employer are looked for (payloads are encrypted)."""

    declaration_id: str = Field(max_length=200)  # the Declaration's workflow id
    masked_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    media_type: str = Field(max_length=50)
    applicant: Applicant
    task_queue: str = Field(max_length=200)  # the OCR activity's (one slot)


# 申报编号: the round year, a dash, the sequence number in at least 6 digits (rules/identity.py
# declaration_number makes it)
NUMBER_PATTERN = r"^[0-9]{4}-[0-9]{6,9}$"


class DeclarationInput(Strict):
    """The one argument of the `Declaration` workflow."""

    round: RoundConfig
    applicant_key: str = Field(pattern=r"^[0-9a-f]{16}$")  # rules.identity.applicant_key
    applicant: Applicant
    level: Level
    jurisdiction: Jurisdiction
    series: str = Field(default="engineering", max_length=100)  # R1
    specialty: str = Field(default="pv_silicon", max_length=100)  # R1: 光伏硅基
    eligibility: EligibilityFacts = Field(default_factory=EligibilityFacts)
    achievements: list[Achievement] = Field(default_factory=list, max_length=MAX_ACHIEVEMENTS)
    materials: list[Material] = Field(default_factory=list, max_length=MAX_MATERIALS)
    # 申报编号 (`2026-000123`), allocated when the declaration is opened
    # (client/declarations.py open_declaration); None in declarations started before numbers
    # existed, and in those started as they are (tests, benchmarks)
    number: str | None = Field(default=None, pattern=NUMBER_PATTERN, max_length=20)
    # R11 (interp.): a submission needs every masked copy's OCR check clean
    # (models/masked_check.py). The portal opens its declarations with it; False in those
    # started before the check existed, from a file, by tests and benchmarks.
    masked_text_check: bool = False


# --- update arguments: one model per update, each with the actor ---------------------------


class Action(Strict):
    actor: Actor
    note: str | None = Field(default=None, max_length=2000)
    # The actor's signature (client/signing.py adds it; the validators verify it). None only
    # in the updates recorded before actors were signed.
    signature: ActorSignature | None = None


class SubmitAction(Action):
    # replaces the materials when given
    materials: list[Material] | None = Field(default=None, max_length=MAX_MATERIALS)


class ReturnAction(Action):
    reason: str = Field(min_length=1, max_length=2000)


class CorrectionReturnAction(ReturnAction):
    """The evaluation body's return for correction (R15). `masking_incomplete`: returned
    because the masking of name and employer is incomplete (R11); it counts toward the
    return limit only where the round says so (`RoundConfig.masking_return_counts`)."""

    masking_incomplete: bool = False


class ObjectionAction(Action):
    summary: str = Field(min_length=1, max_length=2000)


class ResolveObjectionAction(Action):
    objection_id: int = Field(ge=1)
    upheld: bool
    resolution: str = Field(min_length=1, max_length=2000)


class RecommendAction(Action):
    opinion: str = Field(max_length=2000)  # R14: must be exactly the mandated text
    publicity_original_ref: str = Field(min_length=1, max_length=300)  # attachment 2 scan
    publicity_result_ref: str = Field(min_length=1, max_length=300)  # attachment 3 scan


class CompetentUnitOpinionAction(Action):
    opinion: str = Field(min_length=1, max_length=2000)  # attachment 4


class PaymentAction(Action):
    receipt_no: str = Field(min_length=1, max_length=100)


class DefenseArrangementAction(Action):
    starts_at: AwareDatetime
    place: str = Field(min_length=1, max_length=200)
    form: str = Field(min_length=1, max_length=100)  # 现场 / 线上 ...


class DefenseScoreAction(Action):
    score: float = Field(ge=0, le=100)


class WindowChangeAction(Action):
    """R9: the round moves its windows (an extension announced mid-round); the declaration's
    timers follow. Sent by the Round workflow only (role system)."""

    reason: str = Field(min_length=1, max_length=2000)
    submission_opens_at: AwareDatetime | None = None
    submission_closes_at: AwareDatetime | None = None
    review_opens_at: AwareDatetime | None = None
    review_closes_at: AwareDatetime | None = None
    payment_closes_at: AwareDatetime | None = None


class AssignAction(Action):
    """转办 (R26): hand the declaration to a colleague of the organisation that holds it.
    `assignee`: the colleague's account as the portal's actor for it (its role, and its id
    `role:username`: rules/assignment.py account_actor);
    `assignee_unit`: the organisation that account belongs to, as the accounts table has it
    (rules/assignment.py organisation_key: an employer's unified social credit code, a
    competent unit's name, none for the evaluation body), filled in by the client from the
    accounts table (client/assignments.py). `note`: why, optionally."""

    assignee: Actor
    assignee_unit: str | None = Field(default=None, max_length=200)


class CommitteeVoteAction(Action):
    session_id: str = Field(min_length=1, max_length=100)
    members: int = Field(ge=1, le=MAX_COMMITTEE_MEMBERS)
    attending: int = Field(ge=0, le=MAX_COMMITTEE_MEMBERS)
    yes_votes: int = Field(ge=0, le=MAX_COMMITTEE_MEMBERS)


# --- query result ----------------------------------------------------------------------------


class AllowedAction(Strict):
    action: str
    roles: list[Role]


class Objection(Strict):
    id: int
    during: Stage  # publicity or result_publicity
    summary: str
    raised_at: datetime
    raised_by: Actor
    upheld: bool | None = None  # None while open
    resolution: str | None = None


class TimelineEntry(Strict):
    seq: int
    at: datetime
    actor: Actor
    action: str
    from_stage: Stage
    to_stage: Stage
    reason: str | None = None
    # R26: whom an `assign` (转办) handed the declaration to; None for every other action
    assignee: Actor | None = None


class DeclarationState(Strict):
    """The `state` query. Deadlines are ISO 8601 in Asia/Shanghai with their offset."""

    workflow_id: str
    round_year: int
    stage: Stage
    level: Level
    jurisdiction: Jurisdiction
    return_count: int  # R15 returns by the evaluation body (those that count toward the limit)
    employer_return_count: int  # R12, not counted toward R15
    deadlines: dict[str, str]
    allowed_actions: list[AllowedAction]
    objections: list[Objection]
    review_overdue: bool  # R9: the evaluation body missed the review window
    defense_exempt: bool  # R19
    defense_score: float | None
    committee_result: dict[str, object] | None
    ending_reason: str | None
    timeline: list[TimelineEntry]
    # R21, R23: the documents published for this declaration (status, file, or the error)
    documents: list[DeclarationDocument] = Field(default_factory=list)
    # Why the record database refuses the latest transition, while it does (the transition
    # stands in the workflow and is written again on a timer); None when all is recorded.
    record_failure: str | None = None
    # R11: returns because the masking was incomplete (counted in return_count only where the
    # round's masking_return_counts says so)
    masking_return_count: int = 0
    # 申报编号 (DeclarationInput.number); None for a declaration started without one
    number: str | None = None
    # R26: the colleague each organisation handed the declaration to (转办), by the
    # organisation's role; an organisation that never assigned it is absent
    assignees: dict[Role, Actor] = Field(default_factory=dict)
