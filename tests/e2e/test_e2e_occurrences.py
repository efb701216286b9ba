"""Issue #14, occurrences, end to end over HTTP against the sandbox: which occurrences of a
recurring meeting a sweep reads (the next, the remembered, one in rotation), fixed through
``occurrence_id``, and remembered ones forgotten once they have passed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.sandbox_store import ACCOUNT_NAME, COMPLIANT, SandboxStore, sandbox_store
from support.store import sqlite_url
from werkzeug.serving import make_server

from zoomguard.rules import policy
from zoomguard.runtime.worker import drain_once
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.sandbox.model import iso
from zoomguard.sandbox.occurrences import occurrence_view, update_occurrence
from zoomguard.service.events import EventDispatcher, on_dead
from zoomguard.store.models import RememberedOccurrence
from zoomguard.webhooks import create_app


class Rig(SandboxStore):
    def remembered(self) -> list[tuple[str, str, str]]:
        with self.store.transaction() as session:
            rows = session.scalars(select(RememberedOccurrence)).all()
            return sorted((r.meeting_id, r.occurrence_id, r.noted_by) for r in rows)

    def occurrence_reads(self, meeting_id: int, since: int = 0) -> list[str]:
        return [
            r.query.removeprefix("occurrence_id=")
            for r in self.sandbox.state.request_log(since)
            if r.method == "GET"
            and r.path == f"/v2/meetings/{meeting_id}"
            and r.query.startswith("occurrence_id=")
        ]

    def occurrence_patches(self, meeting_id: int, since: int = 0) -> list[str]:
        return [
            r.query.removeprefix("occurrence_id=")
            for r in self.sandbox.state.request_log(since)
            if r.method == "PATCH" and r.path == f"/v2/meetings/{meeting_id}" and r.status == 204
        ]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with (
        SandboxServer(SandboxConfig(webhook_time_scale=0.001)) as sandbox,
        sandbox_store(
            sandbox,
            sqlite_url(tmp_path / "zg.db"),
            Rig,
            check_credentials=True,
            account_name=ACCOUNT_NAME,
        ) as opened,
    ):
        yield opened


def _weekly(rig: Rig, occurrences: int = 6) -> tuple[int, list[str]]:
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(
        host, topic="Weekly support group", type=8, settings=COMPLIANT, occurrences=occurrences
    )
    return meeting["id"], [o["occurrence_id"] for o in meeting["occurrences"]]


def _waiting_room(rig: Rig, meeting_id: int, occurrence_id: str) -> bool:
    state = rig.sandbox.state
    view = occurrence_view(state, state.meetings[meeting_id], occurrence_id)
    assert view is not None
    return bool(view["settings"]["waiting_room"])


def test_an_occurrence_a_single_scope_change_named_is_fixed_by_the_next_sweep(
    rig: Rig, tmp_path: Path
) -> None:
    meeting_id, ids = _weekly(rig)
    # The worker hears of the change in report mode (it reports, changes nothing) ...
    receiver = _receive_webhooks(rig)
    try:
        update_occurrence(
            rig.sandbox.state,
            meeting_id,
            ids[3],
            {"settings": {"waiting_room": False}},
            operator_id=None,
        )
        assert rig.sandbox.wait_for_webhooks(10)
        _drain(rig, policy.Profile(mode="report"))
    finally:
        receiver()
    assert rig.remembered() == [(str(meeting_id), ids[3], "event")]
    assert not _waiting_room(rig, meeting_id, ids[3])
    # ... and the next sweep reads it (not the next one, nor the rotation's) and fixes it.
    since = len(rig.sandbox.state.request_log())
    assert rig.sweep().status == "completed"
    assert rig.occurrence_patches(meeting_id, since) == [ids[3]]
    assert _waiting_room(rig, meeting_id, ids[3])
    reads = rig.occurrence_reads(meeting_id, since)
    assert reads[:2] == [ids[0], ids[3]]  # the next, then the remembered
    assert set(reads) == {ids[0], ids[3], ids[1]}  # and one in rotation: at most 2 + 1


def test_the_rotation_reaches_an_occurrence_no_event_announced(rig: Rig) -> None:
    meeting_id, ids = _weekly(rig, occurrences=5)
    state = rig.sandbox.state
    # Changed behind zoomguard's back: no webhook is configured, so no event arrives.
    update_occurrence(
        state, meeting_id, ids[3], {"settings": {"auto_recording": "cloud"}}, operator_id=None
    )
    rotated: list[str] = []
    for _ in range(3):
        since = len(state.request_log())
        assert rig.sweep().status == "completed"
        reads = rig.occurrence_reads(meeting_id, since)
        assert len(set(reads)) == 2  # the next and one in rotation, nothing remembered
        rotated.append(reads[1])  # after the next one (and before a re-read)
        if rig.occurrence_patches(meeting_id, since):
            break
    # One more occurrence per sweep: the fourth occurrence is reached at the third sweep.
    assert rotated == [ids[1], ids[2], ids[3]]
    assert rig.occurrence_patches(meeting_id, since) == [ids[3]]
    view = occurrence_view(state, state.meetings[meeting_id], ids[3])
    assert view is not None
    assert view["settings"]["auto_recording"] == "none"
    # It differed from its series: remembered, so the next sweep reads it again.
    assert rig.remembered() == [(str(meeting_id), ids[3], "sweep")]
    since = len(state.request_log())
    rig.sweep()
    assert ids[3] in rig.occurrence_reads(meeting_id, since)
    # The rotation wraps round to the start after the last occurrence.
    assert rig.occurrence_reads(meeting_id, since)[-1] == ids[4]
    since = len(state.request_log())
    rig.sweep()
    assert rig.occurrence_reads(meeting_id, since) == [ids[0], ids[3], ids[1]]


def test_remembered_occurrences_are_forgotten_once_past_or_deleted(rig: Rig) -> None:
    meeting_id, ids = _weekly(rig)
    state = rig.sandbox.state
    for occurrence_id in (ids[2], ids[4]):
        rig.store.occurrences.remember(
            rig.account.id, str(meeting_id), occurrence_id, noted_by="event", now=_now()
        )
    # ids[2] has ended (moved into the past), ids[4] is no longer listed.
    with state.lock:
        occurrences: list[dict[str, Any]] = state.meetings[meeting_id]["occurrences"]
        for occurrence in occurrences:
            if occurrence["occurrence_id"] == ids[2]:
                occurrence["start_time"] = iso(_now().replace(year=2020))
        state.meetings[meeting_id]["occurrences"] = [
            o for o in occurrences if o["occurrence_id"] != ids[4]
        ]
    since = len(state.request_log())
    assert rig.sweep().status == "completed"
    assert rig.remembered() == []
    reads = rig.occurrence_reads(meeting_id, since)
    assert ids[2] not in reads
    assert ids[4] not in reads


def test_a_deleted_meeting_is_forgotten_with_its_occurrences(rig: Rig) -> None:
    meeting_id, ids = _weekly(rig)
    rig.store.occurrences.remember(
        rig.account.id, str(meeting_id), ids[1], noted_by="event", now=_now()
    )
    rig.store.occurrences.move_cursor(rig.account.id, str(meeting_id), ids[2], now=_now())
    receiver = _receive_webhooks(rig)
    try:
        assert rig.sandbox.state.delete_meeting(meeting_id, operator_id=None)
        assert rig.sandbox.wait_for_webhooks(10)
        _drain(rig, policy.Profile())
    finally:
        receiver()
    assert rig.remembered() == []
    assert rig.store.occurrences.known(rig.account.id) == {}


def test_a_sweep_reads_nothing_more_for_a_meeting_that_does_not_recur(rig: Rig) -> None:
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(host, topic="Intake", settings=COMPLIANT)
    assert rig.sweep().status == "completed"
    reads = [r for r in state.request_log() if r.path == f"/v2/meetings/{meeting['id']}"]
    assert [(r.method, r.query) for r in reads] == [("GET", "")]


# -- helpers --------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _drain(rig: Rig, profile: policy.Profile) -> None:
    handler = EventDispatcher(rig.settings, rig.store, profile=profile)
    try:
        while drain_once(
            rig.store, handler, worker_id="test-worker", on_dead=on_dead(rig.settings, rig.store)
        ):
            pass
    finally:
        handler.close()


def _receive_webhooks(rig: Rig) -> Callable[[], None]:
    """Start the receiver on a free port and point the sandbox's webhooks at it; returns the
    function that stops it."""
    server = make_server("127.0.0.1", 0, create_app(rig.settings, rig.store), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rig.sandbox.set_webhook_url(f"http://127.0.0.1:{server.server_port}/webhooks/zoom")

    def stop() -> None:
        server.shutdown()
        thread.join(5)

    return stop


def test_a_series_without_options_is_fixed_once_and_its_occurrences_not_for_its_options(
    rig: Rig,
) -> None:
    """No options follow the host's setting, here outsiders only: the series gets custom /
    everyone; an occurrence, which has the series' options and cannot have its own, is PATCHed
    only for its own waiting room."""
    state = rig.sandbox.state
    meeting_id, ids = _weekly(rig)
    host_id = state.meetings[meeting_id]["host_id"]
    state.settings.patch_user(host_id, None, {"participants_to_place_in_waiting_room": 1})
    assert "waiting_room_options" not in state.meetings[meeting_id]["settings"]
    update_occurrence(
        state, meeting_id, ids[0], {"settings": {"waiting_room": False}}, operator_id=None
    )
    since = len(state.request_log())
    assert rig.sweep().status == "completed"
    patches = [
        (r.query, r.body, r.status)
        for r in state.request_log(since)
        if r.method == "PATCH" and r.path == f"/v2/meetings/{meeting_id}"
    ]
    everyone = {"mode": "custom", "who_goes_to_waiting_room": "everyone"}
    assert patches == [
        ("", {"settings": {"waiting_room_options": everyone}}, 204),
        (f"occurrence_id={ids[0]}", {"settings": {"waiting_room": True}}, 204),
    ]
    assert state.meetings[meeting_id]["settings"]["waiting_room_options"] == everyone
    assert _waiting_room(rig, meeting_id, ids[0])
    # The host's setting is read once, for the series; no occurrence needs it.
    reads = [r for r in state.request_log(since) if r.path == f"/v2/users/{host_id}/settings"]
    assert len(reads) == 1
    # The next sweep finds nothing to change, series or occurrence.
    since = len(state.request_log())
    assert rig.sweep().status == "completed"
    assert not [r for r in state.request_log(since) if r.method == "PATCH"]
