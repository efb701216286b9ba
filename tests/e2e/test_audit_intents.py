"""Audit before effect (issue 16, item 7): every change zoomguard makes in Zoom is audited once
and alerted once, even when the process dies between the call to Zoom and its record.

- a recording event handled again after its worker died before marking it done changes nothing,
  audits nothing and alerts nothing a second time;
- one whose worker died between removing the recording and recording that is settled by the
  re-run as "already done by zoomguard" (not "unchanged", not "Zoom had no recording");
- a sweep killed between a PATCH and its record leaves an intent; the next sweep re-reads the
  meeting, completes the entry and alerts once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.sandbox_store import COMPLIANT, SandboxStore, sandbox_store
from support.store import sqlite_url

from zoomguard import service
from zoomguard.errors import StoreError
from zoomguard.runtime.worker import drain_once
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.service.enforce import MeetingEnforcer
from zoomguard.service.events import EventDispatcher
from zoomguard.service.events.recordings import ALREADY_DONE
from zoomguard.service.reconcile import RECONCILED_NOTE
from zoomguard.store.models import AuditEntry


class Rig(SandboxStore):
    def drain(self) -> None:
        handler = EventDispatcher(self.settings, self.store)
        try:
            while drain_once(self.store, handler, worker_id="w") > 0:
                pass
        finally:
            handler.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with (
        SandboxServer(SandboxConfig()) as sandbox,
        sandbox_store(sandbox, sqlite_url(tmp_path / "intents.db"), Rig) as opened,
    ):
        yield opened


def test_an_event_handled_again_after_its_worker_died_is_not_acted_on_twice(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    event_id, meeting = rig.completed_recording()
    real_mark_done = rig.store.inbox.mark_done
    outages = [StoreError("database error: the worker lost it before marking the event done")]

    def fails_once(*args: Any, **kwargs: Any) -> bool:
        if outages:
            raise outages.pop()
        return real_mark_done(*args, **kwargs)

    monkeypatch.setattr(rig.store.inbox, "mark_done", fails_once)
    with pytest.raises(StoreError):
        rig.drain()
    assert rig.sandbox.state.recordings[meeting["uuid"]].trashed
    assert rig.store.inbox.get_event(event_id).status == "pending"  # type: ignore[union-attr]

    rig.drain()  # the event is handled a second time

    entries = [(e.action, e.confirmed, e.state, e.event_id) for e in rig.audit()]
    assert entries == [("recording.trash", True, None, event_id)]
    assert [a.category for a in rig.alerts()] == ["recording.completed"]
    assert rig.store.inbox.get_event(event_id).status == "done"  # type: ignore[union-attr]


def test_a_removal_whose_record_was_lost_is_settled_as_already_done_by_zoomguard(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    _event_id, meeting = rig.completed_recording()
    real_record_alert = rig.store.outbox.record_alert
    deaths = [RuntimeError("worker killed between the DELETE and its record")]

    def dies_once(**kwargs: Any) -> int:
        if deaths:
            raise deaths.pop()
        return real_record_alert(**kwargs)

    monkeypatch.setattr(rig.store.outbox, "record_alert", dies_once)
    handler = EventDispatcher(rig.settings, rig.store)
    try:
        [item] = rig.store.inbox.claim_events("w", 1, service.utcnow(), 30)
        with pytest.raises(RuntimeError):
            handler(item)
        # The recording is gone; what is left is the intent written before the call.
        assert rig.sandbox.state.recordings[meeting["uuid"]].trashed
        assert [(e.state, e.detail) for e in rig.audit()] == [
            ("intent", "about to recording.trash (outcome not yet known)")
        ]
        handler(item)  # the retry
    finally:
        handler.close()

    [entry] = rig.audit()
    assert (entry.state, entry.confirmed, entry.detail) == (None, True, ALREADY_DONE)
    assert entry.after == {"recording": "moved to trash"}
    [alert] = rig.alerts()
    assert alert.category == "recording.completed"
    assert alert.details["failure"] is None
    assert alert.details["confirmed"] is True


def test_a_sweep_killed_between_patch_and_record_is_audited_and_alerted_once_by_the_next(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = rig.sandbox.state
    host = state.add_user("host@agency.example")
    meetings = [
        state.add_meeting(host, topic=f"Meeting {n}", settings={**COMPLIANT, "waiting_room": False})
        for n in range(3)
    ]
    victim = str(meetings[1]["id"])
    real_record = MeetingEnforcer.record

    def killed_for_victim(self: MeetingEnforcer, sweep_id: Any, outcome: Any, host: Any) -> None:
        if outcome.evaluation.meeting_id == victim:
            # Stands for the kill, or for a database that went away: nothing after the PATCH is
            # written, and the sweep ends failed.
            raise RuntimeError("killed between the PATCH and its record")
        real_record(self, sweep_id, outcome, host)

    monkeypatch.setattr(MeetingEnforcer, "record", killed_for_victim)
    assert rig.sweep().status == "failed"
    monkeypatch.setattr(MeetingEnforcer, "record", real_record)
    [intent] = [e for e in rig.audit() if e.state == "intent"]
    assert intent.target == f"meeting:{victim}"

    second = rig.sweep()

    assert second.status == "completed"
    assert second.counts.noncompliant == 0  # the victim was fixed by the killed sweep
    by_target: dict[str, list[AuditEntry]] = {}
    for entry in rig.audit():
        by_target.setdefault(entry.target, []).append(entry)
    assert sorted(by_target) == sorted(f"meeting:{m['id']}" for m in meetings)
    assert all(len(entries) == 1 for entries in by_target.values())
    [reconciled] = by_target[f"meeting:{victim}"]
    assert (reconciled.state, reconciled.confirmed) == (None, True)
    assert reconciled.detail == RECONCILED_NOTE
    # Turned on for everyone: without options it would follow a host setting nobody read.
    assert reconciled.after == {
        "settings.waiting_room": True,
        "settings.waiting_room_options.mode": "custom",
        "settings.waiting_room_options.who_goes_to_waiting_room": "everyone",
    }
    fixed_alerts = [a.details["meeting_id"] for a in rig.alerts() if a.category == "meeting.fixed"]
    assert sorted(fixed_alerts) == sorted(str(m["id"]) for m in meetings)
