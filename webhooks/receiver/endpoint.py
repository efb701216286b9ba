"""POST /webhooks/zoom: verify, persist to the inbox, answer. Nothing else happens here.

Zoom wants an answer within 3 seconds and does not retry 4xx, so the request does the least it
can: a bounded read, an HMAC, a JSON parse and its row in the next group commit (one INSERT and
one COMMIT for the deliveries in flight, ``zoomguard.store.inbox_writer``). The worker does the
rest.

The endpoint is plain WSGI in front of the Flask app (``WebhookEndpoint`` wraps
``app.wsgi_app``): every other path goes on to Flask. A webhook needs none of what Flask adds per
request (a request context, URL matching, sessions, a response object and its hooks), and under
load that was a third of the receiver's CPU beyond the HMAC, the parse and the INSERT
(docs/benchmarks.md). Its answers are the ones the Flask app gives: JSON bodies, the same security
headers, 503 when the database is away (Zoom delivers again), never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zoomguard.errors import MalformedEnvelope, StoreError
from zoomguard.service.events import HANDLED_EVENTS
from zoomguard.service.events.stored_body import to_store
from zoomguard.store import inbox
from zoomguard.webhooks.receiver.envelope import EVENT_MAX_CHARS, parse_envelope
from zoomguard.webhooks.receiver.signature import url_validation_token, verify

if TYPE_CHECKING:
    from zoomguard.webhooks.context import AppContext

log = logging.getLogger("zoomguard.webhooks")

PATH = "/webhooks/zoom"
_READ_CHUNK = 64 * 1024
# WSGI spellings of Zoom's two headers (x-zm-request-timestamp, x-zm-signature).
_TIMESTAMP_KEY = "HTTP_X_ZM_REQUEST_TIMESTAMP"
_SIGNATURE_KEY = "HTTP_X_ZM_SIGNATURE"

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_STATUS_LINES = {
    200: "200 OK",
    400: "400 BAD REQUEST",
    401: "401 UNAUTHORIZED",
    405: "405 METHOD NOT ALLOWED",
    413: "413 REQUEST ENTITY TOO LARGE",
    500: "500 INTERNAL SERVER ERROR",
    503: "503 SERVICE UNAVAILABLE",
}


def _json(document: dict[str, str]) -> bytes:
    # What Flask's jsonify writes: compact, keys sorted, a closing newline.
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode() + b"\n"


# The three answers to a stored delivery, serialised once.
_STORED_ANSWERS = {
    outcome: _json({"status": outcome}) for outcome in (inbox.PENDING, inbox.IGNORED, "duplicate")
}


class _Refused(Exception):
    """An answer other than 200, with the JSON error Zoom (or a prober) is shown."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class WebhookEndpoint:
    """WSGI middleware: ``POST /webhooks/zoom`` answered here, everything else by ``app``."""

    def __init__(
        self,
        app: WSGIApp,
        context: AppContext,
        security_headers: dict[str, str],
    ) -> None:
        self._app = app
        self._context = context
        self._max_body = context.settings.webhook_max_body_bytes
        self._headers = [(name, value) for name, value in security_headers.items()]
        # The answers to a stored delivery, status line and headers included, made once.
        self._stored = {
            outcome: (_STATUS_LINES[200], self._header_list(body), body)
            for outcome, body in _STORED_ANSWERS.items()
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self._app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            return self._answer(
                start_response, 405, _json({"error": "method not allowed"}), [("Allow", "POST")]
            )
        outcome: str | tuple[int, bytes]
        try:
            outcome = self._receive(environ)
        except _Refused as refused:
            outcome = refused.status, _json({"error": refused.message})
        except StoreError as error:
            # Only the class: a database error's text can carry the statement's parameters.
            # 503 makes Zoom deliver again later, so nothing is lost while the database is away.
            log.error("webhook not stored: database error %s", error.reason)
            outcome = 503, _json({"error": "temporarily unavailable"})
        except Exception as error:  # a webhook never gets a traceback, whatever broke
            log.error("webhook failed: unexpected %s", type(error).__name__)
            outcome = 500, _json({"error": "internal error"})
        if isinstance(outcome, str):
            status_line, headers, body = self._stored[outcome]
            # A copy: a server may add its own headers to the list it is given.
            start_response(status_line, list(headers))
            return [body]
        return self._answer(start_response, *outcome)

    def _answer(
        self,
        start_response: StartResponse,
        status: int,
        body: bytes,
        extra: list[tuple[str, str]] | None = None,
    ) -> list[bytes]:
        start_response(_STATUS_LINES[status], self._header_list(body, extra))
        return [body]

    def _header_list(
        self, body: bytes, extra: list[tuple[str, str]] | None = None
    ) -> list[tuple[str, str]]:
        return [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *(extra or ()),
            *self._headers,
        ]

    def _receive(self, environ: dict[str, Any]) -> str | tuple[int, bytes]:
        """A stored delivery's outcome (pending, ignored, duplicate), or any other answer."""
        context = self._context
        body = self._read_body(environ)
        rejection = verify(
            body,
            secret=context.secret,
            timestamp=environ.get(_TIMESTAMP_KEY),
            signature=environ.get(_SIGNATURE_KEY),
            now=context.clock(),
            window_seconds=context.settings.webhook_window_seconds,
        )
        if rejection is not None:
            log.warning("webhook rejected: %s", rejection.value)
            raise _Refused(401, "invalid signature")
        try:
            envelope = parse_envelope(body)
        except MalformedEnvelope as exc:
            log.warning("webhook rejected: %s", exc)
            raise _Refused(400, str(exc)) from None

        if envelope.event == inbox.URL_VALIDATION_EVENT:
            plain_token = envelope.payload.get("plainToken")
            if not isinstance(plain_token, str) or not plain_token:
                log.warning("webhook rejected: url_validation without plainToken")
                raise _Refused(400, "missing plainToken")
            log.info("webhook endpoint.url_validation answered")
            encrypted = url_validation_token(plain_token, secret=context.secret)
            return 200, _json({"plainToken": plain_token, "encryptedToken": encrypted})

        event_name = envelope.event[:EVENT_MAX_CHARS]
        handled = envelope.event in HANDLED_EVENTS
        status = inbox.PENDING if handled else inbox.IGNORED
        # Committed before the 200, in one batch with the deliveries other threads hold.
        event_id, created = context.inbox_writer.add(
            # A Zoom retry resends the identical body, so the body's hash names the delivery.
            dedupe_key=hashlib.sha256(body).hexdigest(),
            event=event_name,
            zoom_account_id=envelope.zoom_account_id,
            event_ts=envelope.event_ts,
            # Data minimisation: an event zoomguard ignores (participant joins and the like) is
            # recorded by name only; its body, often names and emails, is not kept. A handled
            # event's body is kept without its secrets and sealed (stored_body); a body with
            # nothing to remove is sealed as it came, not re-serialised.
            body=(
                to_store(envelope.document, context.store.db.vault, raw_text=envelope.text)
                if handled
                else ""
            ),
            status=status,
            now=datetime.fromtimestamp(context.clock(), UTC),
        )
        outcome = status if created else "duplicate"
        # DEBUG, not INFO: the inbox row is the record of every delivery (and the worker logs
        # each event it handles at INFO); formatted and scrubbed per webhook, this line cost a
        # third as much CPU as the rest of the request (docs/benchmarks.md).
        log.debug("webhook %r stored: %s (inbox id %d)", event_name, outcome, event_id)
        return outcome

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        """The raw body, refused with 413 past the limit without ever buffering more."""
        stream = environ["wsgi.input"]
        declared = environ.get("CONTENT_LENGTH")
        if declared:
            try:
                length = int(declared)
            except ValueError:
                raise _Refused(400, "bad request") from None
            if length < 0:
                raise _Refused(400, "bad request")
            # Refused before a byte is read.
            if length > self._max_body:
                log.warning("webhook rejected: body too large")
                raise _Refused(413, "request entity too large")
            return bytes(stream.read(length))
        if not environ.get("wsgi.input_terminated"):
            # No length and a server that does not end the stream: nothing can be read safely.
            return b""
        # Chunked: the server ends the stream; read one byte past the limit to notice it.
        body = bytearray()
        while len(body) <= self._max_body:
            chunk = stream.read(min(_READ_CHUNK, self._max_body + 1 - len(body)))
            if not chunk:
                break
            body += chunk
        if len(body) > self._max_body:
            log.warning("webhook rejected: body too large")
            raise _Refused(413, "request entity too large")
        return bytes(body)
