"""Zoom webhook signatures: pure functions, the clock passed in (Slack Bolt style).

Zoom signs ``v0:{x-zm-request-timestamp}:{raw body}`` with HMAC-SHA256 keyed by the app's
Secret Token and sends ``x-zm-signature: v0=<hex>``. The raw bytes are signed, never a
re-serialisation of the parsed JSON (Zoom's own samples get that wrong), and the comparison is
constant-time. The timestamp is bound into the signature, so checking it against a window makes a
captured request useless once the window has passed.
"""

from __future__ import annotations

import enum
import hmac
import re

SIGNATURE_VERSION = "v0"
SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"

# Unix seconds; bounded so a hostile header cannot make int() work hard.
_TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,15}")


class Rejection(enum.Enum):
    """Why a request's signature was not accepted (for logs; every one answers 401)."""

    MISSING_HEADERS = "missing signature headers"
    MALFORMED_TIMESTAMP = "malformed timestamp"
    STALE_TIMESTAMP = "timestamp outside the allowed window"
    BAD_SIGNATURE = "signature mismatch"


def _hmac_hex(secret: str, message: bytes) -> str:
    # hmac.digest is OpenSSL's one-shot HMAC: the same bytes as hmac.new(...).hexdigest()
    # without building an HMAC object (two hash objects, padded keys) in Python per request.
    return hmac.digest(secret.encode("utf-8"), message, "sha256").hex()


def sign(body: bytes, *, secret: str, timestamp: str) -> str:
    """The ``x-zm-signature`` value Zoom sends for ``body`` at ``timestamp`` (unix seconds)."""
    message = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + body
    return f"{SIGNATURE_VERSION}={_hmac_hex(secret, message)}"


def verify(
    body: bytes,
    *,
    secret: str,
    timestamp: str | None,
    signature: str | None,
    now: float,
    window_seconds: int,
) -> Rejection | None:
    """Check one request; ``None`` means it is genuine and fresh.

    ``now`` is unix seconds from the caller's clock. A timestamp more than ``window_seconds``
    away from it, in the past or in the future, is rejected.
    """
    if not timestamp or not signature:
        return Rejection.MISSING_HEADERS
    if not _TIMESTAMP_PATTERN.fullmatch(timestamp):
        return Rejection.MALFORMED_TIMESTAMP
    if abs(now - int(timestamp)) > window_seconds:
        return Rejection.STALE_TIMESTAMP
    expected = sign(body, secret=secret, timestamp=timestamp).encode("ascii")
    # Bytes on both sides: compare_digest refuses non-ASCII str, and a header is attacker input.
    presented = signature.encode("utf-8", errors="replace")
    if not hmac.compare_digest(expected, presented):
        return Rejection.BAD_SIGNATURE
    return None


def url_validation_token(plain_token: str, *, secret: str) -> str:
    """``encryptedToken`` for Zoom's endpoint.url_validation challenge: hex HMAC-SHA256."""
    return _hmac_hex(secret, plain_token.encode("utf-8"))
