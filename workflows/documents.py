"""The documents the workflows publish (R13, R14, R20, R21, R23), built from what the
workflow knows, and how each shows in a declaration's `state`. Plain functions of their
inputs (the workflow passes its id and its clock), tested on their own
(tests/unit/test_workflow_builders.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from models.common import Stage
from models.coordination import ResultListRequest
from models.declaration import DeclarationInput, Objection
from models.documents import (
    ApprovalDocument,
    CompetentUnitOpinion,
    ContinuingEducationExemption,
    DeclarationDocument,
    DocumentAchievement,
    DocumentContent,
    DocumentKind,
    DocumentPerson,
    DocumentStatus,
    EmployerPublicity,
    MaterialRequirements,
    PublicityResult,
    PublishedDocument,
    PublishRequest,
)
from models.round import ResultBatch, RoundConfig
from rules.eligibility import (
    MIN_VILLAGE_MONTHS_FOR_EXEMPTION,
    effective_current_level,
    village_route_applies,
)
from rules.recommendation import RECOMMENDATION_OPINION

# --- the request and how it went ------------------------------------------------------------


def publish_request(scope: str, issued_at: datetime, document: DocumentContent) -> PublishRequest:
    """What publish_document gets: (kind, scope) makes it once per document."""
    return PublishRequest(scope=scope, issued_at=issued_at, document=document)


def publishing(kind: DocumentKind) -> DeclarationDocument:
    return DeclarationDocument(kind=kind, status=DocumentStatus.publishing)


def published(kind: DocumentKind, done: PublishedDocument) -> DeclarationDocument:
    return DeclarationDocument(
        kind=kind,
        status=DocumentStatus.published,
        title=done.title,
        file_name=done.file_name,
        sha256=done.sha256,
        document_number=done.document_number,
    )


def failed(kind: DocumentKind, error: str) -> DeclarationDocument:
    return DeclarationDocument(kind=kind, status=DocumentStatus.failed, error=error)


# --- a declaration's documents ---------------------------------------------------------------


def document_person(declaration: DeclarationInput, workflow_id: str) -> DocumentPerson:
    applicant = declaration.applicant
    return DocumentPerson(
        name=applicant.name,
        employer_name=applicant.employer.name,
        level=declaration.level,
        declaration_id=workflow_id,
    )


def employer_publicity(
    declaration: DeclarationInput,
    round_config: RoundConfig,
    person: DocumentPerson,
    starts_at: datetime,
    ends_at: datetime,
) -> EmployerPublicity:
    """Attachment 2: the employer's publicity of the declaration (R13)."""
    facts = declaration.eligibility
    return EmployerPublicity(
        round_year=round_config.year,
        applicant=person,
        jurisdiction=declaration.jurisdiction,
        current_level=effective_current_level(facts, round_config),  # R5, R25
        current_level_basis=facts.current_level_basis.value,
        vocational_skill_level=(
            facts.vocational_skill_level.value if facts.vocational_skill_level else None
        ),
        years_at_current_level=facts.years_at_current_level,
        village_stationed_months=facts.village_stationed_months_this_year,
        village_route=village_route_applies(facts, declaration.level),
        achievements=[
            DocumentAchievement(kind=a.kind.value, title=a.title) for a in declaration.achievements
        ],
        starts_at=starts_at,
        ends_at=ends_at,
        working_days=round_config.publicity_working_days,
    )


def publicity_result(
    round_config: RoundConfig,
    person: DocumentPerson,
    starts_at: datetime,
    ends_at: datetime,
    objections: Sequence[Objection],
) -> PublicityResult | None:
    """Attachment 3, once the publicity is over and none of its objections is open (R13,
    R14); None while one is. `objections`: the declaration's, of any stage."""
    during = [o for o in objections if o.during is Stage.publicity]
    if any(o.upheld is None for o in during):
        return None
    return PublicityResult(
        round_year=round_config.year,
        applicant=person,
        starts_at=starts_at,
        ends_at=ends_at,
        working_days=round_config.publicity_working_days,
        objections_raised=len(during),
        resolutions=[o.resolution or "" for o in during],
        opinion=RECOMMENDATION_OPINION,
    )


def competent_unit_opinion(
    round_year: int, person: DocumentPerson, competent_unit: str, opinion: str
) -> CompetentUnitOpinion:
    """Attachment 4: the competent unit's recommendation (R14)."""
    return CompetentUnitOpinion(
        round_year=round_year, applicant=person, competent_unit=competent_unit, opinion=opinion
    )


def exemption(
    declaration: DeclarationInput, round_year: int, person: DocumentPerson
) -> ContinuingEducationExemption | None:
    """Attachment 5, for half a year or more stationed in a village this year (R4); None
    otherwise."""
    months = declaration.eligibility.village_stationed_months_this_year
    if months < MIN_VILLAGE_MONTHS_FOR_EXEMPTION:
        return None
    return ContinuingEducationExemption(
        round_year=round_year, applicant=person, village_stationed_months=months
    )


def approval_document(round_year: int, person: DocumentPerson) -> ApprovalDocument:
    """R21: one person here; the Round workflow batches a round's approvals into one."""
    return ApprovalDocument(round_year=round_year, approved=[person])


# --- the round's documents -------------------------------------------------------------------


def material_requirements(config: RoundConfig, scope: str, issued_at: datetime) -> PublishRequest:
    """Attachment 1 (R23): the online materials' requirements with the round's windows."""
    return publish_request(
        scope,
        issued_at,
        MaterialRequirements(
            round_year=config.year,
            submission_opens_at=config.submission_opens_at,
            submission_closes_at=config.submission_closes_at,
            review_opens_at=config.review_opens_at,
            review_closes_at=config.review_closes_at,
            publicity_working_days=config.publicity_working_days,
        ),
    )


def result_list_request(
    config: RoundConfig,
    batch: ResultBatch,
    workflow_ids: Sequence[str],
    issued_at: datetime,
) -> ResultListRequest | None:
    """R20: what publish_result_list gets for a committee batch; None when the batch has
    nothing to publicize (nobody passed, or no end of its publicity)."""
    if not batch.passed or batch.ends_at is None:
        return None
    return ResultListRequest(
        year=config.year,
        session_id=batch.session_id,
        operation_id=batch.operation_id,
        workflow_ids=list(workflow_ids),
        issued_at=issued_at,
        starts_at=batch.started_at,
        ends_at=batch.ends_at,
        working_days=config.publicity_working_days,
    )
