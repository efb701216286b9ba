"""The webhook inbox (``inbox_events``): the receiver adds, workers claim, process and settle.

Life of a row::

    pending ──claim──▶ processing ──mark_done──▶ done
       ▲                  │  │
       └──mark_failed─────┘  └──mark_failed (attempts used up)──▶ dead
    ignored   (an event type zoomguard does not handle: stored for the record, never claimed)

Which events are handled is the caller's to say (the receiver asks the service's event registry,
``zoomguard.service.events.HANDLED_EVENTS``): the store knows rows, not events.

A claim is a lease: ``claimed_until`` passes when a worker dies mid-event, and the row becomes
claimable again. ``attempts`` counts claims, so an event that keeps killing its worker still runs
out of attempts. Claiming takes the rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL (concurrent workers skip each other's rows instead of waiting); on SQLite every
transaction is ``BEGIN IMMEDIATE`` (zoomguard.store.base), so claimers run one at a time. The
UPDATE repeats the "is it due" test either way, so a row is never claimed twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from zoomguard.errors import StoreError
from zoomguard.store.database import Database, rowcount
from zoomguard.store.models import INBOX_STATUSES, InboxEvent
from zoomguard.store.records import InboxItem, InboxRecord, inbox_record

PENDING = "pending"
PROCESSING = "processing"
DONE = "done"
IGNORED = "ignored"
# For a Zoom account zoomguard does not know: kept and shown, never silently marked done.
UNKNOWN_ACCOUNT = "unknown_account"
DEAD = "dead"

URL_VALIDATION_EVENT = "endpoint.url_validation"

# last_error is for people reading a report: long enough for a message, not for a dump.
ERROR_MAX_CHARS = 2000


Backoff = Callable[[int], timedelta]


def exponential_backoff(
    base_seconds: float = 30.0, factor: float = 2.0, cap_seconds: float = 3600.0
) -> Backoff:
    """Delay before retry after the ``attempts``-th failure: base, base*factor, ... up to cap."""

    def delay(attempts: int) -> timedelta:
        seconds = base_seconds * factor ** max(0, attempts - 1)
        return timedelta(seconds=min(seconds, cap_seconds))

    return delay


# 1, 2, 4, 8 minutes: with 5 attempts an event is given up about 15 minutes after it came.
DEFAULT_BACKOFF: Backoff = exponential_backoff(base_seconds=60.0)


def new_event_row(
    *,
    dedupe_key: str,
    event: str,
    zoom_account_id: str | None,
    event_ts: int | None,
    body: str,
    status: str,
    now: datetime,
) -> dict[str, Any]:
    """The column values of a delivery just received (``Inbox.add_event``, ``InboxWriter``)."""
    return {
        "dedupe_key": dedupe_key,
        "event": event,
        "zoom_account_id": zoom_account_id,
        "event_ts": event_ts,
        "received_at": now,
        "body": body,
        "status": status,
        "attempts": 0,
        "next_attempt_at": now,
    }


def _insert_event(db: Session | Connection, values: dict[str, Any]) -> tuple[int, bool]:
    dialect = db.get_bind().dialect.name if isinstance(db, Session) else db.dialect.name
    new_id = db.execute(_insert_statement(dialect), values).scalar()
    if new_id is not None:
        return int(new_id), True
    existing = db.execute(_FIND_BY_KEY, {"key": values["dedupe_key"]}).scalar()
    if existing is None:
        # The row that held the key was deleted (a purge) between the two statements: the
        # receiver answers 503 and Zoom delivers again.
        raise StoreError("inbox: a duplicate's row vanished meanwhile", reason="store_conflict")
    return int(existing), False


_FIND_BY_KEY = select(InboxEvent.id).where(InboxEvent.dedupe_key == bindparam("key"))
_INSERT_STATEMENTS: dict[str, Executable] = {}


def _insert_statement(dialect: str) -> Executable:
    """``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING RETURNING id``, built once per dialect
    (SQLite and PostgreSQL spell it the same) and executed with the row's values."""
    stmt = _INSERT_STATEMENTS.get(dialect)
    if stmt is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(InboxEvent)
            .on_conflict_do_nothing(index_elements=[InboxEvent.dedupe_key])
            .returning(InboxEvent.id)
        )
        _INSERT_STATEMENTS[dialect] = stmt
    return stmt


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(InboxEvent.status == PENDING, InboxEvent.next_attempt_at <= now),
        # A worker that died (or hung) past its lease: take its claim over.
        and_(InboxEvent.status == PROCESSING, InboxEvent.claimed_until < now),
    )


