"""The inbox worker: every due event reaches the handler; failures retry, then die loudly."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from support.webhooks import SECRET, event_body, meeting_event, signed_headers
from werkzeug.serving import make_server

from zoomguard.config import Settings
from zoomguard.errors import StoreError
from zoomguard.runtime import worker
from zoomguard.service.events.stored_body import from_store
from zoomguard.store import InboxItem, Store, inbox
from zoomguard.webhooks import create_app

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Recorder:
    """A handler that records what it saw and fails while told to."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.seen: list[InboxItem] = []
        self.failures = failures
        self.error = error or RuntimeError("Zoom answered 500")
        self.lock = threading.Lock()

    def __call__(self, item: InboxItem) -> None:
        with self.lock:
            self.seen.append(item)
            if self.failures:
                self.failures -= 1
                raise self.error


def add(store: Store, key: str, now: datetime = T0) -> int:
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


def status_of(store: Store, event_id: int) -> inbox.InboxRecord:
    found = store.inbox.get_event(event_id)
    assert found is not None
    return found


def test_events_posted_while_no_worker_runs_are_all_processed_by_drain_once(
    store: Store,
) -> None:
    client = create_app(Settings(zoom_webhook_secret_token=SECRET), store).test_client()
    bodies = [meeting_event("meeting.created", meeting_id=n) for n in range(1, 6)]
    bodies += [bodies[0], event_body("meeting.participant_left", object={})]
    for body in bodies:
        response = client.post("/webhooks/zoom", data=body, headers=signed_headers(body))
        assert response.status_code == 200
    handler = Recorder()

    processed = worker.drain_once(store, handler, worker_id="w1", batch=2)

    assert processed == 5
    seen = [from_store(item.body, store.db.vault) for item in handler.seen]
    assert sorted(seen, key=str) == sorted((json.loads(b) for b in bodies[:5]), key=str)
    assert store.inbox.count_by_status() == {
        "pending": 0,
        "processing": 0,
        "done": 5,
        "ignored": 1,
        "unknown_account": 0,
        "dead": 0,
    }
    assert worker.drain_once(store, handler, worker_id="w1") == 0


def test_a_failed_event_is_retried_after_its_backoff(store: Store) -> None:
    event_id = add(store, "k")
    clock = FakeClock()
    handler = Recorder(failures=1)
    backoff = inbox.exponential_backoff(base_seconds=30)

    assert worker.drain_once(store, handler, worker_id="w", clock=clock, backoff=backoff) == 1
    failed = status_of(store, event_id)
    assert (failed.status, failed.last_error) == ("pending", "RuntimeError: Zoom answered 500")
    assert failed.next_attempt_at == T0 + timedelta(seconds=30)

    clock.advance(seconds=29)
    assert worker.drain_once(store, handler, worker_id="w", clock=clock, backoff=backoff) == 0
    clock.advance(seconds=1)
    assert worker.drain_once(store, handler, worker_id="w", clock=clock, backoff=backoff) == 1

    done = status_of(store, event_id)
    assert (done.status, done.attempts, done.last_error) == ("done", 2, None)
    assert [item.attempts for item in handler.seen] == [1, 2]


