"""Helpers for tests that send Zoom webhooks: signing reuses the production signer."""

from __future__ import annotations

import json
import time
from typing import Any

from zoomguard.webhooks.receiver.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER
from zoomguard.webhooks.receiver.signature import sign as _production_sign

SECRET = "test-webhook-secret-token"
ACCOUNT_ID = "AbCdEfGhIjKlMnOpQrStUv"


def sign(body: bytes, secret: str = SECRET, ts: int | str | None = None) -> str:
    """The x-zm-signature Zoom would send for ``body`` at ``ts`` (unix seconds, default now)."""
    timestamp = str(int(time.time()) if ts is None else ts)
    return _production_sign(body, secret=secret, timestamp=timestamp)


def signed_headers(body: bytes, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(body, secret, timestamp),
    }


def event_body(event: str, *, event_ts: int = 1_700_000_000_000, **payload: Any) -> bytes:
    """A Zoom envelope as Zoom serialises it: compact JSON."""
    document = {
        "event": event,
        "event_ts": event_ts,
        "payload": {"account_id": ACCOUNT_ID, **payload},
    }
    return json.dumps(document, separators=(",", ":")).encode()


def meeting_event(event: str, meeting_id: int = 85746065432, **extra: Any) -> bytes:
    return event_body(
        event,
        operator="host@example.org",
        object={"id": meeting_id, "uuid": "4444AAAiAAAAAiAiAiiAii==", "host_id": "z8yCxjabcd"},
        **extra,
    )
