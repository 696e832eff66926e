"""Payload encryption: the AES-256-GCM payload codec of the project's one data converter
(client/connection.py `data_converter`), and of the codec server (codec_server.py) that lets
the Temporal Web UI and CLI show what it encrypted (docs/security.md, "Payload encryption").

Every payload a client or worker of the project writes to Temporal (workflow input and
results, activity arguments and results, update arguments and results, queries, memo,
summaries, failure messages and stack traces) becomes

    metadata: {"encoding": "binary/encrypted", "encryption-key-id": "<key id>"}
    data:     12-byte random nonce + AES-GCM(the serialized original Payload), the key id as
              associated data

under the first key of ZHICHENG_CODEC_KEYS. Decoding picks the key by the payload's id, so
any listed key decrypts (rotation: a new key goes first, old ones stay until no history needs
them). A payload without the `binary/encrypted` encoding (written before the codec) decodes
unchanged: the histories recorded before it still replay.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from settings import CODEC_KEY_BYTES, Settings

ENCODING_KEY = "encoding"
ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_KEY = "encryption-key-id"
NONCE_BYTES = 12


class CodecKeyError(ValueError):
    """A payload that cannot be decrypted: its key id is not configured, or it fails
    authentication (a wrong key under that id, or altered data). Never names key material."""


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads; `keys` newest first: [(key id, 32-byte key)]."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("an encryption codec needs at least one key")
        self._ciphers: dict[str, AESGCM] = {}
        for key_id, key in keys:
            if len(key) != CODEC_KEY_BYTES:
                raise ValueError(f"key {key_id!r} is {len(key)} bytes, not {CODEC_KEY_BYTES}")
            if key_id in self._ciphers:
                raise ValueError(f"key id {key_id!r} is listed twice")
            self._ciphers[key_id] = AESGCM(key)
        self.key_id = keys[0][0]
        self.key_ids = tuple(self._ciphers)

    @classmethod
    def from_settings(cls, settings: Settings) -> EncryptionCodec:
        return cls(settings.codec_key_ring)

    async def encode(self, payloads: Iterable[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Iterable[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.key_id.encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.key_id].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(
            metadata={ENCODING_KEY: ENCRYPTED_ENCODING, KEY_ID_KEY: key_id},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        """The original payload; one that is not encrypted, as it is."""
        if payload.metadata.get(ENCODING_KEY) != ENCRYPTED_ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_KEY, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecKeyError(
                f"payload encrypted under key id {key_id!r}, which ZHICHENG_CODEC_KEYS does "
                f"not list (it has {', '.join(self.key_ids)}): add that key back"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise CodecKeyError(
                f"payload under key id {key_id!r} fails authentication: another key under "
                "that id, or altered data"
            ) from None
        return Payload.FromString(plain)


# --- personal data at rest: the same keys, one derived key per purpose ----------------------

SEALED_PREFIX = "v1"
ID_CARD_PURPOSE = "id_card"  # accounts.id_card_sealed (store/accounts.py)


class FieldCipher:
    """AES-256-GCM for a value kept in the record database (an account's ID-card number,
    docs/security.md "Personal data at rest"), under keys derived from ZHICHENG_CODEC_KEYS:
    HKDF-SHA256 of each listed key with `purpose` as its info, so a record key is never a
    payload key and one purpose's ciphertext never opens as another's. Rotation is the
    payload keys' (the newest seals, every listed key opens what names its id).

    A sealed value is `v1:<key id>:<base64url of nonce + ciphertext>`; `bound_to` (e.g. the
    account's applicant key) is its associated data, so a value copied to another row does
    not open there."""

    def __init__(self, keys: Sequence[tuple[str, bytes]], purpose: str) -> None:
        if not keys:
            raise ValueError("a field cipher needs at least one key")
        self.purpose = purpose
        self._ciphers = {key_id: AESGCM(self._derived(key, purpose)) for key_id, key in keys}
        self.key_id = keys[0][0]

    @staticmethod
    def _derived(key: bytes, purpose: str) -> bytes:
        info = f"zhicheng-record:{purpose}".encode()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)

    @classmethod
    def from_settings(cls, settings: Settings, purpose: str) -> FieldCipher:
        return cls(settings.codec_key_ring, purpose)

    def seal(self, value: str, bound_to: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.key_id].encrypt(nonce, value.encode(), bound_to.encode())
        data = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{SEALED_PREFIX}:{self.key_id}:{data}"

    def open(self, sealed: str, bound_to: str) -> str:
        """The value; CodecKeyError when its key is not listed or it does not authenticate
        (another row's, altered). Never names the value."""
        version, key_id, data = [*sealed.split(":", 2), "", ""][:3]
        cipher = self._ciphers.get(key_id)
        if version != SEALED_PREFIX or cipher is None:
            raise CodecKeyError(
                f"a sealed {self.purpose} under key id {key_id!r}, which ZHICHENG_CODEC_KEYS "
                f"does not list (it has {', '.join(self._ciphers)})"
            )
        try:
            raw = base64.urlsafe_b64decode(data.encode())
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound_to.encode())
        except (InvalidTag, ValueError):
            raise CodecKeyError(
                f"a sealed {self.purpose} under key id {key_id!r} fails authentication: "
                "another key under that id, another row's value, or altered data"
            ) from None
        return plain.decode()
