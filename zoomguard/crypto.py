"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) from the cryptography package.

ZOOMGUARD_SECRET_KEY is either a Fernet key (``Fernet.generate_key()``) or a passphrase of at
least 16 characters, from which a key is derived with HKDF-SHA256. Several keys may be given,
comma-separated: the first encrypts, all decrypt, so a key can be rotated without downtime.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from zoomguard.errors import SecretKeyError

_HKDF_INFO = b"zoomguard secrets at rest v1"
GENERATE_KEY_HINT = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)
MIN_PASSPHRASE_LENGTH = 16


def _fernet_for(key_text: str) -> Fernet:
    raw = key_text.strip().encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return Fernet(raw)
    except (binascii.Error, ValueError):
        pass
    if len(key_text) < MIN_PASSPHRASE_LENGTH:
        raise SecretKeyError(
            f"ZOOMGUARD_SECRET_KEY is too short: use a Fernet key ({GENERATE_KEY_HINT}) "
            f"or a passphrase of at least {MIN_PASSPHRASE_LENGTH} characters"
        )
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(raw)
    return Fernet(base64.urlsafe_b64encode(derived))


class Vault:
    """Encrypts and decrypts short secrets (client secrets, tokens) for the database."""

    def __init__(self, secret_key: str | None) -> None:
        if not secret_key or not secret_key.strip():
            raise SecretKeyError(
                "ZOOMGUARD_SECRET_KEY is not set: zoomguard will not store Zoom credentials "
                f"unencrypted. Generate one with: {GENERATE_KEY_HINT}"
            )
        keys = [part for part in secret_key.split(",") if part.strip()]
        self._fernet = MultiFernet([_fernet_for(k) for k in keys])

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