def _ours(event_id: int, worker_id: str | None) -> ColumnElement[bool]:
    # A worker whose lease ran out may still finish: it must not settle a row someone else now
    # holds. Without a worker_id (admin tools) any processing row may be settled.
    condition = and_(InboxEvent.id == event_id, InboxEvent.status == PROCESSING)
    if worker_id is not None:
        condition = and_(condition, InboxEvent.claimed_by == worker_id)
    return condition


# One per process: see Inbox.add_event.
_SQLITE_RECEIVERS = threading.Lock()


class Inbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_event(
        self,
        *,
        dedupe_key: str,
        event: str,
        zoom_account_id: str | None,
        event_ts: int | None,
        body: str,
        status: str,
        now: datetime,
        session: Session | None = None,
    ) -> tuple[int, bool]:
        """Store one delivery; ``(id, created)``, where ``created`` is False for a duplicate.

        The unique ``dedupe_key`` decides: one ``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id`` (SQLite and PostgreSQL spell it the same); when a concurrent or earlier
        delivery holds the key nothing is inserted and that row's id is returned. No savepoint is
        needed, so the caller's transaction is never disturbed by a duplicate. With a ``session``
        the caller's transaction is joined (and not committed); without one the row is committed
        before this returns. One prebuilt Core statement rather than an ORM flush in a savepoint.
        The webhook receiver stores its deliveries through ``InboxWriter`` (inbox_writer.py), which
        commits the deliveries of concurrent requests together; this is for one row at a time.
        """
        if status not in (PENDING, IGNORED):
            raise ValueError(f"a new inbox event is pending or ignored, not {status!r}")
        values = new_event_row(
            dedupe_key=dedupe_key,
            event=event,
            zoom_account_id=zoom_account_id,
            event_ts=event_ts,
            body=body,
            status=status,
            now=now,
        )
        if session is not None:
            return _insert_event(session, values)
        if self._db.engine.dialect.name == "sqlite":
            # Concurrent callers queue here, waking as soon as the previous INSERT commits,
            # rather than in SQLite's busy handler, which sleeps in steps of up to 100 ms while
            # another connection holds the write lock: 4 threads managed 150 webhooks/s that way.
            with _SQLITE_RECEIVERS, self._db.connection() as connection:
                return _insert_event(connection, values)
        with self._db.connection() as connection:
            return _insert_event(connection, values)

    def claim_events(
        self, worker_id: str, limit: int, now: datetime, lease_seconds: float
    ) -> list[InboxItem]:
        """Claim up to ``limit`` due events for ``worker_id`` until ``now + lease_seconds``.

        Oldest due first. Commits before returning, so other workers see the claims at once.
        """
        if limit <= 0:
            return []
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        with self._db.transaction() as session:
            candidates = session.scalars(
                select(InboxEvent.id)
                .where(_due(now))
                .order_by(InboxEvent.next_attempt_at, InboxEvent.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not candidates:
                return []
            claimed = session.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(candidates), _due(now))
                .values(
                    status=PROCESSING,
                    claimed_by=worker_id,
                    claimed_until=now + timedelta(seconds=lease_seconds),
                    attempts=InboxEvent.attempts + 1,
                )
                .returning(
                    InboxEvent.id,
                    InboxEvent.event,
                    InboxEvent.body,
                    InboxEvent.attempts,
                    InboxEvent.zoom_account_id,
                    InboxEvent.event_ts,
                )
                .execution_options(synchronize_session=False)
            ).all()
        order = {event_id: position for position, event_id in enumerate(candidates)}
        items = [
            InboxItem(
                id=row.id,
                event=row.event,
                body=row.body,
                attempts=row.attempts,
                zoom_account_id=row.zoom_account_id,
                event_ts=row.event_ts,
            )
            for row in claimed
        ]
        return sorted(items, key=lambda item: order[item.id])

    def renew_claim(
        self, event_id: int, *, worker_id: str, now: datetime, lease_seconds: float
    ) -> bool:
        """Extend our lease on one event before working on it; False if it is no longer ours."""
        stmt = (
            update(InboxEvent)
            .where(_ours(event_id, worker_id))
            .values(claimed_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        with self._db.transaction() as session:
            return rowcount(session.execute(stmt)) == 1

    def release_claims(self, event_ids: Sequence[int], *, worker_id: str) -> int:
        """Give claimed but unstarted events back (a worker stopping): pending, attempt not used."""
        if not event_ids:
            return 0
        stmt = (
            update(InboxEvent)
            .where(
                InboxEvent.id.in_(list(event_ids)),
                InboxEvent.status == PROCESSING,
                InboxEvent.claimed_by == worker_id,
            )
            .values(
                status=PENDING,
                claimed_by=None,
                claimed_until=None,
                attempts=InboxEvent.attempts - 1,
            )
            .execution_options(synchronize_session=False)
        )
        with self._db.transaction() as session:
            return rowcount(session.execute(stmt))

    def release_held(self, worker_id: str) -> int:
        """Give back every claim ``worker_id`` holds (a process stopping with an event still in
        hand): pending again, the attempt not counted; it can no longer settle them."""
        stmt = (
            update(InboxEvent)
            .where(InboxEvent.status == PROCESSING, InboxEvent.claimed_by == worker_id)
            .values(
                status=PENDING,
                claimed_by=None,
                claimed_until=None,
                attempts=InboxEvent.attempts - 1,
            )
            .execution_options(synchronize_session=False)
        )
        with self._db.transaction() as session:
            return rowcount(session.execute(stmt))

    def stuck_processing(self, lapsed_before: datetime) -> int:
        """Events still ``processing`` under a claim that ran out before ``lapsed_before``: their
        worker died or hung, and no other worker has taken them over since."""
        query = select(func.count()).where(
            InboxEvent.status == PROCESSING, InboxEvent.claimed_until < lapsed_before
        )
        with self._db.transaction() as session:
            return int(session.scalar(query) or 0)

    def mark_done(
        self,
        event_id: int,
        now: datetime,
        *,
        worker_id: str | None = None,
        status: str = DONE,
        note: str | None = None,
    ) -> bool:
        """The handler succeeded (``done``), or the event concerns an account zoomguard does not
        know (``unknown_account``, with a ``note`` for the report). False if the row was not (or
        no longer) ours to settle."""
        if status not in (DONE, UNKNOWN_ACCOUNT):
            raise ValueError(f"an event is settled as {DONE} or {UNKNOWN_ACCOUNT}, not {status!r}")
        stmt = (
            update(InboxEvent)
            .where(_ours(event_id, worker_id))
            .values(
                status=status,
                body="",  # settled: nothing will read it again, so nothing of it is kept
                processed_at=now,
                claimed_by=None,
                claimed_until=None,
                last_error=None if note is None else note[:ERROR_MAX_CHARS],
            )
            .execution_options(synchronize_session=False)
        )
        with self._db.transaction() as session:
            return rowcount(session.execute(stmt)) == 1

    def mark_failed(
        self,
        event_id: int,
        error: str,
        now: datetime,
        *,
        max_attempts: int,
        backoff: Backoff = DEFAULT_BACKOFF,
        worker_id: str | None = None,
    ) -> str | None:
        """The handler failed: retry after ``backoff(attempts)``, or ``dead`` once attempts are
        used.

        Returns the new status (``pending`` or ``dead``), or None if the row was not ours to settle.
        ``error`` is stored for the report: it must not contain a secret.
        """
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        with self._db.transaction() as session:
            row = session.scalars(
                select(InboxEvent).where(_ours(event_id, worker_id)).with_for_update()
            ).first()
            if row is None:
                return None
            row.last_error = error[:ERROR_MAX_CHARS]
            row.claimed_by = None
            row.claimed_until = None
            if row.attempts >= max_attempts:
                row.status = DEAD
                row.body = ""  # given up: the dead-event alert was made from the claimed copy
                row.processed_at = now
            else:
                row.status = PENDING
                row.next_attempt_at = now + backoff(row.attempts)
            return row.status

    def dead_events(self, limit: int = 100) -> list[InboxRecord]:
        """Events that used up their attempts, most recently given up first."""
        return self.settled_as(DEAD, limit)

    def unknown_account_events(self, limit: int = 100) -> list[InboxRecord]:
        """Events for a Zoom account zoomguard does not know, most recent first."""
        return self.settled_as(UNKNOWN_ACCOUNT, limit)

    def settled_as(self, status: str, limit: int = 100) -> list[InboxRecord]:
        query = (
            select(InboxEvent)
            .where(InboxEvent.status == status)
            .order_by(InboxEvent.processed_at.desc(), InboxEvent.id.desc())
            .limit(limit)
        )
        with self._db.transaction() as session:
            return [inbox_record(row) for row in session.scalars(query)]

    def get_event(self, event_id: int) -> InboxRecord | None:
        with self._db.transaction() as session:
            row = session.get(InboxEvent, event_id)
            return None if row is None else inbox_record(row)

    def count_by_status(self) -> dict[str, int]:
        """How many events are in each status; every status is present, 0 when none."""
        counts = dict.fromkeys(INBOX_STATUSES, 0)
        query = select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
        with self._db.transaction() as session:
            for status, count in session.execute(query):
                counts[status] = int(count)
        return counts

    def oldest_due_at(self) -> datetime | None:
        """When the oldest pending event became due (for a health check's "backlog age")."""
        query = select(func.min(InboxEvent.next_attempt_at)).where(InboxEvent.status == PENDING)
        with self._db.transaction() as session:
            value = session.scalar(query)
        return value
