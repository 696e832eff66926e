"""Where the organisations' notifications go (R16): the recipients file.

A person's addresses travel with their declaration (the applicant's mobile and e-mail); an
organisation's do not. Portal accounts hold no address either (store/accounts.py: a role, a
username, an employer's USCC), and a workflow must not carry addresses that change while it
runs. So the operator keeps one JSON file (`ZHICHENG_RECIPIENTS`, default
config/recipients.json; examples/recipients.json), read when a message is put in the outbox
(delivery/recipients.py): the employer by its unified social credit code, the competent unit
by its name as the declarations spell it (`Employer.competent_unit`), the evaluation body and
the supervisor once each. An organisation missing from it gets its messages recorded with
no address (`skipped`, as before).
"""

from __future__ import annotations

from pydantic import EmailStr, Field, field_validator

from models.common import Role, Strict
from models.declaration import e164_mobile


class OrganisationAddress(Strict):
    """One organisation's addresses: e-mail, and a mobile bound to the official account."""

    name: str | None = Field(default=None, max_length=200)  # the To: name, if not the message's
    email: EmailStr | None = None
    mobile: str | None = None
    # The evaluation body only: take the daily digest instead of a message per declaration
    # (models.records.DIGESTED_EVENTS are then recorded without an address).
    digest: bool = False

    @field_validator("mobile")
    @classmethod
    def _valid_mobile(cls, value: str | None) -> str | None:
        return None if value is None else e164_mobile(value)


class RecipientDirectory(Strict):
    """The recipients file. Keys starting with "_" are comments (dropped before checking)."""

    evaluation_body: OrganisationAddress | None = None  # 评审机构
    supervisor: OrganisationAddress | None = None  # 人力资源服务中心（监管）
    committee: OrganisationAddress | None = None  # 评审委员会（秘书）
    employers: dict[str, OrganisationAddress] = Field(default_factory=dict)  # USCC ->
    competent_units: dict[str, OrganisationAddress] = Field(default_factory=dict)  # name ->

    def address_of(self, role: Role, organisation: str | None) -> OrganisationAddress | None:
        """The organisation's entry: by `organisation` (the employer's USCC, the competent
        unit's name) for the roles that have many, else the role's one entry."""
        if role is Role.employer:
            return self.employers.get(organisation or "")
        if role is Role.competent_unit:  # by name, surrounding blanks ignored (as the portal)
            wanted = (organisation or "").strip()
            return next((a for n, a in self.competent_units.items() if n.strip() == wanted), None)
        if role is Role.evaluation_body:
            return self.evaluation_body
        if role is Role.supervisor:
            return self.supervisor
        if role is Role.committee:
            return self.committee
        return None  # the applicant's addresses are on the declaration
