"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) and AES-256-GCM, from the cryptography
package.

ZOOMGUARD_SECRET_KEY is one or more Fernet keys (``Fernet.generate_key()``), comma-separated: the
first encrypts, all decrypt, so a key can be rotated without downtime. A passphrase is refused
as the encrypting key: it could be guessed offline (from a database copy or a signed cookie) at
the speed of one HKDF per guess. A passphrase used before this rule is still accepted *after*
the first key, to decrypt what it encrypted (rotation); ``zoomguard secrets rotate`` re-encrypts
the stored secrets under the first key, after which the passphrase can be dropped.

Two kinds of ciphertext come out of one key:

- ``encrypt``/``decrypt``: Fernet tokens, for short secrets (client secrets, tokens).
- ``seal``/``unseal``: AES-256-GCM with a key derived by HKDF, for bulk data on a hot path (the
  stored webhook bodies): about a tenth of Fernet's cost per call.

And one key that is not for encryption: ``signing_key``, HKDF of the first key with an info
string of its own, which signs the dashboard's session cookies.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from zoomguard.errors import SecretKeyError

_LEGACY_PASSPHRASE_INFO = b"zoomguard secrets at rest v1"
_SEAL_INFO = b"zoomguard sealed bulk data v1"
_SIGNING_INFO = b"zoomguard dashboard session signing v1"
SEALED_PREFIX = "g1."
_NONCE_BYTES = 12
GENERATE_KEY_HINT = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)
MIN_PASSPHRASE_LENGTH = 16


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


def _fernet_key_bytes(key_text: str) -> bytes | None:
    """The 32 bytes of a Fernet key, or None when ``key_text`` is not one."""
    try:
        raw = base64.urlsafe_b64decode(key_text.encode())
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


@dataclass(frozen=True)
class _Key:
    fernet: Fernet
    sealer: AESGCM
    material: bytes  # the 32 bytes the other keys are derived from


def _key_for(key_text: str, *, encrypting: bool) -> _Key:
    material = _fernet_key_bytes(key_text)
    if material is None:
        if encrypting:
            raise SecretKeyError(
                "ZOOMGUARD_SECRET_KEY must start with a Fernet key, not a passphrase (a "
                f"passphrase can be guessed offline). Generate one with: {GENERATE_KEY_HINT} . "
                "To keep reading what an old passphrase encrypted, put it after the new key, "
                "comma-separated, and run `zoomguard secrets rotate`"
            )
        if len(key_text) < MIN_PASSPHRASE_LENGTH:
            raise SecretKeyError(
                "ZOOMGUARD_SECRET_KEY has a key that is neither a Fernet key "
                f"({GENERATE_KEY_HINT}) nor an old passphrase of at least "
                f"{MIN_PASSPHRASE_LENGTH} characters"
            )
        # The derivation zoomguard used for passphrases before: kept to decrypt only.
        material = _hkdf(key_text.encode(), _LEGACY_PASSPHRASE_INFO)
    fernet = Fernet(base64.urlsafe_b64encode(material))
    return _Key(fernet=fernet, sealer=AESGCM(_hkdf(material, _SEAL_INFO)), material=material)


class Vault:
    """Encrypts and decrypts secrets and bulk data for the database."""

    def __init__(self, secret_key: str | None) -> None:
        if not secret_key or not secret_key.strip():
            raise SecretKeyError(
                "ZOOMGUARD_SECRET_KEY is not set: zoomguard will not store Zoom credentials "
                f"unencrypted. Generate one with: {GENERATE_KEY_HINT}"
            )
        texts = [part.strip() for part in secret_key.split(",") if part.strip()]
        self._keys = [_key_for(text, encrypting=index == 0) for index, text in enumerate(texts)]
        self._fernet = MultiFernet([key.fernet for key in self._keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken:
            raise SecretKeyError(
                "stored credentials cannot be decrypted with ZOOMGUARD_SECRET_KEY "
                "(was the key changed? add the old key after the new one, comma-separated)"
            ) from None

    def reencrypt(self, token: str) -> str:
        """``token`` encrypted under the first key (it may have been made with any of them)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretKeyError(
                "a stored secret cannot be decrypted with any key of ZOOMGUARD_SECRET_KEY"
            ) from None

    def seal(self, data: bytes) -> str:
        """AES-256-GCM under the first key: ``g1.`` + base64url(nonce + ciphertext + tag)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[0].sealer.encrypt(nonce, data, None)
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def unseal(self, text: str) -> bytes:
        if not text.startswith(SEALED_PREFIX):
            raise SecretKeyError("not sealed data")
        try:
            raw = base64.urlsafe_b64decode(text[len(SEALED_PREFIX) :].encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise SecretKeyError("sealed data is damaged") from None
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        for key in self._keys:
            try:
                return key.sealer.decrypt(nonce, sealed, None)
            except InvalidTag:
                continue
        raise SecretKeyError(
            "sealed data cannot be opened with ZOOMGUARD_SECRET_KEY (was the key changed? add "
            "the old key after the new one, comma-separated)"
        )

    def signing_key(self) -> bytes:
        """The dashboard's cookie-signing key: derived from the first key, never used to encrypt.

        The first key is a random Fernet key, so a signed cookie gives nothing to guess at."""
        return _hkdf(self._keys[0].material, _SIGNING_INFO)
