"""The webhook inbox on SQLite and PostgreSQL: add, dedupe, claim, lease takeover, settle."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from zoomguard.store import Store, inbox
from zoomguard.store.models import INBOX_STATUSES, InboxEvent

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def add(
    store: Store,
    key: str,
    *,
    event: str = "meeting.created",
    status: str = inbox.PENDING,
    now: datetime = T0,
) -> int:
    event_id, created = store.inbox.add_event(
        dedupe_key=key,
        event=event,
        zoom_account_id="acct",
        event_ts=1_700_000_000_000,
        body=f'{{"event":"{event}","key":"{key}"}}',
        status=status,
        now=now,
    )
    assert created
    return event_id


def row_count(store: Store) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def record(store: Store, event_id: int) -> inbox.InboxRecord:
    found = store.inbox.get_event(event_id)
    assert found is not None
    return found


# --- add_event ------------------------------------------------------------------------------


def test_status_names_match_the_schema() -> None:
    names = (
        inbox.PENDING,
        inbox.PROCESSING,
        inbox.DONE,
        inbox.IGNORED,
        inbox.UNKNOWN_ACCOUNT,
        inbox.DEAD,
    )
    assert names == INBOX_STATUSES


def test_add_event_stores_the_row_and_reports_duplicates(store: Store) -> None:
    first = store.inbox.add_event(
        dedupe_key="k1",
        event="meeting.created",
        zoom_account_id="acct",
        event_ts=123,
        body='{"event":"meeting.created"}',
        status=inbox.PENDING,
        now=T0,
    )
    again = store.inbox.add_event(
        dedupe_key="k1",
        event="meeting.created",
        zoom_account_id="acct",
        event_ts=123,
        body='{"event":"meeting.created"}',
        status=inbox.PENDING,
        now=T0 + timedelta(minutes=5),
    )
    assert first[1] is True
    assert again == (first[0], False)
    stored = record(store, first[0])
    assert (stored.event, stored.status, stored.attempts) == ("meeting.created", "pending", 0)
    assert stored.received_at == T0
    assert stored.next_attempt_at == T0
    assert row_count(store) == 1


def test_add_event_joins_the_callers_transaction_and_survives_a_duplicate(store: Store) -> None:
    add(store, "existing")
    with store.transaction() as session:
        new_id, created = store.inbox.add_event(
            session=session,
            dedupe_key="fresh",
            event="meeting.updated",
            zoom_account_id=None,
            event_ts=None,
            body="{}",
            status=inbox.IGNORED,
            now=T0,
        )
        # The duplicate's IntegrityError is contained in a savepoint: the transaction goes on.
        duplicate = store.inbox.add_event(
            session=session,
            dedupe_key="existing",
            event="meeting.created",
            zoom_account_id=None,
            event_ts=None,
            body="{}",
            status=inbox.PENDING,
            now=T0,
        )
        assert created
        assert duplicate[1] is False
    assert record(store, new_id).status == inbox.IGNORED
    assert row_count(store) == 2


def test_add_event_in_a_rolled_back_transaction_leaves_nothing(store: Store) -> None:
    def add_then_fail() -> None:
        with store.transaction() as session:
            store.inbox.add_event(
                session=session,
                dedupe_key="k",
                event="meeting.created",
                zoom_account_id=None,
                event_ts=None,
                body="{}",
                status=inbox.PENDING,
                now=T0,
            )
            raise RuntimeError("caller failed after adding")

    with pytest.raises(RuntimeError):
        add_then_fail()
    assert row_count(store) == 0


@pytest.mark.parametrize("status", [inbox.PROCESSING, inbox.DONE, inbox.DEAD, "bogus"])
def test_add_event_only_accepts_pending_or_ignored(store: Store, status: str) -> None:
    with pytest.raises(ValueError, match="pending or ignored"):
        add(store, "k", status=status)


def test_concurrent_duplicate_adds_create_exactly_one_row(store: Store) -> None:
    barrier = threading.Barrier(6)

    def deliver(_: int) -> tuple[int, bool]:
        barrier.wait(timeout=10)
        return store.inbox.add_event(
            dedupe_key="same-body-hash",
            event="recording.started",
            zoom_account_id=None,
            event_ts=None,
            body="{}",
            status=inbox.PENDING,
            now=T0,
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(deliver, range(6)))
    assert len({event_id for event_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert row_count(store) == 1


# --- claiming -------------------------------------------------------------------------------


def test_claim_takes_due_pending_events_oldest_first(store: Store) -> None:
    late = add(store, "late", now=T0 + timedelta(seconds=2))
    early = add(store, "early", now=T0)
    add(store, "ignored", status=inbox.IGNORED)
    add(store, "future", now=T0 + timedelta(hours=1))
    now = T0 + timedelta(seconds=10)

    claimed = store.inbox.claim_events("w1", 10, now, lease_seconds=60)

    assert [item.id for item in claimed] == [early, late]
    assert all(item.attempts == 1 for item in claimed)
    assert claimed[0].body == '{"event":"meeting.created","key":"early"}'
    assert (claimed[0].zoom_account_id, claimed[0].event_ts) == ("acct", 1_700_000_000_000)
    with store.transaction() as session:
        row = session.get(InboxEvent, early)
        assert row is not None
        assert (row.status, row.claimed_by) == (inbox.PROCESSING, "w1")
        assert row.claimed_until == now + timedelta(seconds=60)
    # Claimed rows are not handed out again while the lease runs.
    assert store.inbox.claim_events("w2", 10, now + timedelta(seconds=59), 60) == []


def test_claim_respects_the_limit(store: Store) -> None:
    ids = [add(store, f"k{n}", now=T0 + timedelta(seconds=n)) for n in range(5)]
    first = store.inbox.claim_events("w", 2, T0 + timedelta(minutes=1), 60)
    second = store.inbox.claim_events("w", 2, T0 + timedelta(minutes=1), 60)
    assert [item.id for item in first + second] == ids[:4]
    assert store.inbox.claim_events("w", 0, T0 + timedelta(minutes=1), 60) == []


def test_concurrent_claimers_never_get_the_same_event(store: Store) -> None:
    ids = {add(store, f"k{n}") for n in range(60)}
    now = T0 + timedelta(seconds=1)
    barrier = threading.Barrier(4)

    def claimer(worker: int) -> list[int]:
        barrier.wait(timeout=10)
        mine: list[int] = []
        while batch := store.inbox.claim_events(f"w{worker}", 3, now, 300):
            mine.extend(item.id for item in batch)
        return mine

    with ThreadPoolExecutor(max_workers=4) as pool:
        per_worker = list(pool.map(claimer, range(4)))
    everything = [event_id for claimed in per_worker for event_id in claimed]
    assert len(everything) == len(set(everything)), "an event was claimed twice"
    assert set(everything) == ids
    with store.transaction() as session:
        owners = {row.id: row.claimed_by for row in session.scalars(select(InboxEvent))}
    for worker, claimed in enumerate(per_worker):
        assert all(owners[event_id] == f"w{worker}" for event_id in claimed)


def test_an_expired_claim_is_taken_over(store: Store) -> None:
    event_id = add(store, "k")
    [first] = store.inbox.claim_events("dead-worker", 10, T0, lease_seconds=60)
    assert store.inbox.claim_events("w2", 10, T0 + timedelta(seconds=60), 60) == []

    [taken] = store.inbox.claim_events("w2", 10, T0 + timedelta(seconds=61), 60)

    assert (taken.id, first.attempts, taken.attempts) == (event_id, 1, 2)
    # The late original worker can no longer settle it; the new holder can.
    later = T0 + timedelta(seconds=70)
    assert store.inbox.mark_done(event_id, later, worker_id="dead-worker") is False
    assert (
        store.inbox.mark_failed(event_id, "boom", later, max_attempts=5, worker_id="dead-worker")
        is None
    )
    assert store.inbox.mark_done(event_id, later, worker_id="w2") is True
    done = record(store, event_id)
    assert (done.status, done.processed_at) == (inbox.DONE, later)


def test_renew_claim_extends_only_our_own_lease(store: Store) -> None:
    event_id = add(store, "k")
    store.inbox.claim_events("w1", 1, T0, lease_seconds=60)
    assert store.inbox.renew_claim(
        event_id, worker_id="w1", now=T0 + timedelta(seconds=50), lease_seconds=60
    )
    # Renewed until T0+110: still held at T0+100.
    assert store.inbox.claim_events("w2", 1, T0 + timedelta(seconds=100), 60) == []
    assert not store.inbox.renew_claim(event_id, worker_id="w2", now=T0, lease_seconds=60)


def test_release_claims_gives_events_back_unattempted(store: Store) -> None:
    ids = [add(store, f"k{n}") for n in range(3)]
    store.inbox.claim_events("w1", 3, T0, lease_seconds=600)
    assert store.inbox.release_claims(ids[1:], worker_id="other") == 0
    assert store.inbox.release_claims(ids[1:], worker_id="w1") == 2
    again = store.inbox.claim_events("w2", 10, T0, lease_seconds=600)
    assert [(item.id, item.attempts) for item in again] == [(ids[1], 1), (ids[2], 1)]


# --- failure, backoff, dead -----------------------------------------------------------------


def test_exponential_backoff_doubles_up_to_the_cap() -> None:
    backoff = inbox.exponential_backoff(base_seconds=30, factor=2, cap_seconds=100)
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


def test_failure_backs_off_then_dies_after_max_attempts(store: Store) -> None:
    event_id = add(store, "k")
    backoff = inbox.exponential_backoff(base_seconds=10, factor=2, cap_seconds=3600)
    now = T0
    statuses = []
    for attempt in range(1, 4):
        [item] = store.inbox.claim_events("w", 1, now, lease_seconds=60)
        assert item.attempts == attempt
        status = store.inbox.mark_failed(
            event_id, f"boom {attempt}", now, max_attempts=3, backoff=backoff, worker_id="w"
        )
        statuses.append(status)
        if status == inbox.PENDING:
            retry_at = record(store, event_id).next_attempt_at
            assert retry_at == now + backoff(attempt)
            assert store.inbox.claim_events("w", 1, retry_at - timedelta(seconds=1), 60) == []
            now = retry_at

    assert statuses == [inbox.PENDING, inbox.PENDING, inbox.DEAD]
    dead = record(store, event_id)
    assert (dead.status, dead.attempts, dead.last_error) == (inbox.DEAD, 3, "boom 3")
    assert store.inbox.claim_events("w", 1, now + timedelta(days=1), 60) == []
    assert [event.id for event in store.inbox.dead_events()] == [event_id]


def test_mark_failed_keeps_the_error_short(store: Store) -> None:
    event_id = add(store, "k")
    store.inbox.claim_events("w", 1, T0, 60)
    store.inbox.mark_failed(event_id, "x" * 10_000, T0, max_attempts=5)
    assert len(record(store, event_id).last_error or "") == inbox.ERROR_MAX_CHARS


def test_counts_by_status_and_dead_events_for_reports(store: Store) -> None:
    assert store.inbox.count_by_status() == dict.fromkeys(INBOX_STATUSES, 0)
    assert store.inbox.oldest_due_at() is None
    done, dead, busy = (add(store, f"k{n}", now=T0 + timedelta(seconds=n)) for n in range(3))
    add(store, "pending", now=T0 + timedelta(seconds=5))
    add(store, "ignored", status=inbox.IGNORED)
    store.inbox.claim_events("w", 3, T0 + timedelta(seconds=4), 60)
    store.inbox.mark_done(done, T0 + timedelta(seconds=4))
    store.inbox.mark_failed(dead, "gone", T0 + timedelta(seconds=4), max_attempts=1)

    assert store.inbox.count_by_status() == {
        "pending": 1,
        "processing": 1,
        "done": 1,
        "ignored": 1,
        "unknown_account": 0,
        "dead": 1,
    }
    [dead_record] = store.inbox.dead_events(limit=10)
    assert (dead_record.id, dead_record.last_error) == (dead, "gone")
    assert record(store, busy).status == inbox.PROCESSING
    assert store.inbox.oldest_due_at() == T0 + timedelta(seconds=5)
