"""Every way zoomguard hides a secret, in one place: passcodes, tokens, client secrets.

Each output keeps the mask its readers already know, so the same secret reads differently by
where it shows up; the vocabulary of what counts as a secret is shared:

- ``masked_patch``: the PATCH body zoomguard sends, passcode as ``********`` (``policy.MASK``),
  for logs, the audit log and emails;
- ``masked_value`` / ``masked_tree``: account settings, a passcode as ``(set)`` or its
  emptiness (the baseline's audit values);
- ``passcode_state``: a meeting field as ``(set)`` or ``(none)`` (alert details);
- ``scrub`` / ``scrub_details``: anything on its way into the outbox, ``(hidden)``;
- ``scrub_log_text``: a log line, ``[redacted]``.

Only the standard library: the pure rules import this module too. (Redacting identifying
information from topics, SIN and birth dates, is a rule, not a secret: see zoomguard.rules.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

# --- passcodes in meeting and settings documents ---------------------------------------------

PATCH_MASK: Final = "********"
PASSCODE_SET: Final = "(set)"
PASSCODE_NONE: Final = "(none)"

# Meeting fields that hold a passcode (what a PATCH or a re-read may carry).
MEETING_PASSCODE_FIELDS: Final[frozenset[str]] = frozenset(
    {"password", "pstn_password", "h323_password", "encrypted_password"}
)
# Account, group and user settings that hold a passcode.
SETTINGS_PASSCODE_FIELDS: Final[frozenset[str]] = frozenset({"pmi_password", "password"})


def _leaf(path: str) -> str:
    return path.split(".")[-1]


def _mask_leaves(
    document: Mapping[str, Any], mask: Callable[[str, Any], Any], prefix: str = ""
) -> dict[str, Any]:
    """A copy of ``document`` with ``mask(path, value)`` applied to every non-mapping value."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out[key] = _mask_leaves(value, mask, path + ".")
        else:
            out[key] = mask(path, value)
    return out


def _patch_leaf(path: str, value: Any) -> Any:
    return PATCH_MASK if _leaf(path) == "password" else value


def masked_patch(patch: Mapping[str, Any]) -> dict[str, Any]:
    """A meeting PATCH body with its passcode (``password``, at any depth) as ``********``."""
    return _mask_leaves(patch, _patch_leaf)


def masked_value(path: str, value: Any) -> Any:
    """A settings passcode as "(set)" or its emptiness; every other value as it is."""
    if _leaf(path) in SETTINGS_PASSCODE_FIELDS:
        if value is None or value == "":
            return value
        return PASSCODE_SET
    return value


