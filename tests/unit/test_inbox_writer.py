"""The receiver's group commit (InboxWriter) on SQLite and PostgreSQL: every delivery stored once,
duplicates named, a failed batch reported to each of its requests, and the writer recovering."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from zoomguard.errors import StoreError
from zoomguard.store import Store, inbox, inbox_writer
from zoomguard.store.inbox_writer import InboxWriter, _Delivery
from zoomguard.store.models import InboxEvent

T0 = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)


def add(writer: InboxWriter, key: str, **changes: object) -> tuple[int, bool]:
    values: dict[str, object] = {
        "dedupe_key": key,
        "event": "meeting.updated",
        "zoom_account_id": "acct",
        "event_ts": 1_700_000_000_000,
        "body": f"sealed-{key}",
        "status": inbox.PENDING,
        "now": T0,
    }
    values.update(changes)
    return writer.add(**values)  # type: ignore[arg-type]


def rows(store: Store) -> list[InboxEvent]:
    with store.transaction() as session:
        found = list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))
        session.expunge_all()
        return found


@pytest.fixture
def writer(store: Store) -> Iterator[InboxWriter]:
    made = InboxWriter(store.db)
    yield made
    made.close()


def test_a_delivery_is_stored_as_the_store_itself_would_store_it(
    store: Store, writer: InboxWriter
) -> None:
    event_id, created = add(writer, "k1", event="recording.started", status=inbox.PENDING)
    assert created
    (row,) = rows(store)
    assert row.id == event_id
    assert (row.dedupe_key, row.event, row.zoom_account_id, row.event_ts) == (
        "k1",
        "recording.started",
        "acct",
        1_700_000_000_000,
    )
    assert (row.body, row.status, row.attempts) == ("sealed-k1", inbox.PENDING, 0)
    # Timestamps go through the column's own type: aware UTC, microseconds kept.
    assert row.received_at == T0
    assert row.next_attempt_at == T0
    # The worker can claim what the writer stored.
    claimed = store.inbox.claim_events("w1", 10, T0, lease_seconds=30)
    assert [item.id for item in claimed] == [event_id]


def test_concurrent_deliveries_are_each_stored_once_and_duplicates_get_the_stored_id(
    store: Store, writer: InboxWriter
) -> None:
    keys = [f"key-{index % 30}" for index in range(60)]  # every key twice
    start = threading.Barrier(20)

    def deliver(key: str) -> tuple[str, int, bool]:
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait(timeout=5)
        event_id, created = add(writer, key)
        return key, event_id, created

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(deliver, keys))

    stored = rows(store)
    assert sorted(row.dedupe_key for row in stored) == sorted(set(keys))
    id_of = {row.dedupe_key: row.id for row in stored}
    for key, event_id, _ in results:
        assert event_id == id_of[key]
    created_per_key = {key: sum(1 for k, _, c in results if k == key and c) for key in set(keys)}
    assert set(created_per_key.values()) == {1}


def test_one_batch_stores_distinct_keys_once_and_names_repeats_and_earlier_rows(
    store: Store, writer: InboxWriter
) -> None:
    earlier_id, _ = add(writer, "stored-before")
    # Queue the deliveries before the writer takes them, so they form one batch.
    deliveries = [
        _Delivery(
            inbox.new_event_row(
                dedupe_key=key,
                event="meeting.updated",
                zoom_account_id="acct",
                event_ts=None,
                body="",
                status=inbox.IGNORED,
                now=T0,
            )
        )
        for key in ("a", "b", "a", "stored-before", "c")
    ]
    fresh = InboxWriter(store.db)
    try:
        for delivery in deliveries:
            fresh._queue.put(delivery)
        fresh._ensure_started()
        for delivery in deliveries:
            assert delivery.done.acquire(timeout=10)
    finally:
        fresh.close()
    results = [delivery.result for delivery in deliveries]
    assert all(delivery.error is None for delivery in deliveries)
    a_first, b, a_again, before, c = results
    assert a_first is not None
    assert a_first[1] is True
    assert a_again == (a_first[0], False)
    assert before == (earlier_id, False)
    assert b is not None
    assert b[1]
    assert c is not None
    assert c[1]
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 4


def test_a_failed_batch_is_reported_to_its_request_and_the_writer_recovers(
    store: Store, writer: InboxWriter
) -> None:
    add(writer, "before")
    with store.db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE inbox_events RENAME TO inbox_events_away"))
    try:
        with pytest.raises(StoreError):
            add(writer, "during")
    finally:
        with store.db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE inbox_events_away RENAME TO inbox_events"))
    _, created = add(writer, "after")
    assert created
    assert [row.dedupe_key for row in rows(store)] == ["before", "after"]


def test_a_request_stops_waiting_when_the_database_does_not_answer(sqlite_store: Store) -> None:
    writer = InboxWriter(sqlite_store.db)
    blocker = sqlite_store.db.engine.raw_connection()
    try:
        cursor = blocker.cursor()
        cursor.execute("BEGIN IMMEDIATE")  # holds SQLite's write lock
        with pytest.raises(StoreError) as caught:
            add(writer, "late", wait_seconds=0.3)
        assert caught.value.reason == "store_timeout"
        blocker.rollback()
    finally:
        blocker.close()
    # Once the lock is gone the queued delivery is stored; Zoom's resend is a duplicate of it.
    event_id, created = add(writer, "late")
    assert not created
    assert [row.id for row in rows(sqlite_store)] == [event_id]
    writer.close()


def test_a_closed_writer_refuses_new_deliveries(store: Store) -> None:
    writer = InboxWriter(store.db)
    add(writer, "one")
    writer.close()
    with pytest.raises(StoreError):
        add(writer, "two")
    with pytest.raises(ValueError, match="pending or ignored"):
        add(InboxWriter(store.db), "three", status=inbox.DONE)


def test_the_writers_connection_goes_back_to_the_pool_as_it_came(store: Store) -> None:
    # The writer runs its INSERTs in autocommit; the pool's other users run transactions.
    engine = store.db.engine
    engine.dispose()  # an empty pool: afterwards it holds only the writer's connection
    writer = InboxWriter(store.db)
    add(writer, "one")
    writer.close()
    assert engine.pool.checkedin() == 1  # type: ignore[attr-defined]
    connection = engine.raw_connection()
    try:
        driver = connection.driver_connection
        if engine.dialect.name == "postgresql":
            assert driver.autocommit is False  # type: ignore[union-attr]
        else:
            assert driver.isolation_level is None  # type: ignore[union-attr]  # base.py's own
    finally:
        connection.close()
    with store.transaction() as session:
        session.add(
            InboxEvent(
                **inbox.new_event_row(
                    dedupe_key="rolled-back",
                    event="x",
                    zoom_account_id=None,
                    event_ts=None,
                    body="",
                    status=inbox.PENDING,
                    now=T0,
                )
            )
        )
        session.rollback()
    assert [row.dedupe_key for row in rows(store)] == ["one"]


def test_on_sqlite_the_writer_leaves_checkpoints_to_its_checkpointer(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer's commits never pay for a checkpoint; the checkpointer copies the WAL back and,
    # past the threshold, lets it start again from its beginning (it does not grow for ever).
    monkeypatch.setattr(inbox_writer, "CHECKPOINT_SECONDS", 0.05)
    monkeypatch.setattr(inbox_writer, "CHECKPOINT_FINISH_FRAMES", 0)
    engine = sqlite_store.db.engine
    engine.dispose()
    writer = InboxWriter(sqlite_store.db)

    def wal_frames() -> int:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            frames = int(cursor.fetchone()[1])
            cursor.close()
            return frames
        finally:
            connection.close()

    for index in range(40):
        add(writer, f"grow-{index}")
    grown = wal_frames()
    assert grown > 0
    time.sleep(0.5)  # the checkpointer has copied everything (twice over)
    add(writer, "after")  # a write after a complete checkpoint starts the WAL again
    assert wal_frames() < grown
    writer.close()
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 1000  # the pool's connections checkpoint as before
        cursor.close()
    finally:
        connection.close()
