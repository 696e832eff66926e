"""What a person types to register or reset a password (models/accounts.py), and how the
portal shows an address or an ID card it must not show whole (portal/verification.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.accounts import AddressKind, Registration, address_username, normalized_address
from portal.routers.auth import login_name
from portal.verification import masked_address, masked_id_card
from tests.helpers.samples import SAMPLE_ID_CARD


@pytest.mark.parametrize(
    ("typed", "kind", "address", "username"),
    [
        ("13800138000", AddressKind.mobile, "+8613800138000", "13800138000"),
        ("+86 138-0013-8000", AddressKind.mobile, "+8613800138000", "13800138000"),
        (
            " ZhangSan@Example.COM ",
            AddressKind.email,
            "zhangsan@example.com",
            "zhangsan@example.com",
        ),
    ],
)
def test_an_address_as_typed(typed: str, kind: AddressKind, address: str, username: str) -> None:
    assert normalized_address(typed) == (kind, address)
    assert address_username(kind, address) == username
    assert login_name(typed) == username


@pytest.mark.parametrize("typed", ["", "1380013800", "zhangsan@", "@example.com", "demo-user"])
def test_what_is_no_address(typed: str) -> None:
    with pytest.raises(ValueError):
        normalized_address(typed)
    assert login_name(typed) == typed  # a staff username is looked up as it is


def test_a_registration_is_checked_like_a_declaration() -> None:
    registration = Registration(
        name=" 张三 ",
        id_card=SAMPLE_ID_CARD.lower(),
        mobile="138 0013 8000",
        email="ZS@example.com",
        send_to=AddressKind.email,
    )
    assert registration.name == "张三" and registration.id_card == SAMPLE_ID_CARD
    assert registration.mobile == "+8613800138000" and registration.email == "zs@example.com"
    assert registration.address == "zs@example.com"
    assert Registration(name="张三", id_card=SAMPLE_ID_CARD, send_to="mobile").address is None
    wrong_digit = SAMPLE_ID_CARD[:-1] + "1"
    with pytest.raises(ValidationError, match="id_card"):
        Registration(name="张三", id_card=wrong_digit, email="zs@example.com", send_to="email")
    with pytest.raises(ValidationError, match="name"):
        Registration(name="  ", id_card=SAMPLE_ID_CARD, email="zs@example.com", send_to="email")


def test_masked_for_the_page() -> None:
    assert masked_address(AddressKind.mobile, "+8613800138000") == "138****8000"
    assert masked_address("email", "zhangsan@example.com") == "z***@example.com"
    assert masked_id_card(SAMPLE_ID_CARD) == "1101**********002X"