def masked_tree(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A settings document with ``masked_value`` applied to every leaf."""
    return _mask_leaves(document, masked_value, prefix)


def passcode_state(path: str, value: Any) -> Any:
    """A meeting passcode field as "(set)" or "(none)"; every other value as it is."""
    # The passcode itself must never reach the audit log, a report or an email.
    if _leaf(path) in MEETING_PASSCODE_FIELDS:
        return PASSCODE_SET if value else PASSCODE_NONE
    return value


# --- anything on its way into the outbox ------------------------------------------------------

SECRET_MASK = "(hidden)"  # noqa: S105 - the mask, not a password

# Any key that names a password, passcode, token or secret (h323_password, access_token, ...).
_SENSITIVE_NAME = re.compile(r"pass(word|code)|pwd|token|secret", re.IGNORECASE)
# A passcode in a join link (.../j/123?pwd=abc) or a token in any URL's query string.
_SECRET_IN_URL = re.compile(
    r"([?&](?:pwd|password|passcode|token|access_token|secret)=)[^&#\s\"'<>]+", re.IGNORECASE
)


def is_sensitive_name(name: str) -> bool:
    return bool(_SENSITIVE_NAME.search(name))


# What callers already put in place of a secret (the service's masks, policy.MASK): kept, since
# "(none) → (set)" tells the officer more than "(hidden) → (hidden)".
_MASKS = frozenset({SECRET_MASK, PASSCODE_SET, PASSCODE_NONE, "(not set)", PATCH_MASK})


def _mask_value(value: Any) -> Any:
    # true/false and "nothing" cannot carry a secret and say something useful
    # (embed_password_in_join_link: true → false; no passcode → a passcode).
    if value is None or isinstance(value, bool) or value == "" or value in _MASKS:
        return value
    return SECRET_MASK


def scrub_text(text: str) -> str:
    return _SECRET_IN_URL.sub(lambda m: m.group(1) + SECRET_MASK, text)


def scrub(value: Any) -> Any:
    """A deep copy of ``value`` with every secret masked.

    Masked: the value of any key naming a password, passcode, token or secret; the ``before`` and
    ``after`` of a change whose ``field`` names one (``{"field": "password", ...}``); and a
    ``pwd=``/``token=`` parameter inside any URL in a string.
    """
    if isinstance(value, Mapping):
        field_name = value.get("field")
        secret_field = isinstance(field_name, str) and is_sensitive_name(field_name)
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if is_sensitive_name(name) or (secret_field and name in ("before", "after")):
                out[name] = _mask_value(item)
            else:
                out[name] = scrub(item)
        return out
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def scrub_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Scrubbed and made JSON-safe (dates and other objects become strings)."""
    plain = json.loads(json.dumps(dict(details), default=str))
    scrubbed = scrub(plain)
    assert isinstance(scrubbed, dict)
    return scrubbed


# --- log lines --------------------------------------------------------------------------------

LOG_MASK = "[redacted]"

# Words that name a secret (a regex of words, not itself a secret).
SECRET_WORD = r"(?:token|secret|password|passwd|passcode|pwd|api_?key|credential|signature)"  # noqa: S105


def _quoted_log_mask(match: re.Match[str]) -> str:
    # Keeps the value's own quotes, so masked JSON stays JSON and a repr stays a repr.
    value = match.group(2)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group(1)}{quote}{LOG_MASK}{quote}"


_LOG_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # Authorization headers: "Authorization: Bearer eyJ...", {'authorization': 'Basic dXNl...'}.
    (
        re.compile(r"""(?i)(authorization["']?\s*[:=]\s*["']?)((?:bearer|basic)\s+)?[^\s"',;}]+"""),
        rf"\1\2{LOG_MASK}",
    ),
    # Credentials outside a header: "Bearer eyJ...", "Basic dXNlcjpwYXNz".
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]{8,}=*"), rf"\1\2{LOG_MASK}"),
    # JSON or Python-repr keys naming a secret: "access_token": "abc", 'client_secret': 'x'.
    (
        re.compile(
            rf"""(?i)(["'][\w.-]*{SECRET_WORD}[\w.-]*["']\s*:\s*)"""
            r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,}\]]+)"""
        ),
        _quoted_log_mask,
    ),
    # key=value in query strings, form bodies and key=value logs: pwd=abc, client_secret=x.
    (
        re.compile(
            rf"""(?i)\b([\w.-]*{SECRET_WORD}[\w.-]*=)(?!{re.escape(LOG_MASK)})[^\s&"',;]+"""
        ),
        rf"\1{LOG_MASK}",
    ),
    # A password inside a URL: scheme://user:password@host
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/\s@]+:)[^@\s/]+@"), rf"\1{LOG_MASK}@"),
    # JSON Web Tokens (Zoom's access tokens are JWTs).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), LOG_MASK),
    # Fernet ciphertext (what zoomguard stores in the *_enc columns).
    (re.compile(r"\bgAAAAA[A-Za-z0-9_-]{20,}={0,2}"), LOG_MASK),
)


def scrub_log_text(text: str, literals: Iterable[str] = ()) -> str:
    """``text`` with secrets masked: the known ``literals`` first, then the patterns."""
    for secret in literals:
        if secret and secret in text:
            text = text.replace(secret, LOG_MASK)
    for pattern, replacement in _LOG_PATTERNS:
        text = pattern.sub(replacement, text)
    return text
