"""Recording intents whose event will never run again are settled by reconciliation (issue 16).

A recording reaction writes its audit intent before calling Zoom; a re-run of its event settles
it. When the event is done or dead instead (its workers died, or it ran out of attempts), no
re-run comes, and ``zoomguard.service.reconcile`` settles the intent against the sandbox Zoom:

- a removal Zoom made (the recording is gone when read again) is completed and alerted once,
  by the next sweep;
- a removal Zoom never received (the recording is still there) is closed as not made, no alert;
- a stop, which Zoom cannot read back, is closed as "unconfirmed" with one alert to check;
- an intent whose event is still pending is left to the event's own re-run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.sandbox_store import COMPLIANT, SandboxStore, sandbox_store
from support.store import sqlite_url

from zoomguard import service
from zoomguard.runtime.worker import drain_once
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.service.events import EventDispatcher
from zoomguard.service.reconcile import (
    REMOVED_NOTE,
    STILL_THERE_NOTE,
    STOP_UNCONFIRMED_NOTE,
    ReconcileResult,
    reconcile_intents,
)
from zoomguard.zoom.client import ZoomClient


class Rig(SandboxStore):
    def drain_with_one_attempt(self) -> None:
        """The worker's loop, with a single attempt: an event that fails once is dead."""
        handler = EventDispatcher(self.settings, self.store)
        try:
            drain_once(self.store, handler, worker_id="w", max_attempts=1)
        finally:
            handler.close()

    def reconcile(self) -> ReconcileResult:
        with service.client_for_account(self.settings, self.store, self.account) as client:
            return reconcile_intents(
                self.settings, self.store, lambda _account: client, now=service.utcnow()
            )


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with (
        SandboxServer(SandboxConfig()) as sandbox,
        sandbox_store(sandbox, sqlite_url(tmp_path / "reconcile.db"), Rig) as opened,
    ):
        yield opened


def completed_recording(rig: Rig) -> tuple[int, int, str]:
    """(inbox event id, meeting id, recording uuid) of a recording.completed event."""
    event_id, meeting = rig.completed_recording()
    return event_id, meeting["id"], meeting["uuid"]


def kill_once(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, why: str) -> None:
    """``owner.name`` raises once (the worker dying at that point), then behaves again."""
    real = getattr(owner, name)
    deaths = [RuntimeError(why)]

    def dies_once(*args: Any, **kwargs: Any) -> Any:
        if deaths:
            raise deaths.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, dies_once)


def test_a_removal_made_before_its_event_died_is_audited_and_alerted_once_by_the_next_sweep(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    event_id, meeting_id, uuid = completed_recording(rig)
    kill_once(monkeypatch, rig.store.outbox, "record_alert", "killed between DELETE and record")
    rig.drain_with_one_attempt()
    assert rig.sandbox.state.recordings[uuid].trashed  # Zoom made the change
    assert rig.store.inbox.get_event(event_id).status == "dead"  # type: ignore[union-attr]
    assert [e.state for e in rig.audit()] == ["intent"]  # and nothing will re-run it

    for _ in range(2):  # the second sweep finds nothing left to settle
        assert rig.sweep().status == "completed"

    [entry] = rig.audit()
    assert (entry.action, entry.state, entry.confirmed) == ("recording.trash", None, True)
    assert entry.detail == REMOVED_NOTE
    assert entry.after == {"recording": "moved to trash"}
    assert entry.before["instance"] == uuid
    [alert] = rig.alerts()
    assert alert.category == "recording.completed"
    assert alert.details["meeting_id"] == str(meeting_id)
    assert (alert.details["confirmed"], alert.details["failure"]) == (True, None)


def test_a_removal_zoom_never_received_is_closed_as_not_made(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    _event_id, _meeting_id, uuid = completed_recording(rig)
    kill_once(monkeypatch, ZoomClient, "delete_recordings", "killed before the DELETE was sent")
    rig.drain_with_one_attempt()
    assert not rig.sandbox.state.recordings[uuid].trashed

    assert rig.reconcile() == ReconcileResult(completed=0, not_made=1)
    assert rig.reconcile() == ReconcileResult()

    [entry] = rig.audit()
    assert (entry.state, entry.confirmed, entry.detail) == ("abandoned", False, STILL_THERE_NOTE)
    assert rig.alerts() == []  # nothing was changed; the dead event is the officer's news


def test_a_stop_whose_event_died_is_closed_unconfirmed_with_one_alert(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(host, topic="Case conference", settings=COMPLIANT)
    state.start_recording(meeting["id"])
    event_id = rig.add_event(
        "recording.started", {"id": meeting["id"], "uuid": f"uuid-{meeting['id']}"}
    )
    kill_once(monkeypatch, rig.store.outbox, "record_alert", "killed between stop and record")
    rig.drain_with_one_attempt()
    assert state.live[meeting["id"]].recording_state == "stopped"
    assert rig.store.inbox.get_event(event_id).status == "dead"  # type: ignore[union-attr]

    assert rig.reconcile() == ReconcileResult(completed=1)
    assert rig.reconcile() == ReconcileResult()

    [entry] = rig.audit()
    assert (entry.action, entry.state, entry.confirmed) == ("recording.stop", None, None)
    assert entry.after == {"recording": "unconfirmed"}
    assert entry.detail == STOP_UNCONFIRMED_NOTE
    [alert] = rig.alerts()
    assert alert.category == "recording.started"
    assert alert.details["confirmed"] is None
    assert "still being recorded" in alert.details["officer_action"]


def test_an_intent_whose_event_will_run_again_is_left_to_that_run(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    event_id, _meeting_id, uuid = completed_recording(rig)
    kill_once(monkeypatch, rig.store.outbox, "record_alert", "killed between DELETE and record")
    handler = EventDispatcher(rig.settings, rig.store)
    try:
        drain_once(rig.store, handler, worker_id="w", max_attempts=5)
        assert rig.store.inbox.get_event(event_id).status == "pending"  # type: ignore[union-attr]
        # Even long after, reconciliation leaves it: the event's retry inherits the intent.
        later = service.utcnow() + timedelta(hours=1)
        with service.client_for_account(rig.settings, rig.store, rig.account) as client:
            result = reconcile_intents(rig.settings, rig.store, lambda _a: client, now=later)
        assert result == ReconcileResult()
        assert [e.state for e in rig.audit()] == ["intent"]
        assert rig.alerts() == []
    finally:
        handler.close()
    assert rig.sandbox.state.recordings[uuid].trashed
