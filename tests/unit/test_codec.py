"""client/codec.py and the data converter: AES-256-GCM payloads with key ids, rotation, the
payloads written before the codec, failures encoded too; the codec keys' settings."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from client.codec import (
    ENCRYPTED_ENCODING,
    KEY_ID_KEY,
    CodecKeyError,
    EncryptionCodec,
    FieldCipher,
)
from client.connection import data_converter
from models.declaration import DeclarationInput
from settings import (
    DEVELOPMENT_CODEC_KEY,
    ROOT,
    Settings,
    SettingsError,
    environment_names,
    load_settings,
    parse_codec_keys,
)
from tests.helpers.samples import OTHER_PRODUCTION_SECRETS, sample_declaration_input

K1, K2 = os.urandom(32), os.urandom(32)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def json_payload(value: object) -> Payload:
    return Payload(
        metadata={"encoding": b"json/plain"},
        data=json.dumps(value, ensure_ascii=False).encode(),
    )


async def test_round_trip_hides_the_data_and_names_the_key() -> None:
    codec = EncryptionCodec([("k1", K1)])
    original = json_payload({"name": "张三", "id_card": "11010519491231002X"})
    [encrypted] = await codec.encode([original])
    assert encrypted.metadata["encoding"] == ENCRYPTED_ENCODING
    assert encrypted.metadata[KEY_ID_KEY] == b"k1"
    assert "张三".encode() not in encrypted.data
    assert b"11010519491231002X" not in encrypted.data
    [again] = await codec.encode([original])
    assert again.data != encrypted.data  # a fresh nonce each time
    assert await codec.decode([encrypted, again]) == [original, original]


async def test_rotation_old_payloads_decode_after_a_new_key_is_added() -> None:
    [old] = await EncryptionCodec([("k1", K1)]).encode([json_payload("张三")])
    rotated = EncryptionCodec([("k2", K2), ("k1", K1)])  # the new key first
    assert rotated.key_id == "k2"
    assert await rotated.decode([old]) == [json_payload("张三")]
    [new] = await rotated.encode([json_payload("李四")])
    assert new.metadata[KEY_ID_KEY] == b"k2"
    assert await rotated.decode([new]) == [json_payload("李四")]


async def test_an_unknown_key_id_is_a_clear_error() -> None:
    [new] = await EncryptionCodec([("k2", K2)]).encode([json_payload("张三")])
    with pytest.raises(CodecKeyError) as info:
        await EncryptionCodec([("k1", K1)]).decode([new])
    message = str(info.value)
    assert "'k2'" in message and "ZHICHENG_CODEC_KEYS" in message and "k1" in message
    assert b64(K1) not in message and b64(K2) not in message


async def test_a_wrong_key_or_altered_data_fails_authentication() -> None:
    [sealed] = await EncryptionCodec([("k1", K1)]).encode([json_payload("张三")])
    with pytest.raises(CodecKeyError, match="fails authentication"):
        await EncryptionCodec([("k1", K2)]).decode([sealed])
    altered = Payload()
    altered.CopyFrom(sealed)
    altered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(CodecKeyError, match="fails authentication"):
        await EncryptionCodec([("k1", K1)]).decode([altered])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID_KEY] = b"k2"  # the key id is authenticated too
    with pytest.raises(CodecKeyError):
        await EncryptionCodec([("k2", K1)]).decode([relabelled])


async def test_payloads_written_before_the_codec_pass_through() -> None:
    plain = json_payload({"name": "张三"})
    null = Payload(metadata={"encoding": b"binary/null"})
    assert await EncryptionCodec([("k1", K1)]).decode([plain, null]) == [plain, null]


def test_the_codec_refuses_bad_keys() -> None:
    with pytest.raises(ValueError):
        EncryptionCodec([])
    with pytest.raises(ValueError, match="16 bytes"):
        EncryptionCodec([("k1", K1[:16])])
    with pytest.raises(ValueError, match="twice"):
        EncryptionCodec([("k1", K1), ("k1", K2)])


async def test_the_data_converter_encrypts_models_and_failures() -> None:
    settings = Settings(ZHICHENG_CODEC_KEYS=f"t1:{b64(K1)}")
    converter = data_converter(settings)
    declaration = sample_declaration_input()
    [payload] = await converter.encode([declaration])
    assert payload.metadata["encoding"] == ENCRYPTED_ENCODING
    assert declaration.applicant.name.encode() not in payload.data
    assert await converter.decode([payload], [DeclarationInput]) == [declaration]
    # What a pydantic converter without the codec wrote (a history from before) still decodes.
    [before] = await pydantic_data_converter.encode([declaration])
    assert await converter.decode([before], [DeclarationInput]) == [declaration]

    failure = Failure()
    await converter.encode_failure(ApplicationError("张三的材料：11010519491231002X"), failure)
    assert "张三" not in failure.message and "张三" not in failure.stack_trace
    assert failure.encoded_attributes.metadata["encoding"] == ENCRYPTED_ENCODING
    assert "张三".encode() not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert str(decoded) == "张三的材料：11010519491231002X"


async def test_failures_written_before_the_codec_decode() -> None:
    failure = Failure()
    await pydantic_data_converter.encode_failure(ApplicationError("plain message"), failure)
    decoded = await data_converter(Settings()).decode_failure(failure)
    assert str(decoded) == "plain message"


# --- the settings -------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in environment_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZHICHENG_ENV_FILE", str(tmp_path / ".env"))
    return monkeypatch


def test_keys_in_order_the_first_encrypts(env: pytest.MonkeyPatch) -> None:
    for name, value in OTHER_PRODUCTION_SECRETS.items():
        env.setenv(name, value)
    env.setenv("ZHICHENG_CODEC_KEYS", f" k2:{b64(K2)} , k1:{b64(K1)} ")
    settings = load_settings()
    assert settings.codec_key_ring == [("k2", K2), ("k1", K1)]
    assert b64(K1) not in repr(settings)
    assert EncryptionCodec.from_settings(settings).key_id == "k2"


def test_development_has_a_development_key(env: pytest.MonkeyPatch) -> None:
    env.setenv("ZHICHENG_ENV", "development")
    assert load_settings().codec_key_ring == [("dev", DEVELOPMENT_CODEC_KEY)]
    env.setenv("ZHICHENG_CODEC_KEYS", f"k1:{b64(K1)}")  # given keys win in development too
    assert load_settings().codec_key_ring == [("k1", K1)]


def test_outside_development_the_keys_are_required(env: pytest.MonkeyPatch) -> None:
    for name, value in OTHER_PRODUCTION_SECRETS.items():
        env.setenv(name, value)
    for environment in (None, "production"):
        if environment:
            env.setenv("ZHICHENG_ENV", environment)
        with pytest.raises(SettingsError) as info:
            load_settings()
        [line] = info.value.lines
        assert line.startswith("ZHICHENG_CODEC_KEYS: not set"), line


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("k1", "entry 1 is not id:base64-key"),
        (f"k1:{b64(K1)},k2", "entry 2 is not id:base64-key"),
        (f"k1:{b64(K1[:16])}", "key 'k1' is 16 bytes; AES-256 needs 32"),
        (f"k1:{b64(K1 + b'x')}", "key 'k1' is 33 bytes"),
        ("k1:not base64!", "key 'k1' is not base64"),
        (f"k 1:{b64(K1)}", "entry 1: the key id must be"),
        (f"k1:{b64(K1)},k1:{b64(K2)}", "key id 'k1' is listed twice"),
    ],
)
def test_bad_keys_are_refused_in_one_line_without_the_key(
    env: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    env.setenv("ZHICHENG_ENV", "development")  # a bad key is refused in development too
    env.setenv("ZHICHENG_CODEC_KEYS", value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    [line] = info.value.lines
    assert line.startswith(f"ZHICHENG_CODEC_KEYS: {problem}"), line
    assert b64(K1) not in line and b64(K1[:16]) not in line


def test_parse_codec_keys() -> None:
    assert parse_codec_keys(f"a.b_c-1:{b64(K1)}") == [("a.b_c-1", K1)]


def test_the_worker_refuses_to_start_without_keys_outside_development(tmp_path: Path) -> None:
    environ = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ZHICHENG_ENV_FILE": str(tmp_path / ".env"),
        "ZHICHENG_ENV": "production",
        **OTHER_PRODUCTION_SECRETS,
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "worker.py")],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("invalid setting: ZHICHENG_CODEC_KEYS: not set"), line


# --- personal data at rest (FieldCipher: an account's ID-card number) -------------------------

ID_CARD, KEY_A, KEY_B = "11010519491231002X", "0123456789abcdef", "fedcba9876543210"


def test_a_sealed_field_opens_only_for_its_row_and_purpose() -> None:
    cipher = FieldCipher([("k1", K1)], "id_card")
    sealed = cipher.seal(ID_CARD, bound_to=KEY_A)
    assert sealed.startswith("v1:k1:") and ID_CARD not in sealed
    assert cipher.seal(ID_CARD, bound_to=KEY_A) != sealed  # a fresh nonce each time
    assert cipher.open(sealed, KEY_A) == ID_CARD
    with pytest.raises(CodecKeyError, match="fails authentication") as raised:
        cipher.open(sealed, KEY_B)  # copied to another account's row
    assert ID_CARD not in str(raised.value)
    with pytest.raises(CodecKeyError, match="fails authentication"):
        FieldCipher([("k1", K1)], "other_purpose").open(sealed, KEY_A)
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(CodecKeyError):
        cipher.open(tampered, KEY_A)
    with pytest.raises(CodecKeyError):
        cipher.open("v1:k1:not base64!", KEY_A)


def test_a_sealed_field_follows_the_payload_key_rotation() -> None:
    old = FieldCipher([("k1", K1)], "id_card").seal(ID_CARD, bound_to=KEY_A)
    rotated = FieldCipher([("k2", K2), ("k1", K1)], "id_card")
    assert rotated.open(old, KEY_A) == ID_CARD  # an old key listed still opens it
    assert rotated.seal(ID_CARD, bound_to=KEY_A).startswith("v1:k2:")  # the newest seals
    with pytest.raises(CodecKeyError, match=r"'k1'.*does not list"):
        FieldCipher([("k2", K2)], "id_card").open(old, KEY_A)
    # the record key is derived, never the payload key itself
    raw = base64.urlsafe_b64decode(old.split(":", 2)[2])
    with pytest.raises(InvalidTag):
        AESGCM(K1).decrypt(raw[:12], raw[12:], KEY_A.encode())
