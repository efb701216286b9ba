"""POST /webhooks/zoom: verify, persist to the inbox, answer. Nothing else happens here.

Zoom wants an answer within 3 seconds and does not retry 4xx, so the request does the least it
can: a bounded read, an HMAC, a JSON parse and one INSERT. The worker does the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, jsonify, request

from zoomguard.errors import MalformedEnvelope
from zoomguard.service.events import HANDLED_EVENTS
from zoomguard.store import inbox
from zoomguard.webhooks.context import app_context
from zoomguard.webhooks.receiver.envelope import EVENT_MAX_CHARS, parse_envelope
from zoomguard.webhooks.receiver.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    url_validation_token,
    verify,
)

log = logging.getLogger("zoomguard.webhooks")

bp = Blueprint("zoom_webhooks", __name__)

_READ_CHUNK = 64 * 1024


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


# The three answers to a stored delivery, serialised once rather than by jsonify per request.
_STORED_ANSWERS = {
    outcome: json.dumps({"status": outcome}, separators=(",", ":")).encode() + b"\n"
    for outcome in (inbox.PENDING, inbox.IGNORED, "duplicate")
}


def _stored(outcome: str) -> tuple[Response, int]:
    return Response(_STORED_ANSWERS[outcome], mimetype="application/json"), 200


def _read_body(max_bytes: int) -> bytes:
    """The raw body, refused with 413 past ``max_bytes`` without ever buffering more than that."""
    declared = request.content_length
    if declared is not None:
        # Refused before a byte is read; otherwise werkzeug reads exactly the declared length.
        if declared > max_bytes:
            abort(413)
        return request.get_data(cache=False)
    if not request.environ.get("wsgi.input_terminated"):
        # No length and a server that does not end the stream: nothing can be read safely.
        return b""
    # Chunked: the server ends the stream. Werkzeug's own limit would silently truncate the body
    # at MAX_CONTENT_LENGTH, so read one byte past the limit from the server's stream instead.
    stream = request.environ["wsgi.input"]
    body = bytearray()
    while len(body) <= max_bytes:
        chunk = stream.read(min(_READ_CHUNK, max_bytes + 1 - len(body)))
        if not chunk:
            break
        body += chunk
    if len(body) > max_bytes:
        abort(413)
    return bytes(body)


@bp.post("/webhooks/zoom")
def zoom_webhook() -> tuple[Response, int]:
    context = app_context()
    settings = context.settings
    body = _read_body(settings.webhook_max_body_bytes)

    rejection = verify(
        body,
        secret=context.secret,
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        now=context.clock(),
        window_seconds=settings.webhook_window_seconds,
    )
    if rejection is not None:
        log.warning("webhook rejected: %s", rejection.value)
        return _error(401, "invalid signature")

    try:
        envelope = parse_envelope(body)
    except MalformedEnvelope as exc:
        log.warning("webhook rejected: %s", exc)
        return _error(400, str(exc))

    event_name = envelope.event[:EVENT_MAX_CHARS]
    if envelope.event == inbox.URL_VALIDATION_EVENT:
        plain_token = envelope.payload.get("plainToken")
        if not isinstance(plain_token, str) or not plain_token:
            log.warning("webhook rejected: url_validation without plainToken")
            return _error(400, "missing plainToken")
        log.info("webhook endpoint.url_validation answered")
        encrypted = url_validation_token(plain_token, secret=context.secret)
        return jsonify(plainToken=plain_token, encryptedToken=encrypted), 200

    handled = envelope.event in HANDLED_EVENTS
    status = inbox.PENDING if handled else inbox.IGNORED
    event_id, created = context.store.inbox.add_event(
        # A Zoom retry resends the identical body, so the body's hash names the delivery.
        dedupe_key=hashlib.sha256(body).hexdigest(),
        event=event_name,
        zoom_account_id=envelope.zoom_account_id,
        event_ts=envelope.event_ts,
        # Data minimisation: an event zoomguard ignores (participant joins and the like) is
        # recorded by name only; its body, often names and emails, is not kept.
        body=envelope.text if handled else "",
        status=status,
        now=datetime.fromtimestamp(context.clock(), UTC),
    )
    outcome = status if created else "duplicate"
    log.info("webhook %r stored: %s (inbox id %d)", event_name, outcome, event_id)
    return _stored(outcome)
