"""The Zoom webhook receiver: signatures, status codes, the inbox row, and real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from support.openapi import webhook_events
from support.webhooks import ACCOUNT_ID, SECRET, event_body, meeting_event, signed_headers
from werkzeug.serving import make_server

from zoomguard.config import Settings
from zoomguard.errors import ConfigError
from zoomguard.service.events import HANDLED_EVENTS
from zoomguard.service.events.stored_body import from_store
from zoomguard.store import Store, inbox, make_engine
from zoomguard.store.models import InboxEvent
from zoomguard.webhooks import create_app
from zoomguard.webhooks.app import SECURITY_HEADERS
from zoomguard.webhooks.receiver.envelope import parse_envelope
from zoomguard.webhooks.receiver.signature import Rejection, sign, url_validation_token, verify

URL = "/webhooks/zoom"
MIB = 1024 * 1024


def settings(**overrides: object) -> Settings:
    return Settings(zoom_webhook_secret_token=SECRET).with_overrides(**overrides)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def rows(store: Store) -> list[InboxEvent]:
    with store.transaction() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def post(client: FlaskClient, body: bytes, **kwargs: object) -> tuple[int, dict[str, object]]:
    headers = signed_headers(body, **kwargs)  # type: ignore[arg-type]
    response = client.post(URL, data=body, headers=headers)
    return response.status_code, response.get_json()


# --- signature: pure functions -------------------------------------------------------------


def test_sign_is_hmac_sha256_of_version_timestamp_and_raw_body() -> None:
    body = b'{"event":"meeting.created"}'
    digest = hmac.new(b"s3cret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert sign(body, secret="s3cret", timestamp="1700000000") == "v0=" + digest


def test_verify_accepts_a_fresh_genuine_request() -> None:
    body = b'{"event":"x"}'
    signature = sign(body, secret=SECRET, timestamp="1000")
    outcome = verify(
        body, secret=SECRET, timestamp="1000", signature=signature, now=1000.0, window_seconds=300
    )
    assert outcome is None


@pytest.mark.parametrize(
    ("timestamp", "now", "expected"),
    [
        ("1000", 1300.0, None),  # exactly at the window's edge: still fresh
        ("1000", 1301.0, Rejection.STALE_TIMESTAMP),  # past
        ("1000", 699.0, Rejection.STALE_TIMESTAMP),  # future
        ("abc", 1000.0, Rejection.MALFORMED_TIMESTAMP),
        ("-5", 1000.0, Rejection.MALFORMED_TIMESTAMP),
        ("1e3", 1000.0, Rejection.MALFORMED_TIMESTAMP),
        ("9" * 400, 1000.0, Rejection.MALFORMED_TIMESTAMP),
    ],
)
def test_verify_checks_the_timestamp_window(
    timestamp: str, now: float, expected: Rejection | None
) -> None:
    body = b"{}"
    signature = sign(body, secret=SECRET, timestamp=timestamp)
    outcome = verify(
        body, secret=SECRET, timestamp=timestamp, signature=signature, now=now, window_seconds=300
    )
    assert outcome is expected


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "other body", "other timestamp", "no prefix", "non-ascii", "uppercase"],
)
def test_verify_rejects_a_signature_that_does_not_match(tamper: str) -> None:
    body = b'{"event":"meeting.created"}'
    good = sign(body, secret=SECRET, timestamp="1000")
    signature, signed_body, timestamp = good, body, "1000"
    if tamper == "wrong secret":
        signature = sign(body, secret="not-the-secret", timestamp="1000")
    elif tamper == "other body":
        signed_body = body + b" "
    elif tamper == "other timestamp":
        timestamp = "1001"
    elif tamper == "no prefix":
        signature = good.removeprefix("v0=")
    elif tamper == "non-ascii":
        signature = good[:-1] + "é"
    elif tamper == "uppercase":
        signature = "v0=" + good.removeprefix("v0=").upper()
    outcome = verify(
        signed_body,
        secret=SECRET,
        timestamp=timestamp,
        signature=signature,
        now=1000.0,
        window_seconds=300,
    )
    assert outcome is Rejection.BAD_SIGNATURE


@pytest.mark.parametrize(("timestamp", "signature"), [(None, "v0=ab"), ("1000", None), ("", "")])
def test_verify_rejects_missing_headers(timestamp: str | None, signature: str | None) -> None:
    outcome = verify(
        b"{}", secret=SECRET, timestamp=timestamp, signature=signature, now=1000, window_seconds=300
    )
    assert outcome is Rejection.MISSING_HEADERS


def test_url_validation_token_is_hex_hmac_of_the_plain_token() -> None:
    expected = hmac.new(b"s3cret", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert url_validation_token("qgg8vlvZRS6UYooatFL8Aw", secret="s3cret") == expected


def test_envelope_keeps_only_well_formed_optional_fields() -> None:
    too_long_account = "x" * 65
    body = json.dumps(
        {"event": "meeting.created", "event_ts": True, "payload": {"account_id": too_long_account}}
    )
    envelope = parse_envelope(body.encode())
    assert (envelope.event, envelope.event_ts, envelope.zoom_account_id) == (
        "meeting.created",
        None,
        None,
    )


def test_handled_meeting_and_recording_events_exist_in_zooms_webhook_document() -> None:
    documented = set(webhook_events())
    ours = {name for name in HANDLED_EVENTS if name.startswith(("meeting.", "recording."))}
    assert ours, "the handled set lost its meeting events"
    assert ours <= documented, sorted(ours - documented)


# --- the app factory -----------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, ""])
def test_app_refuses_to_start_without_a_webhook_secret(secret: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        create_app(Settings(zoom_webhook_secret_token=secret), store=None)
    message = str(caught.value)
    assert "ZOOM_WEBHOOK_SECRET_TOKEN" in message
    assert "\n" not in message


def test_app_reads_the_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    monkeypatch.delenv("ZOOM_WEBHOOK_SECRET_TOKEN", raising=False)
    with pytest.raises(ConfigError):
        create_app(None, store)
    monkeypatch.setenv("ZOOM_WEBHOOK_SECRET_TOKEN", SECRET)
    body = meeting_event("meeting.created")
    assert post(create_app(None, store).test_client(), body)[0] == 200


# --- status codes --------------------------------------------------------------------------


def test_handled_event_is_stored_pending_before_200(client: FlaskClient, store: Store) -> None:
    body = meeting_event("meeting.updated")
    status, answer = post(client, body)
    assert (status, answer) == (200, {"status": "pending"})
    [row] = rows(store)
    assert row.event == "meeting.updated"
    assert row.status == inbox.PENDING
    # Sealed with the project's key: the handler reads back what it needs.
    assert row.body.startswith("g1.")
    assert from_store(row.body, store.db.vault) == json.loads(body)
    assert row.dedupe_key == hashlib.sha256(body).hexdigest()
    assert row.zoom_account_id == ACCOUNT_ID
    assert row.event_ts == 1_700_000_000_000
    assert row.attempts == 0


def test_unhandled_event_answers_200_and_is_stored_ignored(
    client: FlaskClient, store: Store
) -> None:
    body = event_body("meeting.participant_joined", object={"id": "1"})
    status, answer = post(client, body)
    assert (status, answer) == (200, {"status": "ignored"})
    [row] = rows(store)
    assert (row.event, row.status) == ("meeting.participant_joined", inbox.IGNORED)
    assert row.body == ""  # not handled, so its personal data is not kept
    assert row.dedupe_key == hashlib.sha256(body).hexdigest()
    assert store.inbox.claim_events("w", 10, row.received_at, 60) == []
    assert post(client, body) == (200, {"status": "duplicate"})
    assert len(rows(store)) == 1


def test_overlong_event_name_is_stored_ignored_and_truncated(
    client: FlaskClient, store: Store
) -> None:
    body = event_body("meeting." + "x" * 200)
    assert post(client, body) == (200, {"status": "ignored"})
    [row] = rows(store)
    assert row.event == ("meeting." + "x" * 200)[:100]


def test_same_delivery_twice_is_stored_once(client: FlaskClient, store: Store) -> None:
    body = meeting_event("recording.started")
    assert post(client, body) == (200, {"status": "pending"})
    # A retry comes later with a new timestamp and signature but the identical body.
    assert post(client, body, ts=int(time.time()) + 5) == (200, {"status": "duplicate"})
    assert len(rows(store)) == 1
    other = meeting_event("recording.started", meeting_id=1)
    assert post(client, other) == (200, {"status": "pending"})
    assert len(rows(store)) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {"x-zm-signature": "v0=" + "0" * 64},  # wrong signature
        {"x-zm-request-timestamp": None},  # missing timestamp
        {"x-zm-signature": None},  # missing signature
        {"x-zm-request-timestamp": "yesterday"},
    ],
    ids=["wrong", "no-timestamp", "no-signature", "bad-timestamp"],
)
def test_bad_signature_is_401_and_nothing_is_stored(
    client: FlaskClient, store: Store, headers: dict[str, str | None]
) -> None:
    body = meeting_event("meeting.created")
    sent = signed_headers(body)
    for name, value in headers.items():
        if value is None:
            del sent[name]
        else:
            sent[name] = value
    response = client.post(URL, data=body, headers=sent)
    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid signature"}
    assert rows(store) == []


def test_signature_from_another_secret_is_401(client: FlaskClient, store: Store) -> None:
    body = meeting_event("meeting.created")
    assert post(client, body, secret="someone-elses-secret")[0] == 401
    assert rows(store) == []


@pytest.mark.parametrize("offset", [-301, 301], ids=["stale", "future"])
def test_timestamp_outside_window_is_401(client: FlaskClient, store: Store, offset: int) -> None:
    body = meeting_event("meeting.created")
    status, answer = post(client, body, ts=int(time.time()) + offset)
    assert (status, answer) == (401, {"error": "invalid signature"})
    assert rows(store) == []


def test_window_is_configurable_and_clock_injected(store: Store) -> None:
    frozen = 2_000_000_000.0
    client = create_app(settings(webhook_window_seconds=10), store, clock=lambda: frozen)
    body = meeting_event("meeting.created")
    assert post(client.test_client(), body, ts=int(frozen) - 11)[0] == 401
    assert post(client.test_client(), body, ts=int(frozen) - 9)[0] == 200


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"event": "meeting.created",', "body is not valid JSON"),
        (b"\xff\xfe{}", "body is not valid JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (b'{"payload": {}}', "missing or invalid event field"),
        (b'{"event": 42, "payload": {}}', "missing or invalid event field"),
        (b'{"event": null}', "missing or invalid event field"),
        (b'{"event": ""}', "missing or invalid event field"),
        (b"[" * 100_000 + b"]" * 100_000, "body is not valid JSON"),
    ],
    ids=["truncated", "not-utf8", "array", "no-event", "int-event", "null-event", "empty", "deep"],
)
def test_malformed_signed_body_is_400(
    client: FlaskClient, store: Store, body: bytes, error: str
) -> None:
    assert post(client, body) == (400, {"error": error})
    assert rows(store) == []


def test_body_over_one_mib_is_413_and_not_stored(client: FlaskClient, store: Store) -> None:
    body = meeting_event("meeting.created")
    padded = body[:-1] + b" " * (MIB - len(body) + 1) + b"}"
    assert len(padded) == MIB + 1
    response = client.post(URL, data=padded, headers=signed_headers(padded))
    assert response.status_code == 413
    assert response.get_json() == {"error": "request entity too large"}
    assert rows(store) == []


def test_body_of_exactly_the_limit_is_accepted(client: FlaskClient, store: Store) -> None:
    body = meeting_event("meeting.created")
    padded = body[:-1] + b" " * (MIB - len(body)) + b"}"
    assert len(padded) == MIB
    assert post(client, padded) == (200, {"status": "pending"})
    assert from_store(rows(store)[0].body, store.db.vault) == json.loads(padded)


def test_url_validation_is_answered_and_not_stored(client: FlaskClient, store: Store) -> None:
    body = json.dumps(
        {"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}
    ).encode()
    status, answer = post(client, body)
    assert status == 200
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert answer == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    assert rows(store) == []


def test_url_validation_needs_a_signature_and_a_token(client: FlaskClient) -> None:
    body = b'{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}'
    assert client.post(URL, data=body).status_code == 401
    no_token = b'{"event":"endpoint.url_validation","payload":{}}'
    assert post(client, no_token) == (400, {"error": "missing plainToken"})


def test_other_methods_and_paths_answer_short_json(client: FlaskClient) -> None:
    get = client.get(URL)
    assert (get.status_code, get.get_json()) == (405, {"error": "method not allowed"})
    missing = client.post("/nowhere", data=b"{}")
    assert (missing.status_code, missing.get_json()) == (404, {"error": "not found"})


def test_stored_answers_keep_their_headers_once_each_however_often_given(
    client: FlaskClient,
) -> None:
    # The stored answers' headers are made once per process; each answer gets its own copy.
    body = meeting_event("meeting.created")
    answers = [client.post(URL, data=body, headers=signed_headers(body)) for _ in range(3)]
    assert [answer.get_json() for answer in answers] == [
        {"status": "pending"},
        {"status": "duplicate"},
        {"status": "duplicate"},
    ]
    for answer in answers:
        names = [name for name, _ in answer.headers]
        assert len(names) == len(set(names)), names
        assert {name: answer.headers[name] for name in SECURITY_HEADERS} == SECURITY_HEADERS
        assert answer.headers["Content-Type"] == "application/json"
        assert int(answer.headers["Content-Length"]) == len(answer.get_data())
    assert list(answers[1].headers) == list(answers[2].headers)


def test_every_response_carries_security_headers(client: FlaskClient) -> None:
    body = meeting_event("meeting.created")
    responses = [
        client.post(URL, data=body, headers=signed_headers(body)),
        client.post(URL, data=body),
        client.get("/nowhere"),
    ]
    for response in responses:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_unmigrated_database_is_503_without_traceback_or_body_in_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: every INSERT fails
    try:
        client = create_app(settings(), Store(engine)).test_client()
        body = meeting_event("meeting.created", topic="Board meeting about MARKER-7731")
        with caplog.at_level(logging.DEBUG):
            response = client.post(URL, data=body, headers=signed_headers(body))
    finally:
        engine.dispose()
    assert response.status_code == 503  # a 5xx makes Zoom deliver the event again later
    assert response.get_json() == {"error": "temporarily unavailable"}
    assert b"Traceback" not in response.data
    assert "MARKER-7731" not in caplog.text
    assert SECRET not in caplog.text


def test_logs_name_the_event_and_outcome_but_never_the_body_or_secret(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = meeting_event("meeting.created", topic="Patient MARKER-4242")
    with caplog.at_level(logging.DEBUG, logger="zoomguard.webhooks"):
        post(client, body)
        post(client, body)
        post(client, body, secret="wrong")
    assert "'meeting.created' stored: pending" in caplog.text
    assert "'meeting.created' stored: duplicate" in caplog.text
    assert "signature mismatch" in caplog.text
    assert "MARKER-4242" not in caplog.text
    assert SECRET not in caplog.text


# --- over a real socket --------------------------------------------------------------------


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{URL}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def test_real_http_signed_events_are_stored_and_bad_ones_refused(app: Flask, store: Store) -> None:
    with serving(app) as url, requests.Session() as http:
        body = meeting_event("meeting.deleted")
        ok = http.post(url, data=body, headers=signed_headers(body), timeout=5)
        assert (ok.status_code, ok.json()) == (200, {"status": "pending"})
        assert ok.headers["X-Content-Type-Options"] == "nosniff"
        forged = http.post(url, data=body, headers=signed_headers(body, secret="x"), timeout=5)
        assert forged.status_code == 401
        too_big = b" " * (MIB + 1)
        refused = http.post(url, data=too_big, headers=signed_headers(too_big), timeout=5)
        assert refused.status_code == 413
    assert [(row.event, row.status) for row in rows(store)] == [("meeting.deleted", "pending")]


def chunked(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    # A generator makes requests send Transfer-Encoding: chunked, with no Content-Length.
    for start in range(0, len(body), size):
        yield body[start : start + size]


def padded_event(total: int) -> bytes:
    body = meeting_event("recording.completed")
    return body[:-1] + b" " * (total - len(body)) + b"}"


@pytest.mark.parametrize("size", [MIB + 1, 3 * MIB], ids=["one-byte-over", "far-over"])
def test_real_http_chunked_body_over_the_limit_is_413(app: Flask, store: Store, size: int) -> None:
    body = padded_event(size)
    with serving(app) as url:
        response = requests.post(url, data=chunked(body), headers=signed_headers(body), timeout=5)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.request.headers
    assert (response.status_code, response.json()) == (413, {"error": "request entity too large"})
    assert rows(store) == []


@pytest.mark.parametrize("size", [0, MIB], ids=["small", "exactly-the-limit"])
def test_real_http_chunked_body_within_the_limit_is_accepted(
    app: Flask, store: Store, size: int
) -> None:
    body = padded_event(size) if size else meeting_event("recording.completed")
    with serving(app) as url:
        response = requests.post(
            url, data=chunked(body, 1000), headers=signed_headers(body), timeout=5
        )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert (response.status_code, response.json()) == (200, {"status": "pending"})
    assert from_store(rows(store)[0].body, store.db.vault) == json.loads(body)


def test_real_http_concurrent_duplicate_deliveries_store_one_row(app: Flask, store: Store) -> None:
    body = meeting_event("meeting.created")
    headers = signed_headers(body)
    with serving(app) as url, ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(
                lambda _: requests.post(url, data=body, headers=headers, timeout=10).json(),
                range(16),
            )
        )
    statuses = sorted(answer["status"] for answer in answers)
    assert statuses == ["duplicate"] * 15 + ["pending"]
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 1
