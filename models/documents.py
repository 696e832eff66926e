"""The documents the system produces and publishes (R21, R23): what a workflow asks the
`publish_document` activity for, what it gets back, and what the `state` query shows.

One model per document kind, each with the facts its template fills in; `PublishRequest`
wraps one of them with the idempotency scope and the issue instant (workflow time).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from models.common import Jurisdiction, Level, Strict

# The activity's name (activities/publish.py), called by name through workflows/calls.py;
# it is in recorded histories, so it never changes.
PUBLISH_DOCUMENT = "publish_document"

# Error types of `publish_document` (ApplicationError.type). The first two are non-retryable:
# the template, its data or the store must be fixed by a person.
RENDER_ERROR = "DocumentRenderError"
PUBLICATION_CONFLICT = "PublicationConflict"  # other content is published under the name
FONT_MISSING = "DocumentFontMissing"  # retryable: install a CJK font (scripts/lib.sh)
NON_RETRYABLE_ERRORS = (RENDER_ERROR, PUBLICATION_CONFLICT)


class DocumentKind(StrEnum):
    material_requirements = "material_requirements"  # 附件1 网上申报材料填写要求
    employer_publicity = "employer_publicity"  # 附件2 推荐单位公示
    publicity_result = "publicity_result"  # 附件3 推荐单位公示结果
    competent_unit_opinion = "competent_unit_opinion"  # 附件4 主管单位推荐意见
    continuing_education_exemption = "continuing_education_exemption"  # 附件5 继续教育免试表
    result_publicity_list = "result_publicity_list"  # 评审结果公示名单 (R20)
    approval_document = "approval_document"  # 任职资格审批文件 (R21)


class Column(StrEnum):
    """The publication store's columns (the platform's 栏目)."""

    approval_documents = "approval_documents"  # 任职资格审批文件 (R21)
    result_publicity = "result_publicity"  # 评审结果公示 (R20)
    round_documents = "round_documents"  # 通知附件 (attachment 1)
    declaration_documents = "declaration_documents"  # 申报附件 (attachments 2–5)


COLUMN_NAMES_ZH = {
    Column.approval_documents: "任职资格审批文件",
    Column.result_publicity: "评审结果公示",
    Column.round_documents: "通知附件",
    Column.declaration_documents: "申报附件",
}

DOCUMENT_COLUMNS = {
    DocumentKind.material_requirements: Column.round_documents,
    DocumentKind.employer_publicity: Column.declaration_documents,
    DocumentKind.publicity_result: Column.declaration_documents,
    DocumentKind.competent_unit_opinion: Column.declaration_documents,
    DocumentKind.continuing_education_exemption: Column.declaration_documents,
    DocumentKind.result_publicity_list: Column.result_publicity,
    DocumentKind.approval_document: Column.approval_documents,
}

# The title an engineering-series level confers (工程系列): shown beside the level.
TITLE_NAMES_ZH = {
    Level.junior: "助理工程师",
    Level.intermediate: "工程师",
    Level.associate_senior: "高级工程师",
}

SERIES_ZH = "工程系列"  # R1
SPECIALTY_ZH = "光伏硅基专业"  # R1


class DocumentPerson(Strict):
    """A person a document names (blind review does not apply to these documents)."""

    name: str = Field(min_length=1, max_length=100)
    employer_name: str = Field(min_length=1, max_length=200)
    level: Level
    declaration_id: str | None = None
    series_zh: str = SERIES_ZH
    specialty_zh: str = SPECIALTY_ZH


class DocumentAchievement(Strict):
    kind: str  # models.declaration.AchievementKind's value (this module imports no declaration)
    title: str


class MaterialRequirements(Strict):
    """附件1: the round's requirements for the online materials."""

    kind: Literal[DocumentKind.material_requirements] = DocumentKind.material_requirements
    round_year: int
    submission_opens_at: AwareDatetime
    submission_closes_at: AwareDatetime
    review_opens_at: AwareDatetime
    review_closes_at: AwareDatetime
    correction_hours: int = 48
    max_returns: int = 3
    publicity_working_days: int = 5


