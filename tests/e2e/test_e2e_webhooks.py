"""Real-time enforcement end to end: the sandbox sends signed webhooks over real HTTP to the
receiver (the Flask app on a loopback port), the receiver stores them, and the worker acts on them
against the sandbox (issue #4's "done when")."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from support.sandbox import SANDBOX_HOST_DEFAULT
from werkzeug.serving import make_server

from zoomguard.config import Settings
from zoomguard.rules import policy
from zoomguard.runtime.health import check_health
from zoomguard.runtime.worker import drain_once
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.service.events import EventDispatcher, on_dead
from zoomguard.store import Store, upgrade
from zoomguard.store.models import Alert, InboxEvent
from zoomguard.webhooks import create_app
from zoomguard.webhooks.receiver.signature import sign

E2E_SECRET_KEY = "s8J3qH2Jc0gqQzvYd1l9h1a6yWZC0Zb0l0m3Xq3rFzo="  # a Fernet key for these tests only
COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}


@dataclass
class Rig:
    sandbox: SandboxServer
    store: Store
    settings: Settings
    handler: EventDispatcher
    receiver_url: str
    database: Path

    def post_signed(self, body: dict[str, Any]) -> int:
        """What Zoom sends for events the sandbox does not emit itself (app_deauthorized)."""
        raw = json.dumps(body).encode()
        ts = str(int(time.time()))
        secret = self.settings.zoom_webhook_secret_token
        assert secret
        response = requests.post(
            self.receiver_url,
            data=raw,
            headers={
                "content-type": "application/json",
                "x-zm-request-timestamp": ts,
                "x-zm-signature": sign(raw, secret=secret, timestamp=ts),
            },
            timeout=10,
        )
        return response.status_code

    def alert_categories(self) -> list[str]:
        with self.store.transaction() as session:
            return [a.category for a in session.scalars(select(Alert))]

    def drain(self) -> int:
        processed = 0
        while True:
            n = drain_once(
                self.store,
                self.handler,
                worker_id="test-worker",
                on_dead=on_dead(self.settings, self.store),
            )
            processed += n
            if n == 0:
                return processed

    def patches_of(self, meeting_id: int) -> int:
        return sum(
            1
            for r in self.sandbox.state.request_log()
            if r.method == "PATCH" and r.path == f"/v2/meetings/{meeting_id}"
        )


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with SandboxServer(SandboxConfig(webhook_time_scale=0.001)) as sandbox:
        env = dict(sandbox.env())
        database = tmp_path / "zg.db"
        env["ZOOMGUARD_DATABASE_URL"] = f"sqlite:///{database}"
        env["ZOOMGUARD_SECRET_KEY"] = E2E_SECRET_KEY
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        store = Store.open(settings)
        assert settings.zoom_account_id
        assert settings.zoom_client_id
        assert settings.zoom_client_secret
        store.accounts.save_s2s(
            settings.zoom_account_id,
            settings.zoom_client_id,
            settings.zoom_client_secret,
            api_url=settings.zoom_api_url,
        )
        app = create_app(settings, store)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_port}/webhooks/zoom"
        sandbox.set_webhook_url(url)
        handler = EventDispatcher(settings, store)
        try:
            yield Rig(sandbox, store, settings, handler, url, database)
        finally:
            handler.close()
            server.shutdown()
            thread.join(5)
            store.close()


def test_url_validation_answers_zoom(rig: Rig) -> None:
    result = rig.sandbox.validate_webhook_url()
    assert result.ok, result


def test_recording_started_is_stopped_and_completed_recording_trashed(rig: Rig) -> None:
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(host, topic="Case conference", settings=COMPLIANT)
    state.start_meeting(meeting["id"])
    state.start_recording(meeting["id"])
    assert rig.sandbox.wait_for_webhooks(10)

    assert rig.drain() >= 1
    stops = [s for s in state.recording_stops if int(s.meeting_id) == meeting["id"]]
    assert len(stops) == 1
    assert stops[0].was_recording
    assert state.live[meeting["id"]].recording_state == "stopped"

    recording = state.complete_recording(meeting["id"])
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    assert state.recordings[recording.uuid].trashed

    changes = [(a.action, a.confirmed) for a in rig.store.audit.recent(10)]
    assert ("recording.stop", True) in changes
    assert ("recording.trash", True) in changes
    categories = rig.alert_categories()
    assert "recording.started" in categories
    assert "recording.completed" in categories


def test_meeting_made_noncompliant_is_fixed_once(rig: Rig) -> None:
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(host, topic="Planning", settings=COMPLIANT)
    # The host turns join-before-host on and recording on, through the API.
    state.update_meeting(
        meeting["id"], {"settings": {"join_before_host": True, "auto_recording": "cloud"}}
    )
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    assert rig.patches_of(meeting["id"]) == 1
    evaluation = policy.evaluate(
        state.meetings[meeting["id"]],
        policy.default_profile(),
        today=date.today(),
        host=SANDBOX_HOST_DEFAULT,  # no options: the account's setting, everyone waits
    )
    assert evaluation.compliant, evaluation.findings
    # zoomguard's own PATCH came back as meeting.updated: processed, and no second PATCH.
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    assert rig.patches_of(meeting["id"]) == 1
    assert rig.store.inbox.count_by_status().get("done", 0) >= 2


def test_webinar_made_noncompliant_is_fixed_once_and_a_deleted_one_closes_its_findings(
    rig: Rig,
) -> None:
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    webinar = state.add_webinar(host, topic="Town hall")
    state.update_webinar(
        webinar["id"], {"settings": {"auto_recording": "cloud", "on_demand": True}}
    )
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    path = f"/v2/webinars/{webinar['id']}"
    patches = [r for r in state.request_log() if r.method == "PATCH" and r.path == path]
    assert [r.status for r in patches] == [204]
    fixed = state.webinars[webinar["id"]]["settings"]
    assert (fixed["auto_recording"], fixed["on_demand"]) == ("none", False)
    assert rig.store.findings.open(), "the fix is recorded as findings until the next sweep"
    # zoomguard's own PATCH comes back as webinar.updated: processed, and no second PATCH.
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    assert len([r for r in state.request_log() if r.method == "PATCH" and r.path == path]) == 1
    assert state.delete_webinar(webinar["id"])
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    assert rig.store.findings.open() == []


def test_events_posted_while_the_worker_is_down_are_all_processed(rig: Rig) -> None:
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    meetings = [state.add_meeting(host, topic=f"M{i}", settings=COMPLIANT) for i in range(5)]
    for m in meetings:
        state.update_meeting(m["id"], {"settings": {"waiting_room": False}})
    assert rig.sandbox.wait_for_webhooks(10)
    pending = rig.store.inbox.count_by_status().get("pending", 0)
    assert pending == 5
    assert rig.drain() >= 5
    for m in meetings:
        assert state.meetings[m["id"]]["settings"]["waiting_room"] is True
    assert rig.store.inbox.count_by_status().get("pending", 0) == 0


def test_a_participant_joining_before_the_host_is_alerted_and_the_meeting_fixed(rig: Rig) -> None:
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(
        host, topic="Drop-in", settings={**COMPLIANT, "join_before_host": True}
    )
    assert state.participant_joins_before_host(meeting["id"])
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    assert state.meetings[meeting["id"]]["settings"]["join_before_host"] is False
    assert "meeting.fix_failed" in rig.alert_categories()


def test_a_deleted_meeting_resolves_its_open_findings(rig: Rig) -> None:
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(host, topic="Plan", settings=COMPLIANT)
    state.update_meeting(meeting["id"], {"agenda": "DOB 1990-04-12"})  # report-only finding
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    assert [f.rule_id for f in rig.store.findings.open()] == ["identifying_information"]
    state.delete_meeting(meeting["id"])
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    assert rig.store.findings.open() == []


def test_app_deauthorized_stops_enforcement_and_purges_tokens(rig: Rig) -> None:
    account_id = rig.settings.zoom_account_id
    assert account_id
    connected = rig.store.accounts.by_zoom_id(account_id)
    assert connected is not None
    now = datetime.now(UTC)
    rig.store.occurrences.remember(connected.id, "555", "1700000000000", noted_by="event", now=now)
    rig.store.occurrences.move_cursor(connected.id, "555", "1700000000000", now=now)
    body = {
        "event": "app_deauthorized",
        "event_ts": int(time.time() * 1000),
        "payload": {
            "account_id": account_id,
            "user_id": "owner",
            "signature": "x",
            "deauthorization_time": "2026-11-22T00:00:00Z",
            "client_id": rig.settings.zoom_client_id,
        },
    }
    # Another app's uninstall on the same account says nothing about zoomguard's app.
    other_app = {**body, "payload": {**body["payload"], "client_id": "someone-else"}}
    assert rig.post_signed(other_app) == 200
    rig.drain()
    still = rig.store.accounts.by_zoom_id(account_id)
    assert still is not None
    assert still.status == "active"
    assert "account.deauthorized" not in rig.alert_categories()
    assert set(rig.store.occurrences.known(still.id)) == {"555"}

    assert rig.post_signed(body) == 200
    rig.drain()
    account = rig.store.accounts.by_zoom_id(account_id)
    assert account is not None
    assert account.status == "deauthorized"
    # The officer is told at once, and /healthz says so.
    assert rig.alert_categories().count("account.deauthorized") == 1
    health = check_health(rig.store, rig.settings)
    accounts_check = health.check("accounts")
    assert accounts_check is not None
    assert not accounts_check.ok
    assert not account.has_client_secret
    assert not account.has_access_token
    # What it remembered of the account's recurring meetings went with the findings.
    assert rig.store.occurrences.known(account.id) == {}
    # Events for that account are no longer acted on.
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(host, topic="After", settings=COMPLIANT)
    state.update_meeting(meeting["id"], {"settings": {"waiting_room": False}})
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    assert rig.patches_of(meeting["id"]) == 0


def test_an_event_that_keeps_failing_is_dead_and_the_officer_is_told(rig: Rig) -> None:
    body = {
        "event": "meeting.updated",
        "event_ts": int(time.time() * 1000),
        "payload": {"account_id": rig.settings.zoom_account_id, "object": {"topic": "no id"}},
    }
    assert rig.post_signed(body) == 200
    processed = drain_once(
        rig.store,
        rig.handler,
        worker_id="test-worker",
        max_attempts=1,
        on_dead=on_dead(rig.settings, rig.store),
    )
    assert processed == 1
    dead = rig.store.inbox.dead_events()
    assert [d.event for d in dead] == ["meeting.updated"]
    assert "event.dead" in rig.alert_categories()


def test_a_meeting_over_the_daily_update_budget_is_alerted_as_the_update_cap(rig: Rig) -> None:
    # A budget of 0 (limit 1, reserve 1): the first fix of the day is already over it.
    capped = replace(rig.settings, daily_update_limit=1, daily_update_reserve=1)
    rig.handler.close()
    rig.handler = EventDispatcher(capped, rig.store)
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(host, topic="Planning", settings=COMPLIANT)
    state.update_meeting(meeting["id"], {"settings": {"waiting_room": False}})
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    assert rig.patches_of(meeting["id"]) == 0
    assert state.meetings[meeting["id"]]["settings"]["waiting_room"] is False
    assert rig.alert_categories() == ["meeting.update_cap"]


# What an event may carry that must never reach the database in clear (issue #16, item 1).
PASSCODE = "Zq8pW3xkT"
SIN = "046 454 286"
DOWNLOAD_TOKEN = "dlTOKEN-eyJhbGciOiJIUzUxMiJ9.download-secret"


def _database_bytes(database: Path) -> bytes:
    """The SQLite file and its WAL as they are on disk (a copy of the files would leak too)."""
    files = [database, database.with_name(database.name + "-wal")]
    return b"".join(path.read_bytes() for path in files if path.exists())


def _assert_nothing_sensitive(database: Path, *, topic: str | None = None) -> None:
    stored = _database_bytes(database)
    for secret in (PASSCODE, SIN, SIN.replace(" ", ""), DOWNLOAD_TOKEN):
        assert secret.encode() not in stored, secret
    # The inbox holds no topic text in clear; an alert may hold the topic later, redacted.
    assert topic is None or topic.encode() not in stored


def test_no_passcode_sin_or_download_token_reaches_the_database_files(rig: Rig) -> None:
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    topic = f"Intake for SIN {SIN}"
    meeting = state.add_meeting(host, topic="Plain", settings=COMPLIANT, password=PASSCODE)
    meeting_object = {
        "id": meeting["id"],
        "uuid": meeting["uuid"],
        "topic": topic,
        "password": PASSCODE,
        "pstn_password": PASSCODE,
        "h323_password": PASSCODE,
        "encrypted_password": PASSCODE,
        "join_url": f"https://zoom.us/j/{meeting['id']}?pwd={PASSCODE}",
        "settings": {"waiting_room": False},
    }
    updated = {
        "event": "meeting.updated",
        "event_ts": int(time.time() * 1000),
        "payload": {
            "account_id": rig.settings.zoom_account_id,
            "operator": "host@agency.example",
            "object": meeting_object,
            "old_object": {"id": meeting["id"], "topic": topic, "password": PASSCODE},
        },
    }
    completed = {
        "event": "recording.completed",
        "event_ts": int(time.time() * 1000),
        "download_token": DOWNLOAD_TOKEN,
        "payload": {
            "account_id": rig.settings.zoom_account_id,
            "object": {
                "id": meeting["id"],
                "uuid": "no-such-recording==",
                "topic": topic,
                "host_email": "host@agency.example",
                "password": PASSCODE,
                "recording_play_passcode": PASSCODE,
                "share_url": f"https://zoom.us/rec/share/x?pwd={PASSCODE}",
                "recording_files": [
                    {"id": "f1", "download_url": "https://zoom.us/rec/download/f1"}
                ],
            },
        },
    }
    assert rig.post_signed(updated) == 200
    assert rig.post_signed(completed) == 200
    assert rig.store.inbox.count_by_status()["pending"] == 2
    _assert_nothing_sensitive(rig.database, topic="Intake for")

    assert rig.drain() == 2
    counts = rig.store.inbox.count_by_status()
    assert (counts["done"], counts["pending"], counts["dead"]) == (2, 0, 0)
    with rig.store.transaction() as session:
        assert [row.body for row in session.scalars(select(InboxEvent))] == ["", ""]
    # The events were acted on: the meeting was fixed and the recording alert written.
    assert state.meetings[meeting["id"]]["settings"]["waiting_room"] is True
    assert "recording.completed" in rig.alert_categories()
    _assert_nothing_sensitive(rig.database)


# --- records of a meeting besides its recording (issue #15): when Zoom refuses -------------------


def _alert_of(rig: Rig, category: str) -> dict[str, Any]:
    with rig.store.transaction() as session:
        alert = session.scalars(select(Alert).where(Alert.category == category)).one()
        return dict(alert.details)


def test_ai_companion_zoom_refuses_to_stop_is_still_disabled_and_the_officer_told(
    rig: Rig,
) -> None:
    state = rig.sandbox.state
    meeting = state.add_meeting(state.add_user("host@agency.example"), settings=COMPLIANT)
    # Zoom's 403 2314: the account does not let the app manage AI Companion's questions.
    state.fail_once("PATCH", meeting["id"], status=403, code=2314, message="Not allowed.")
    assert state.start_ai_companion(meeting["id"])
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()

    assert state.live[meeting["id"]].ai_companion == "disabled"  # the disable still went through
    details = _alert_of(rig, "meeting.ai_companion_started")
    assert details["confirmed"] is False
    assert "ai_companion.stop" in details["failure"]
    assert "2314" in details["failure"]
    assert "Ask the host to stop AI Companion" in details["officer_action"]
    assert details["host_email"] == "host@agency.example"
    [(action, confirmed)] = [
        (a.action, a.confirmed) for a in rig.store.audit.recent(10) if a.action.startswith("ai_")
    ]
    assert (action, confirmed) == ("ai_companion.stop", False)


def test_a_passing_zoom_error_does_not_keep_the_live_stream_running(rig: Rig) -> None:
    state = rig.sandbox.state
    meeting = state.add_meeting(state.add_user("host@agency.example"), settings=COMPLIANT)
    state.fail_once("PATCH", f"/v2/meetings/{meeting['id']}/livestream/status", status=500)
    state.start_live_stream(meeting["id"])
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    assert state.live[meeting["id"]].live_stream_service is None
    statuses = [r.status for r in state.request_log() if r.path.endswith("/livestream/status")]
    assert statuses == [500, 204]  # asked again, as Zoom's 5xx may pass
    assert _alert_of(rig, "meeting.live_streaming_started")["confirmed"] is True


def test_a_summary_zoom_cannot_delete_is_left_for_the_officer(rig: Rig) -> None:
    state = rig.sandbox.state
    uuid = "c3VtbWFyeVRlc3RVdWlkMDA="  # the summary is deleted by its instance's UUID
    meeting = state.add_meeting(
        state.add_user("host@agency.example"), uuid=uuid, settings=COMPLIANT
    )
    state.fail_once(
        "DELETE", uuid, status=400, code=2313, message="Failed to delete meeting summary."
    )
    summary = state.complete_summary(meeting["id"])
    assert rig.sandbox.wait_for_webhooks(10)
    rig.drain()
    assert state.summary_for(summary["meeting_uuid"]) is not None
    details = _alert_of(rig, "meeting.summary_completed")
    assert "2313" in details["failure"]
    assert "Delete the meeting summary in the Zoom web portal" in details["officer_action"]
