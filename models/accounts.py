"""What a person gives to make an applicant account themselves (/register) or to reset its
password (/password/reset): checked as the declaration checks the same fields
(models/declaration.py), so an account's name, ID card and addresses would pass there too."""

from __future__ import annotations

from enum import StrEnum

from pydantic import EmailStr, Field, TypeAdapter, ValidationError, field_validator

from models.common import Strict
from models.declaration import e164_mobile, valid_id_card

_EMAIL = TypeAdapter(EmailStr)


class AddressKind(StrEnum):
    """Where a verification code goes: the mobile (through the platform's WeChat official
    account bound to it, R16) or the e-mail address."""

    mobile = "mobile"
    email = "email"


def normalized_address(text: str) -> tuple[AddressKind, str]:
    """(kind, address) of a mobile or e-mail address as a person types it: the mobile in
    E.164 (+8613800138000), the e-mail lower-cased; ValueError when it is neither."""
    text = text.strip()
    if "@" in text:
        try:
            return AddressKind.email, _EMAIL.validate_python(text).lower()
        except ValidationError:
            raise ValueError("not a valid e-mail address") from None
    return AddressKind.mobile, e164_mobile(text)


def address_username(kind: AddressKind, address: str) -> str:
    """The username of an account registered with this address: the 11-digit mobile as
    people type it (+86 left off), or the e-mail address (normalized_address's forms)."""
    if kind is AddressKind.mobile and address.startswith("+86"):
        return address[3:]
    return address


class Registration(Strict):
    """The registration form: at least one address; `send_to` names the one the code goes to
    (and that becomes the username)."""

    name: str = Field(min_length=1, max_length=100)
    id_card: str
    mobile: str | None = None
    email: EmailStr | None = None
    send_to: AddressKind

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the name is empty")
        return value

    @field_validator("id_card")
    @classmethod
    def _id_card(cls, value: str) -> str:
        return valid_id_card(value)

    @field_validator("mobile")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        return e164_mobile(value) if value else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return value.lower() if value else None

    @property
    def address(self) -> str | None:
        """The address the code goes to (None: the form named one it does not have)."""
        return self.mobile if self.send_to is AddressKind.mobile else self.email