class EmployerPublicity(Strict):
    """附件2: the employer's notice publicizing one declaration inside the unit (R13)."""

    kind: Literal[DocumentKind.employer_publicity] = DocumentKind.employer_publicity
    round_year: int
    applicant: DocumentPerson
    jurisdiction: Jurisdiction
    current_level: Level | None = None
    current_level_basis: str = "title"  # models.declaration.TitleBasis's value
    vocational_skill_level: str | None = None  # R25: models.common.VocationalSkillLevel's value
    years_at_current_level: float = 0
    village_stationed_months: int = 0
    village_route: bool = False  # R6
    achievements: list[DocumentAchievement] = Field(default_factory=list)
    starts_at: AwareDatetime
    ends_at: AwareDatetime  # R13: 24:00 of the last working day, i.e. 00:00 the day after
    working_days: int = 5


class PublicityResult(Strict):
    """附件3: the result of that publicity: no objection, or none upheld (R13, R14)."""

    kind: Literal[DocumentKind.publicity_result] = DocumentKind.publicity_result
    round_year: int
    applicant: DocumentPerson
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    working_days: int = 5
    objections_raised: int = Field(default=0, ge=0)
    resolutions: list[str] = Field(default_factory=list)  # of the objections not upheld
    opinion: str  # R14: the mandated recommendation opinion


class CompetentUnitOpinion(Strict):
    """附件4: the competent unit's recommendation opinion (R14)."""

    kind: Literal[DocumentKind.competent_unit_opinion] = DocumentKind.competent_unit_opinion
    round_year: int
    applicant: DocumentPerson
    competent_unit: str = Field(min_length=1, max_length=200)
    opinion: str = Field(min_length=1, max_length=2000)


class ContinuingEducationExemption(Strict):
    """附件5: continuing education waived for half a year stationed in a village (R4)."""

    kind: Literal[DocumentKind.continuing_education_exemption] = (
        DocumentKind.continuing_education_exemption
    )
    round_year: int
    applicant: DocumentPerson
    village_stationed_months: int = Field(ge=0, le=12)


class ResultPublicityList(Strict):
    """评审结果公示名单: the people the committee passed, publicized before approval (R20)."""

    kind: Literal[DocumentKind.result_publicity_list] = DocumentKind.result_publicity_list
    round_year: int
    people: list[DocumentPerson] = Field(min_length=1)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    working_days: int = 5


class ApprovalDocument(Strict):
    """任职资格审批文件 (R21): one red-header document approving a list of people (one
    declaration now; the Round workflow batches a round's approvals into one)."""

    kind: Literal[DocumentKind.approval_document] = DocumentKind.approval_document
    round_year: int
    approved: list[DocumentPerson] = Field(min_length=1)
    number_prefix: str | None = None  # None: the configured prefix (甘经开人社)


DocumentContent = Annotated[
    MaterialRequirements
    | EmployerPublicity
    | PublicityResult
    | CompetentUnitOpinion
    | ContinuingEducationExemption
    | ResultPublicityList
    | ApprovalDocument,
    Field(discriminator="kind"),
]


class PublishRequest(Strict):
    """The one argument of `publish_document`. (kind, scope) identifies the document:
    publishing it again returns the first publication and writes nothing."""

    # Whose document: a workflow id (decl-2025-…, round-2025) or a batch id; part of the
    # published file name, so only letters, digits, '.', '_' and '-'.
    scope: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    issued_at: AwareDatetime  # the document's date (and, for R21, its number's year)
    document: DocumentContent

    @property
    def key(self) -> str:
        return f"{self.document.kind.value}/{self.scope}"


class PublishedDocument(Strict):
    """What `publish_document` returns: the document as it stands in the publication store."""

    key: str
    kind: DocumentKind
    column: Column
    title: str
    date: str  # the document's date, YYYY-MM-DD (Asia/Shanghai)
    document_number: str | None = None  # R21 only: 甘经开人社〔2025〕12号
    file_name: str  # the PDF, relative to the store
    sha256: str
    html_file_name: str
    html_sha256: str
    published_at: datetime  # wall clock of the first publication
    already_published: bool = False  # True: this call found it published and wrote nothing


class DocumentStatus(StrEnum):
    publishing = "publishing"
    published = "published"
    failed = "failed"


class DeclarationDocument(Strict):
    """One document of a declaration as its `state` query shows it."""

    kind: DocumentKind
    status: DocumentStatus
    title: str | None = None
    file_name: str | None = None
    sha256: str | None = None
    document_number: str | None = None
    error: str | None = None  # why it failed (recorded in document_publications too)
