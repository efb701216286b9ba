"""Read the few envelope fields the receiver needs from a verified webhook body.

Zoom's envelope is ``{event, event_ts (ms), payload: {account_id, object, ...}}``. The receiver
only needs the event name to decide what to store; the worker reads the rest later. Anything
here that is not what Zoom documents is dropped to ``None`` rather than rejected, except the
event name, which the inbox cannot do without.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from zoomguard.errors import MalformedEnvelope

# Column widths from docs/schema.md (inbox_events.event, inbox_events.zoom_account_id).
EVENT_MAX_CHARS = 100
ACCOUNT_ID_MAX_CHARS = 64
_BIGINT_MAX = 2**63 - 1


class Envelope(NamedTuple):
    # A tuple, not a frozen dataclass: built once per webhook, and a frozen dataclass's
    # __init__ sets each field through object.__setattr__.
    text: str  # the raw body, decoded as UTF-8
    document: dict[str, Any]  # the whole parsed body
    event: str
    zoom_account_id: str | None
    event_ts: int | None
    payload: dict[str, Any]


def parse_envelope(body: bytes) -> Envelope:
    try:
        text = body.decode("utf-8")
        document = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedEnvelope("body is not valid JSON") from None
    if not isinstance(document, dict):
        raise MalformedEnvelope("body is not a JSON object")
    event = document.get("event")
    if not isinstance(event, str) or not event.strip():
        raise MalformedEnvelope("missing or invalid event field")
    payload = document.get("payload")
    if not isinstance(payload, dict):
        payload = {}
    return Envelope(
        text=text,
        document=document,
        event=event,
        zoom_account_id=_account_id(payload.get("account_id")),
        event_ts=_event_ts(document.get("event_ts")),
        payload=payload,
    )


def _account_id(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= ACCOUNT_ID_MAX_CHARS:
        return value
    return None


def _event_ts(value: object) -> int | None:
    # bool is an int subclass; true is not a timestamp.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _BIGINT_MAX:
        return value
    return None
