"""Claims are short and renewed, given back on every way out, and stopping cuts retries short.

Issue 16, items 6 and 9: a killed worker's claims wait at most one short lease; a worker that
stops (SIGTERM) or loses its database gives its claims back instead of stranding them; /healthz
says when events sit in ``processing`` with nobody to take them over.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from zoomguard.config import Settings
from zoomguard.errors import Interrupted, StoreError, ZoomUnavailable
from zoomguard.runtime import worker
from zoomguard.runtime.health import check_health
from zoomguard.store import InboxItem, Store, inbox
from zoomguard.zoom.client import ZoomClient
from zoomguard.zoom.tokens import StaticTokenProvider


def add(store: Store, key: str, now: datetime) -> int:
    event_id, _ = store.inbox.add_event(
        dedupe_key=key,
        event="meeting.updated",
        zoom_account_id="acct",
        event_ts=None,
        body="{}",
        status=inbox.PENDING,
        now=now,
    )
    return event_id


def record(store: Store, event_id: int) -> inbox.InboxRecord:
    found = store.inbox.get_event(event_id)
    assert found is not None
    return found


def test_the_default_lease_is_short() -> None:
    assert worker.DEFAULT_LEASE_SECONDS <= 60


def test_the_claim_of_the_event_in_hand_is_renewed_while_its_handler_runs(store: Store) -> None:
    now = datetime.now(UTC) - timedelta(seconds=1)
    event_id = add(store, "slow", now)
    stolen: list[InboxItem] = []

    def slow_handler(item: InboxItem) -> None:
        # Three leases long: without renewal another worker would take the event over.
        deadline = time.monotonic() + 0.9
        while time.monotonic() < deadline:
            stolen.extend(store.inbox.claim_events("w2", 10, datetime.now(UTC), 0.3))
            time.sleep(0.05)

    worker.drain_once(store, slow_handler, worker_id="w1", lease_seconds=0.3)

    assert stolen == []
    settled = record(store, event_id)
    assert (settled.status, settled.attempts) == ("done", 1)


def test_a_database_outage_while_settling_gives_the_whole_batch_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC) - timedelta(seconds=10)
    ids = [add(store, f"k{n}", now + timedelta(seconds=n)) for n in range(3)]

    def outage(*args: object, **kwargs: object) -> bool:
        raise StoreError("database error: connection refused")

    # The database goes away after the first handler ran: settling it fails, then it is back
    # for the give-back (a short blip, the case the claims must not be stranded by).
    monkeypatch.setattr(store.inbox, "mark_done", outage)
    with pytest.raises(StoreError):
        worker.drain_once(store, lambda item: None, worker_id="w1", batch=3)

    for event_id in ids:
        given_back = record(store, event_id)
        assert given_back.status == "pending"
    assert store.inbox.count_by_status()[inbox.PROCESSING] == 0


def test_a_handler_interrupted_by_stopping_gives_its_event_back_unspent(store: Store) -> None:
    now = datetime.now(UTC) - timedelta(seconds=10)
    ids = [add(store, f"k{n}", now + timedelta(seconds=n)) for n in range(3)]
    stop = threading.Event()

    def handler(item: InboxItem) -> None:
        stop.set()  # SIGTERM while Zoom is being retried: the client gives up
        raise Interrupted("stopping; retry 1 abandoned")

    assert worker.drain_once(store, handler, worker_id="w1", batch=3, stop=stop) == 1
    for event_id in ids:
        given_back = record(store, event_id)
        assert (given_back.status, given_back.attempts, given_back.last_error) == (
            "pending",
            0,
            None,
        )


def test_release_held_gives_back_every_claim_of_one_worker(store: Store) -> None:
    now = datetime.now(UTC)
    ids = [add(store, f"k{n}", now - timedelta(seconds=5)) for n in range(3)]
    store.inbox.claim_events("w1", 2, now, 30)
    store.inbox.claim_events("w2", 1, now, 30)

    assert store.inbox.release_held("w1") == 2

    assert [record(store, event_id).status for event_id in ids] == [
        "pending",
        "pending",
        "processing",
    ]


def test_a_stopping_client_abandons_its_retries_at_once() -> None:
    stop = threading.Event()
    stop.set()
    # Nothing listens on port 9 (discard) of 127.0.0.1: every attempt is a connection error.
    client = ZoomClient(
        "http://127.0.0.1:9/v2",
        StaticTokenProvider("token"),
        max_retries=5,
        backoff_base=20.0,
        stop=stop,
    )
    started = time.monotonic()
    with pytest.raises(Interrupted, match="retry 1 abandoned"):
        client.get_meeting(1)
    assert time.monotonic() - started < 5
    client.close()


def test_healthz_reports_events_stuck_in_processing(store: Store) -> None:
    now = datetime.now(UTC)
    add(store, "orphan", now - timedelta(minutes=10))
    # A worker claimed it for 30 s five minutes ago, then died: nobody has taken it over.
    store.inbox.claim_events("dead-worker", 1, now - timedelta(minutes=5), 30)

    report = check_health(store, Settings(), clock=lambda: now)

    inbox_check = report.check("inbox")
    assert inbox_check is not None
    assert not inbox_check.ok
    assert inbox_check.values["stuck_processing"] == 1
    assert "stuck in processing" in inbox_check.detail


def test_unreachable_zoom_is_still_retried_without_a_stop_event() -> None:
    client = ZoomClient(
        "http://127.0.0.1:9/v2",
        StaticTokenProvider("token"),
        max_retries=2,
        backoff_base=0.01,
    )
    with pytest.raises(ZoomUnavailable, match="after 3 attempts"):
        client.get_meeting(1)
    assert client.stats.snapshot()["retries"] == 2
    client.close()
