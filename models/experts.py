"""The expert pool's shapes (R27): what the supervisor gives for an expert (the command line,
the portal's form, a spreadsheet's row), what the pages show, and an expert's contact for the
committee session's notices.

A related person is given by ID-card number (`Relation`, input only): the store keeps only
its applicant key (rules.identity.applicant_key), so no page, export or log shows it back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import EmailStr, Field, StringConstraints, field_validator

from models.committee import ExpertCode
from models.common import Strict
from models.declaration import Employer, e164_mobile, valid_id_card

MAX_PAST_EMPLOYERS = 20
MAX_RELATIONS = 50
MAX_NOTE = 2000


# Text a person types: surrounding blanks dropped, not empty, bounded.
_Typed = StringConstraints(strip_whitespace=True, min_length=1)
Name = Annotated[str, _Typed, Field(max_length=100)]
OrganisationName = Annotated[str, _Typed, Field(max_length=200)]
Specialty = Annotated[str, _Typed, Field(max_length=100)]
TitleName = Annotated[str, _Typed, Field(max_length=100)]
RelationText = Annotated[str, _Typed, Field(max_length=50)]
# 18 characters once valid; the bound stops a long text before its check
Uscc = Annotated[str, Field(max_length=40)]


def _uscc(value: str) -> str:
    return Employer._valid_uscc(value.strip())


class PastEmployer(Strict):
    """An employer the expert left on `left_on`: a conflict with its staff for 3 years."""

    uscc: Uscc
    name: OrganisationName
    left_on: date

    _valid_uscc = field_validator("uscc")(_uscc)


class Relation(Strict):
    """A person the expert declares a relation to (配偶, 近亲属, 师生 …), by ID card."""

    id_card: str = Field(max_length=40, repr=False)  # never in a log line
    relation: RelationText

    @field_validator("id_card")
    @classmethod
    def _valid_id_card(cls, value: str) -> str:
        return valid_id_card(value.strip())


class _ExpertFields(Strict):
    name: Name
    employer_uscc: Uscc
    employer_name: OrganisationName
    specialty: Specialty
    title: TitleName
    mobile: str | None = Field(default=None, max_length=32)  # E.164 (models/accounts.py)
    email: EmailStr | None = Field(default=None, max_length=320)  # lower case
    active: bool = True
    past_employers: list[PastEmployer] = Field(default_factory=list, max_length=MAX_PAST_EMPLOYERS)

    _valid_uscc = field_validator("employer_uscc")(_uscc)

    @field_validator("mobile", mode="before")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        return e164_mobile(value) if value and value.strip() else None

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return value.strip().lower() if value and value.strip() else None


class ExpertProfile(_ExpertFields):
    """An expert as the supervisor gives it. `relations` None: keep those declared before (an
    update), none on an add; a list (empty too) replaces them as a whole."""

    relations: list[Relation] | None = Field(default=None, max_length=MAX_RELATIONS)


class ExpertView(_ExpertFields):
    """An expert as the pages show it: the related persons only as how many are declared."""

    code: ExpertCode
    relations: int = 0
    updated_at: datetime | None = None


class ExpertContact(Strict):
    """Where a drawn expert's notices go (the committee session's messages)."""

    name: str = Field(max_length=100)
    mobile: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=320)


class ExpertChangeView(Strict):
    """One audit row of the pool: who changed which fields (never their values)."""

    code: ExpertCode
    action: str = Field(max_length=32)
    fields: list[str] = Field(default_factory=list, max_length=50)
    actor_role: str = Field(max_length=32)
    actor_id: str = Field(max_length=128)
    note: str | None = Field(default=None, max_length=MAX_NOTE)
    changed_at: datetime
    details: dict[str, Any] | None = None


class ImportRow(Strict):
    """One row of an imported spreadsheet (documents/expert_sheets.py): its line in the
    file, the expert it updates (`code`) or None to add one, and the profile."""

    line: int = Field(ge=1)
    code: ExpertCode | None = None
    profile: ExpertProfile
