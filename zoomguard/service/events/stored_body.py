"""What the inbox keeps of a webhook body: what a handler needs, and nothing that could hurt.

At receipt the receiver ``minimise``s the parsed body: passcodes (``password``,
``pstn_password``, ``h323_password``, ``encrypted_password``, a recording's play passcode), the
recording ``download_token``, the host's ``start_url`` (it starts the meeting as the host) and the
``pwd=`` of any URL are removed, wherever they appear (``object``, ``old_object``, recording
files). No handler reads them: meetings are re-read from Zoom, and recordings are deleted or
stopped by id. What remains, topics included, is ``seal``ed with the project's key (AES-GCM,
``zoomguard.crypto.Vault.seal``) so that no topic text reaches the database in clear. Without a
key (a receiver started without ``ZOOMGUARD_SECRET_KEY``) the free text (``topic``, ``agenda``)
is dropped as well.

When the receiver can tell from the raw text that there is nothing to remove (no dropped field's
name and no URL passcode appears in it, and no escape could spell one), the raw text itself is
sealed: it parses to the same document, and re-serialising it cost as much as the parse.

The dedupe key stays the hash of the raw body, and the row's body is blanked when the event is
settled (``zoomguard.store.inbox``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from zoomguard.crypto import SEALED_PREFIX, Vault
from zoomguard.errors import SecretKeyError, UnusableEvent

SECRET_FIELDS: Final = frozenset(
    {
        "password",
        "pstn_password",
        "h323_password",
        "encrypted_password",
        "recording_play_passcode",
        "download_token",
        "start_url",
    }
)
FREE_TEXT_FIELDS: Final = frozenset({"topic", "agenda"})
_URL_PASSCODE_PARAM = "pwd"
_URL_PASSCODE_MARK = _URL_PASSCODE_PARAM + "="
# How a dropped key must appear in a body's text when the text has no escapes; a value spelled
# the same also matches, which only sends that body down the careful path.
_QUOTED_SECRET_FIELDS: Final = tuple(f'"{name}"' for name in SECRET_FIELDS)
_QUOTED_FREE_TEXT_FIELDS: Final = tuple(f'"{name}"' for name in FREE_TEXT_FIELDS)


def _without_passcode(url: str) -> str:
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k != _URL_PASSCODE_PARAM
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _strip(value: Any, dropped: frozenset[str]) -> None:
    """Remove ``dropped`` keys and URL passcodes from ``value`` in place, at any depth."""
    if isinstance(value, dict):
        for key in [key for key in value if key in dropped]:
            del value[key]
        for key, item in value.items():
            if isinstance(item, str):
                # A cheap test first: most strings are not URLs with a passcode.
                if _URL_PASSCODE_MARK in item and key.endswith("url"):
                    value[key] = _without_passcode(item)
            elif isinstance(item, dict | list):
                _strip(item, dropped)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                _strip(item, dropped)


def minimise(document: dict[str, Any], *, keep_free_text: bool) -> dict[str, Any]:
    """``document`` (changed in place) without the secrets, and without topics unless kept."""
    _strip(document, SECRET_FIELDS if keep_free_text else SECRET_FIELDS | FREE_TEXT_FIELDS)
    return document


def _nothing_to_drop(raw_text: str, *, keep_free_text: bool) -> bool:
    """True when ``minimise`` could not change the document ``raw_text`` parses to.

    Conservative: without a backslash, every key and string of the document appears in the
    text as it is, so a dropped key would show as its quoted name and a URL passcode as
    ``pwd=``; a backslash (an escape could spell either) means "maybe"."""
    if "\\" in raw_text or _URL_PASSCODE_MARK in raw_text:
        return False
    for quoted in _QUOTED_SECRET_FIELDS:
        if quoted in raw_text:
            return False
    if not keep_free_text:
        for quoted in _QUOTED_FREE_TEXT_FIELDS:
            if quoted in raw_text:
                return False
    return True


def to_store(document: dict[str, Any], vault: Vault | None, *, raw_text: str | None = None) -> str:
    """The inbox's body for a parsed webhook body: minimised, then sealed when there is a key.

    ``raw_text`` is the body ``document`` was parsed from, when the caller has it: stored as it
    is when nothing in it is to be dropped (then ``document`` is left as it was)."""
    keep_free_text = vault is not None
    if raw_text is not None and _nothing_to_drop(raw_text, keep_free_text=keep_free_text):
        text = raw_text
    else:
        minimised = minimise(document, keep_free_text=keep_free_text)
        text = json.dumps(minimised, separators=(",", ":"), ensure_ascii=False)
    return text if vault is None else vault.seal(text.encode("utf-8"))


def from_store(stored: str, vault: Vault | None) -> Mapping[str, Any]:
    """The body a handler sees. Plain JSON (bodies stored before sealing) is read as it is."""
    text = stored
    if stored.startswith(SEALED_PREFIX):
        if vault is None:
            raise SecretKeyError("the stored body is sealed and ZOOMGUARD_SECRET_KEY is not set")
        text = vault.unseal(stored).decode("utf-8")
    try:
        body = json.loads(text)
    except ValueError:
        raise UnusableEvent("stored body is not JSON") from None
    if not isinstance(body, Mapping):
        raise UnusableEvent("stored body is not a JSON object")
    return body