def test_an_event_that_keeps_failing_dies_and_the_officer_is_told(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    event_id = add(store, "k")
    clock = FakeClock()
    handler = Recorder(failures=99, error=ValueError("meeting 123 cannot be updated"))
    deaths: list[tuple[InboxItem, str]] = []

    for _ in range(5):
        worker.drain_once(
            store,
            handler,
            worker_id="w",
            max_attempts=3,
            on_dead=lambda item, error: deaths.append((item, error)),
            clock=clock,
        )
        clock.advance(hours=2)

    assert len(handler.seen) == 3
    [(item, error)] = deaths
    assert (item.id, item.attempts) == (event_id, 3)
    assert error == "ValueError: meeting 123 cannot be updated"
    dead = status_of(store, event_id)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert [event.id for event in store.inbox.dead_events()] == [event_id]
    assert "is dead after 3 attempts" in caplog.text


def test_a_failing_on_dead_is_logged_and_the_batch_goes_on(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = add(store, "a"), add(store, "b", now=T0 + timedelta(seconds=1))
    handler = Recorder(failures=1)

    def broken_alert(item: InboxItem, error: str) -> None:
        raise OSError("smtp down")

    processed = worker.drain_once(
        store,
        handler,
        worker_id="w",
        max_attempts=1,
        on_dead=broken_alert,
        clock=FakeClock(T0 + timedelta(seconds=5)),
    )

    assert processed == 2
    assert (status_of(store, first).status, status_of(store, second).status) == ("dead", "done")
    assert "telling about its death failed: OSError: smtp down" in caplog.text


def test_an_event_whose_workers_keep_dying_is_not_run_again(store: Store) -> None:
    event_id = add(store, "k")
    clock = FakeClock()
    for _ in range(3):  # three workers claimed it and were killed before settling it
        assert store.inbox.claim_events("doomed", 1, clock(), lease_seconds=60)
        clock.advance(seconds=61)
    handler = Recorder()
    deaths: list[str] = []

    worker.drain_once(
        store,
        handler,
        worker_id="w",
        max_attempts=3,
        on_dead=lambda item, error: deaths.append(error),
        clock=clock,
    )

    assert handler.seen == []
    assert status_of(store, event_id).status == "dead"
    assert deaths == ["abandoned: 3 workers stopped while processing it"]


def test_stop_finishes_the_event_in_hand_and_gives_the_rest_back(store: Store) -> None:
    ids = [add(store, f"k{n}", now=T0 + timedelta(seconds=n)) for n in range(4)]
    stop = threading.Event()

    def handler(item: InboxItem) -> None:
        stop.set()  # SIGTERM arrives while the first event is being handled

    processed = worker.drain_once(
        store, handler, worker_id="w", batch=4, stop=stop, clock=FakeClock(T0 + timedelta(1))
    )

    assert processed == 1
    assert status_of(store, ids[0]).status == "done"
    for event_id in ids[1:]:
        given_back = status_of(store, event_id)
        assert (given_back.status, given_back.attempts) == ("pending", 0)


def test_an_event_taken_over_mid_batch_is_left_to_its_new_owner(store: Store) -> None:
    ids = [add(store, f"k{n}", now=T0 + timedelta(seconds=n)) for n in range(3)]
    clock = FakeClock(T0 + timedelta(seconds=2))
    taken: list[InboxItem] = []
    handled: list[int] = []

    def slow_handler(item: InboxItem) -> None:
        # Each event takes 40 s of a 60 s lease. Each one's lease is renewed when its turn
        # comes, but the third's runs out while the first two are handled: w2 takes it over.
        handled.append(item.id)
        clock.advance(seconds=40)
        taken.extend(store.inbox.claim_events("w2", 10, clock(), lease_seconds=60))

    worker.drain_once(store, slow_handler, worker_id="w1", lease_seconds=60, clock=clock)

    assert handled == ids[:2]
    assert [item.id for item in taken] == [ids[2]]
    assert [status_of(store, event_id).status for event_id in ids] == [
        "done",
        "done",
        "processing",
    ]
    assert status_of(store, ids[2]).attempts == 2


def test_drain_once_refuses_an_empty_batch(store: Store) -> None:
    with pytest.raises(ValueError, match="batch"):
        worker.drain_once(store, Recorder(), worker_id="w", batch=0)


@pytest.fixture
def receiver(store: Store) -> Iterator[str]:
    app = create_app(Settings(zoom_webhook_secret_token=SECRET), store)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/webhooks/zoom"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def wait_for(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_run_worker_processes_events_as_they_arrive_and_stops_on_request(
    store: Store, receiver: str
) -> None:
    handler = Recorder()
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run_worker,
        args=(store, handler),
        kwargs={"worker_id": "w", "stop": stop, "poll_interval": 0.05},
    )
    thread.start()
    try:
        for n in range(3):
            body = meeting_event("recording.started", meeting_id=n)
            response = requests.post(receiver, data=body, headers=signed_headers(body), timeout=5)
            assert response.status_code == 200
        assert wait_for(lambda: len(handler.seen) == 3)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert store.inbox.count_by_status()["done"] == 3


def test_run_worker_survives_a_database_outage(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    add(store, "k", now=datetime.now(UTC) - timedelta(seconds=1))
    real_claim = store.inbox.claim_events
    outages = [StoreError("database error: connection refused")]

    def flaky_claim(*args: object, **kwargs: object) -> list[InboxItem]:
        if outages:
            raise outages.pop()
        return real_claim(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.inbox, "claim_events", flaky_claim)
    monkeypatch.setattr(worker, "STORE_RETRY_SECONDS", 0.01)
    handler = Recorder()
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run_worker,
        args=(store, handler),
        kwargs={"worker_id": "w", "stop": stop, "poll_interval": 0.02},
    )
    with caplog.at_level(logging.ERROR, logger="zoomguard.runtime.worker"):
        thread.start()
        try:
            assert wait_for(lambda: len(handler.seen) == 1)
        finally:
            stop.set()
            thread.join(timeout=5)
    assert "database unavailable (database error: connection refused)" in caplog.text


def test_claims_a_database_outage_stranded_are_given_back_when_it_returns(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database goes while the event is in hand: its handler's own write fails, and so do
    # marking it failed and giving it back. When the database answers again, the loop gives the
    # claim back at once and runs the event again, long before its 30 s lease would lapse.
    event_id = add(store, "k", now=datetime.now(UTC) - timedelta(seconds=1))
    real_mark_failed = store.inbox.mark_failed
    real_release = store.inbox.release_claims
    down = threading.Event()
    down.set()

    def unless_down(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if down.is_set():
                raise StoreError("database error: connection refused")
            return real(*args, **kwargs)

        return call

    def release_then_recover(*args: Any, **kwargs: Any) -> Any:
        if down.is_set():
            down.clear()  # the database is back right after the give-back failed
            raise StoreError("database error: connection refused")
        return real_release(*args, **kwargs)

    monkeypatch.setattr(store.inbox, "mark_failed", unless_down(real_mark_failed))
    monkeypatch.setattr(store.inbox, "release_claims", release_then_recover)
    monkeypatch.setattr(worker, "STORE_RETRY_SECONDS", 0.01)
    runs: list[int] = []

    def handler(item: InboxItem) -> None:
        runs.append(item.id)
        if len(runs) == 1:
            raise StoreError("database error: the connection was lost mid-event")

    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run_worker,
        args=(store, handler),
        kwargs={"worker_id": "w", "stop": stop, "poll_interval": 0.02},
    )
    thread.start()
    try:
        assert wait_for(lambda: status_of(store, event_id).status == inbox.DONE)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert runs == [event_id, event_id]
    # The failed run was the database's fault, not the event's: its attempt was given back.
    assert status_of(store, event_id).attempts == 1


def test_default_worker_id_names_host_process_and_loop() -> None:
    assert worker.default_worker_id() == f"{socket.gethostname()}:{os.getpid()}"
    assert worker.default_worker_id("t2").endswith(f":{os.getpid()}:t2")
