"""Webhooks from the sandbox: signed like Zoom's (checked here over the raw bytes received),
valid against meetings-webhooks.json, retried like Zoom's, and the URL validation check."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from support.openapi import validate_webhook
from support.sandbox import Api, WebhookReceiver, double_encode, running

from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.sandbox.webhooks import sign

SECRET = "sandbox-test-secret"


@pytest.fixture
def wired() -> Iterator[tuple[SandboxServer, Api, WebhookReceiver]]:
    with WebhookReceiver(SECRET) as receiver:
        config = SandboxConfig(
            webhook_secret=SECRET,
            webhook_url=receiver.url,
            enforce_rate_limits=False,
            webhook_time_scale=0.0001,
        )
        with running(config) as (server, api):
            yield server, api, receiver


def expected_signature(secret: str, timestamp: str, raw: bytes) -> str:
    message = b"v0:" + timestamp.encode() + b":" + raw
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_events_are_signed_over_the_raw_body(
    wired: tuple[SandboxServer, Api, WebhookReceiver],
) -> None:
    server, _, receiver = wired
    host = server.state.add_user("host@example.org")
    meeting = server.state.add_meeting(host)
    server.state.start_meeting(meeting["id"])
    (received,) = receiver.wait_for(1)
    headers = {k.lower(): v for k, v in received.headers.items()}
    timestamp = headers["x-zm-request-timestamp"]
    assert abs(int(timestamp) - time.time()) < 5
    assert hmac.compare_digest(
        headers["x-zm-signature"], expected_signature(SECRET, timestamp, received.body)
    )
    assert headers["content-type"].startswith("application/json")
    assert headers["x-zm-signature"] != expected_signature("other", timestamp, received.body)
    event = json.loads(received.body)
    assert event["event"] == "meeting.started"
    assert event["payload"]["object"]["id"] == str(meeting["id"])  # a string in this event
    validate_webhook("meeting.started", event)
    assert server.wait_for_webhooks(5)
    (delivery,) = server.state.deliveries_snapshot("meeting.started")
    assert (delivery.attempt, delivery.status, delivery.meeting_id) == (1, 200, str(meeting["id"]))


def test_every_event_the_sandbox_sends_validates(
    wired: tuple[SandboxServer, Api, WebhookReceiver],
) -> None:
    server, api, receiver = wired
    state = server.state
    host = state.add_user("host@example.org")
    meeting = state.add_meeting(host, password="abc123", settings={"join_before_host": True})
    assert state.participant_joins_before_host(meeting["id"], "Early Bird")
    api.patch(f"/meetings/{meeting['id']}", {"settings": {"waiting_room": False, "jbh_time": 10}})
    state.start_recording(meeting["id"])
    api.patch(f"/live_meetings/{meeting['id']}/events", {"method": "recording.stop"})
    recording = state.complete_recording(meeting["id"])
    api.delete(f"/meetings/{double_encode(recording.uuid)}/recordings")
    again = state.complete_recording(meeting["id"])
    api.delete(f"/meetings/{double_encode(again.uuid)}/recordings", params={"action": "delete"})
    created = api.call("POST", f"/users/{host['id']}/meetings", json_body={"topic": "New"})
    api.delete(f"/meetings/{created.json()['id']}")
    soon = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    series = api.call(
        "POST",
        f"/users/{host['id']}/meetings",
        json_body={"topic": "Series", "type": 8, "start_time": soon, "duration": 30},
    ).json()
    assert len(series["occurrences"]) == 4
    single = state.add_meeting(host, password="abc123")
    api.patch(f"/meetings/{single['id']}", {"type": 8})
    recurring = state.add_meeting(host, type=8, occurrences=3)
    state.delete_meeting(recurring["id"])
    assert server.wait_for_webhooks(10)

    names = [e["event"] for e in receiver.events()]
    assert set(names) >= {
        "meeting.participant_jbh_joined",
        "meeting.updated",
        "meeting.started",
        "recording.started",
        "recording.stopped",
        "meeting.ended",
        "recording.completed",
        "recording.trashed",
        "recording.deleted",
        "meeting.created",
        "meeting.deleted",
    }
    for event in receiver.events():
        validate_webhook(event["event"], event)
    made_recurring = [
        e for e in receiver.events("meeting.updated") if e["payload"]["object"].get("type") == 8
    ]
    assert made_recurring[0]["payload"]["object"]["occurrences"]
    assert len(receiver.events()) == len(state.events)


def test_meeting_updated_carries_only_what_changed(
    wired: tuple[SandboxServer, Api, WebhookReceiver],
) -> None:
    server, api, receiver = wired
    host = server.state.add_user("host@example.org")
    meeting = server.state.add_meeting(host, password="abc123", topic="Before")
    api.patch(f"/meetings/{meeting['id']}", {"topic": "After", "settings": {"waiting_room": False}})
    api.patch(f"/meetings/{meeting['id']}", {"topic": "After"})  # no change: no event
    assert server.wait_for_webhooks(5)
    (event,) = receiver.events("meeting.updated")
    payload = event["payload"]
    assert payload["operator"] == host["email"]  # the S2S app acts as the account owner
    assert payload["object"] == {
        "id": meeting["id"],
        "uuid": meeting["uuid"],
        "host_id": host["id"],
        "topic": "After",
        "settings": {"waiting_room": False},
    }
    assert payload["old_object"]["topic"] == "Before"
    assert payload["old_object"]["settings"] == {"waiting_room": True}


def test_recording_completed_has_files_and_download_token(
    wired: tuple[SandboxServer, Api, WebhookReceiver],
) -> None:
    server, _, receiver = wired
    host = server.state.add_user("host@example.org")
    meeting = server.state.add_meeting(host)
    recording = server.state.complete_recording(meeting["id"])
    assert server.wait_for_webhooks(5)
    (event,) = receiver.events("recording.completed")
    assert event["download_token"]
    obj = event["payload"]["object"]
    assert obj["uuid"] == recording.uuid
    assert [f["file_type"] for f in obj["recording_files"]] == ["MP4", "M4A", "CHAT"]
    assert obj["recording_count"] == 3
    emitted = [e["event"] for e in server.state.events]
    assert emitted == [
        "meeting.started",
        "recording.started",
        "recording.stopped",
        "meeting.ended",
        "recording.completed",
    ]
    # Delivered concurrently, as Zoom does: all arrive, in no promised order.
    assert sorted(e["event"] for e in receiver.events()) == sorted(emitted)


def test_failed_deliveries_are_retried_on_zooms_schedule() -> None:
    with WebhookReceiver(SECRET, statuses=[500, 503, 200]) as receiver:
        config = SandboxConfig(
            webhook_secret=SECRET, webhook_url=receiver.url, webhook_time_scale=0.0001
        )
        with SandboxServer(config) as server:
            host = server.state.add_user("host@example.org")
            server.state.start_meeting(server.state.add_meeting(host)["id"])
            assert server.wait_for_webhooks(5)
            attempts = server.state.deliveries_snapshot("meeting.started")
    assert [(d.attempt, d.status, d.will_retry) for d in attempts] == [
        (1, 500, True),
        (2, 503, True),
        (3, 200, False),
    ]
    gaps = [b.sent_at - a.sent_at for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 300 * 0.0001
    assert gaps[1] >= 1200 * 0.0001
    bodies = [r.body for r in receiver.received]
    assert bodies[0] == bodies[1] == bodies[2]
    # As Zoom: one request id for every retry of the event, each attempt signed anew.
    headers = [{k.lower(): v for k, v in r.headers.items()} for r in receiver.received]
    assert len({h["x-zm-request-id"] for h in headers}) == 1
    for received, header in zip(receiver.received, headers, strict=True):
        assert header["x-zm-signature"] == sign(
            SECRET, header["x-zm-request-timestamp"], received.body
        )
    assert [d.request_id for d in attempts] == [headers[0]["x-zm-request-id"]] * 3


def test_4xx_is_not_retried_and_unreachable_is_retried_three_times() -> None:
    with WebhookReceiver(SECRET, statuses=[404]) as receiver:
        config = SandboxConfig(webhook_secret=SECRET, webhook_url=receiver.url)
        with SandboxServer(config) as server:
            host = server.state.add_user("host@example.org")
            server.state.start_meeting(server.state.add_meeting(host)["id"])
            assert server.wait_for_webhooks(5)
            assert [(d.attempt, d.status) for d in server.state.deliveries] == [(1, 404)]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    config = SandboxConfig(
        webhook_url=f"http://127.0.0.1:{closed_port}/hook", webhook_time_scale=0.00005
    )
    with SandboxServer(config) as server:
        host = server.state.add_user("host@example.org")
        server.state.start_meeting(server.state.add_meeting(host)["id"])
        assert server.wait_for_webhooks(5)
        attempts = server.state.deliveries_snapshot()
    assert [d.attempt for d in attempts] == [1, 2, 3, 4]
    assert all(d.status is None and d.error for d in attempts)
    assert attempts[-1].will_retry is False


def test_endpoint_url_validation(wired: tuple[SandboxServer, Api, WebhookReceiver]) -> None:
    server, _, receiver = wired
    result = server.validate_webhook_url()
    assert (result.ok, result.status) == (True, 200)
    (received,) = receiver.received
    body = json.loads(received.body)
    validate_webhook("endpoint.url_validation", body)
    assert body["event"] == "endpoint.url_validation"
    with WebhookReceiver("a different secret") as wrong:
        failed = server.validate_webhook_url(wrong.url)
    assert not failed.ok
    assert failed.error == "encryptedToken does not match"


def test_no_webhook_url_means_no_delivery_but_events_are_kept() -> None:
    with SandboxServer(SandboxConfig()) as server:
        host = server.state.add_user("host@example.org")
        server.state.start_meeting(server.state.add_meeting(host)["id"])
        assert server.wait_for_webhooks(1)
        assert server.state.deliveries == []
        assert [e["event"] for e in server.state.events] == ["meeting.started"]


def test_reaction_time_from_recording_started_to_stop(
    wired: tuple[SandboxServer, Api, WebhookReceiver],
) -> None:
    server, api, receiver = wired
    host = server.state.add_user("host@example.org")
    meeting = server.state.add_meeting(host)
    server.state.start_recording(meeting["id"])
    receiver.wait_for(2)
    assert server.wait_for_webhooks(5)
    api.patch(f"/live_meetings/{meeting['id']}/events", {"method": "recording.stop"})
    ((meeting_id, seconds),) = server.state.recording_stop_latencies()
    assert meeting_id == meeting["id"]
    assert 0 <= seconds < 5
