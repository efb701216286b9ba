"""The sandbox's other records of a meeting (issue #15): AI Companion, meeting summaries, live
streams, paused and resumed recordings, recovered recordings, transcripts and chat files. Every
event validates against meetings-webhooks.json and every response against the endpoint
documents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.openapi import validate_webhook, webhook_example
from support.sandbox import Api, WebhookReceiver, double_encode, running

from zoomguard.sandbox import SandboxConfig, SandboxServer

SECRET = "sandbox-records-secret"

RECORD_EVENTS = {
    "meeting.ai_companion_started",
    "meeting.ai_companion_stopped",
    "meeting.summary_completed",
    "meeting.summary_deleted",
    "meeting.live_streaming_started",
    "meeting.live_streaming_stopped",
    "recording.paused",
    "recording.resumed",
    "recording.recovered",
    "recording.transcript_completed",
    "meeting.chat_message_file_sent",
}


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


def test_every_record_event_validates_and_has_the_example_s_fields(
    wired: tuple[SandboxServer, Api, WebhookReceiver],
) -> None:
    server, api, receiver = wired
    state = server.state
    host = state.add_user("host@example.org")
    meeting = state.add_meeting(host, password="abc123")
    mid = meeting["id"]
    assert state.start_ai_companion(mid)
    api.patch(f"/live_meetings/{mid}/events", {"method": "ai_companion.stop"})
    api.patch(f"/live_meetings/{mid}/events", {"method": "ai_companion.disable"})
    state.start_live_stream(mid)
    api.patch(f"/meetings/{mid}/livestream/status", {"action": "stop"})
    state.start_recording(mid)
    assert state.pause_recording(mid)
    assert state.resume_recording(mid)
    state.send_chat_file(mid, "intake form.pdf", "pdf")
    recording = state.complete_recording(mid)
    state.complete_transcript(mid)
    api.delete(f"/meetings/{double_encode(recording.uuid)}/recordings")
    assert state.recover_recording(recording.uuid) is not None
    summary = state.complete_summary(mid)
    api.delete(f"/meetings/{double_encode(summary['meeting_uuid'])}/meeting_summary")
    assert server.wait_for_webhooks(10)

    names = {e["event"] for e in receiver.events()}
    assert names >= RECORD_EVENTS
    for event in receiver.events():
        validate_webhook(event["event"], event)
        if event["event"] in RECORD_EVENTS:
            # Every field of Zoom's example payload object is there (no field Zoom sends is
            # missing), except the optional ones Zoom's example shows for other situations.
            example = webhook_example(event["event"])["payload"]["object"]
            optional = {
                "breakout_room_uuid",  # only in a breakout room
                "summary_content",
                "summary_doc_url",
                "participant_audio_files",  # only with per-participant audio recording on
            }
            missing = set(example) - set(event["payload"]["object"]) - optional
            assert not missing, (event["event"], missing)
    (started,) = receiver.events("meeting.ai_companion_started")
    assert started["payload"]["object"]["ai_companion"] == {"questions": True, "summary": True}
    (transcript,) = receiver.events("recording.transcript_completed")
    files = transcript["payload"]["object"]["recording_files"]
    assert [f["file_type"] for f in files] == ["TRANSCRIPT"]
    assert transcript["download_token"]


def test_ai_companion_disabled_cannot_start_again(
    wired: tuple[SandboxServer, Api, WebhookReceiver],
) -> None:
    server, api, _ = wired
    state = server.state
    mid = state.add_meeting(state.add_user("host@example.org"))["id"]
    assert state.start_ai_companion(mid, ("questions",))
    assert (
        api.patch(f"/live_meetings/{mid}/events", {"method": "ai_companion.stop"}).status_code
        == 202
    )
    assert state.live[mid].ai_companion == "stopped"
    api.patch(f"/live_meetings/{mid}/events", {"method": "ai_companion.disable"})
    assert state.live[mid].ai_companion == "disabled"
    assert not state.start_ai_companion(mid)
    refused = api.patch(f"/live_meetings/{mid}/events", {"method": "ai_companion.start"})
    assert refused.status_code == 400


def test_summary_and_live_stream_endpoints(
    wired: tuple[SandboxServer, Api, WebhookReceiver],
) -> None:
    server, api, _ = wired
    state = server.state
    mid = state.add_meeting(state.add_user("host@example.org"))["id"]
    # A meeting that has not started cannot stop a stream (Zoom's 4927).
    not_started = api.patch(f"/meetings/{mid}/livestream/status", {"action": "stop"})
    assert (not_started.status_code, not_started.json()["code"]) == (400, 4927)
    state.start_live_stream(mid)
    assert api.patch(f"/meetings/{mid}/livestream/status", {"action": "stop"}).status_code == 204
    assert state.live[mid].live_stream_service is None
    bad = api.patch(f"/meetings/{mid}/livestream/status", {"action": "pause"})
    assert bad.status_code == 400

    summary = state.complete_summary(mid)
    got = api.get(f"/meetings/{mid}/meeting_summary")
    assert got.json()["meeting_uuid"] == summary["meeting_uuid"]
    assert api.delete(f"/meetings/{mid}/meeting_summary").status_code == 204
    assert state.summary_for(str(mid)) is None
    gone = api.delete(f"/meetings/{mid}/meeting_summary")
    assert gone.status_code == 404
    assert api.validated == 6
