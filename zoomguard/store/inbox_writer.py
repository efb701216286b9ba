"""Group commit for the webhook receiver: many deliveries, one INSERT that commits them all.

Each webhook the receiver answers 200 must be in the database first (Zoom does not deliver it
again), so every request waits for a commit. Committed one by one, the requests of a web process
queue for the database's write lock (SQLite has one per file; on PostgreSQL each COMMIT is a
round trip and a WAL flush), and the thread holding the lock competes for the GIL with every
other request thread each time the driver hands the GIL back: profiled under wrk, the receiver
spent half its time waiting in that convoy and managed a quarter of a Flask hello-world's rate
(docs/benchmarks.md). Here the request threads hand their row to one writer thread and wait; the
writer takes whatever has queued up (up to ``MAX_BATCH``), stores it with one multi-row
``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING RETURNING`` run in autocommit (one statement,
its own transaction: committed when it ends, with no BEGIN or COMMIT to send), and wakes each
request with its row's id. The writer talks to the driver directly, on one connection of the
engine's pool that it keeps: SQLAlchemy's execution layer (checkout, events, compilation of a
multi-row statement, result wrapping) cost more CPU per webhook than the rest of the request;
the column values still go through the columns' own bind processors, so what is stored is what
the ORM would store. Under light load a batch is one row and nothing waits longer than before; under
a burst the cost of a commit is shared by the batch.

The promise to Zoom is unchanged: a request learns its id only after the statement that holds its
row has committed; if the batch fails, every request in it gets the error (503: Zoom delivers
again) and nothing of the batch is kept (but for a race with a purge, ``_Writer._write``).
Duplicates (a Zoom retry of a stored delivery, or the same body twice in one batch) get the id
of the row that holds their key, as ``Inbox.add_event`` does.

On SQLite the writer never checkpoints: its connection runs with ``wal_autocheckpoint=0``, and a
checkpointer thread of its own copies the WAL back into the database in the background
(``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection, at most every ``CHECKPOINT_SECONDS``
after a write). With SQLite's automatic checkpoint, the commit that crossed 1,000 WAL pages paid
for copying them and for both of the checkpoint's fsyncs before its batch was answered: in the
ingest benchmark that was the receiver's p99 at 500/s (docs/benchmarks.md). A passive checkpoint
takes no lock a writer waits for, so batches keep committing while it runs. The WAL can only start
again from its beginning when a write finds every frame already copied, which a steady stream of
writes during each checkpoint can prevent; so once the WAL holds more than
``CHECKPOINT_FINISH_FRAMES`` frames, the checkpointer copies the last few with the writer held
between two batches. Durability is SQLite's own either way: a commit is in the WAL (synchronous
NORMAL) before its request is answered, and the checkpoint only moves committed pages.

One writer per web process, started with the first delivery (nothing runs at import time) and
stopped by ``close``; a daemon thread, so a process that is killed or exits takes it along, and the
deliveries it had not committed were never answered 200.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

from zoomguard.errors import StoreError
from zoomguard.store.database import Database
from zoomguard.store.inbox import IGNORED, PENDING, new_event_row
from zoomguard.store.models import InboxEvent

log = logging.getLogger(__name__)

# Rows per INSERT: well under SQLite's 32,766 bound parameters (9 a row) and more than a web
# process has requests in flight (WEB_THREADS).
MAX_BATCH = 64
# A request gives up waiting after this long (503, Zoom delivers again; Zoom itself waits 3 s).
WAIT_SECONDS = 10.0
# The writer gives its connection back to the pool after this long without a delivery, so a
# quiet web process holds no database connection.
IDLE_SECONDS = 30.0
# Writer threads on PostgreSQL (see InboxWriter). Two overlapped one writer's COMMIT round
# trip with the other's next batch; since a batch is one statement in autocommit (one round
# trip), a second writer only split the batches: with one, less CPU per webhook and more
# answered (docs/benchmarks.md).
POSTGRES_WRITERS = 1
# SQLite: how often, at most, the checkpointer copies the WAL back after a write (seconds), and
# the WAL's size (frames, a page each) past which it copies the last frames with the writer held.
# 10,000 frames of 4 KiB: a WAL of about 40 MiB; at a steady 500 webhooks/s (about 4 frames
# each) the writer waits for one such copy (two fsyncs, about 15 ms here) every 5 s, where
# SQLite's own checkpoint cost it about 20 ms every second.
CHECKPOINT_SECONDS = 0.5
CHECKPOINT_FINISH_FRAMES = 10_000
# SQLite's own default, restored on the writer's connection before it goes back to the pool.
_SQLITE_AUTOCHECKPOINT = 1000

_TABLE_NAME = InboxEvent.__tablename__
_TABLE = InboxEvent.__table__
_COLUMNS = (
    "dedupe_key",
    "event",
    "zoom_account_id",
    "event_ts",
    "received_at",
    "body",
    "status",
    "attempts",
    "next_attempt_at",
)


class _Delivery:
    """One request's row and how the writer answers it (a plain class with slots: one is made
    per webhook, and a dataclass's generated ``__init__`` with a default factory costs more)."""

    __slots__ = ("done", "error", "result", "row")

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        # Held until the writer is done with the row: a bare lock is the cheapest way to wake
        # one waiting thread (threading.Event is a Condition and a lock in Python code).
        self.done = threading.Lock()
        self.done.acquire()
        self.result: tuple[int, bool] | None = None
        self.error: BaseException | None = None


class InboxWriter:
    """Stores the receiver's deliveries in batches; ``add`` returns once its row is committed."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._sql = _Statements(db.engine)
        self._engine = db.engine
        self._max_batch = max_batch
        # PostgreSQL can take several writers (two transactions inserting different keys do not
        # wait on each other); SQLite has one write lock per file, so a second writer would only
        # queue.
        self._writers = POSTGRES_WRITERS if db.engine.dialect.name == "postgresql" else 1
        # Held by a writer while it runs a batch, so the checkpointer can finish between two.
        self._batch_lock = threading.Lock()
        self._checkpointer = (
            _Checkpointer(db.engine, self._batch_lock) if self._sql.checkpoints_itself else None
        )
        self._queue: queue.SimpleQueue[_Delivery | None] = queue.SimpleQueue()
        self._start_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def add(
        self,
        *,
        dedupe_key: str,
        event: str,
        zoom_account_id: str | None,
        event_ts: int | None,
        body: str,
        status: str,
        now: datetime,
        wait_seconds: float = WAIT_SECONDS,
    ) -> tuple[int, bool]:
        """``(id, created)`` of the delivery once committed, as ``Inbox.add_event``; raises
        ``StoreError`` when the database failed or did not answer within ``wait_seconds``."""
        if status not in (PENDING, IGNORED):
            raise ValueError(f"a new inbox event is pending or ignored, not {status!r}")
        delivery = _Delivery(
            new_event_row(
                dedupe_key=dedupe_key,
                event=event,
                zoom_account_id=zoom_account_id,
                event_ts=event_ts,
                body=body,
                status=status,
                now=now,
            )
        )
        self._ensure_started()
        self._queue.put(delivery)
        if not delivery.done.acquire(timeout=wait_seconds):
            raise StoreError("inbox: the database did not answer in time", reason="store_timeout")
        if delivery.error is not None:
            if isinstance(delivery.error, StoreError):
                raise delivery.error
            raise StoreError(
                f"inbox: batch not stored ({type(delivery.error).__name__})",
                reason="store_unavailable",
            ) from delivery.error
        assert delivery.result is not None
        return delivery.result

    def close(self, timeout: float = 5.0) -> None:
        """Store what is queued, then stop the writer threads and give their connections back."""
        with self._start_lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)  # one stop for each writer
        for thread in threads:
            thread.join(timeout)
        if self._checkpointer is not None:
            self._checkpointer.stop(timeout)

    def _ensure_started(self) -> None:
        if self._threads:
            return
        with self._start_lock:
            if self._closed:
                raise StoreError("inbox: the writer is closed", reason="store_unavailable")
            if not self._threads:
                for index in range(self._writers):
                    writer = _Writer(
                        self._engine,
                        self._sql,
                        self._queue,
                        self._max_batch,
                        self._batch_lock,
                        self._checkpointer,
                    )
                    thread = threading.Thread(
                        target=writer.run, name=f"inbox-writer-{index}", daemon=True
                    )
                    thread.start()
                    self._threads.append(thread)
                if self._checkpointer is not None:
                    self._checkpointer.start()


class _Writer:
    """One writer thread's loop and its connection (taken from the engine's pool, kept while
    deliveries come, given back after ``IDLE_SECONDS`` without any, dropped when it fails)."""

    def __init__(
        self,
        engine: Engine,
        sql: _Statements,
        deliveries: queue.SimpleQueue[_Delivery | None],
        max_batch: int,
        batch_lock: threading.Lock,
        checkpointer: _Checkpointer | None,
    ) -> None:
        self._engine = engine
        self._sql = sql
        self._queue = deliveries
        self._max_batch = max_batch
        self._batch_lock = batch_lock
        self._checkpointer = checkpointer
        self._connection: PoolProxiedConnection | None = None

    def run(self) -> None:
        try:
            while True:
                try:
                    first = self._queue.get(timeout=IDLE_SECONDS)
                except queue.Empty:
                    self._drop_connection(broken=False)
                    continue
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < self._max_batch:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.append(more)
                self._store(batch)
                if stop:
                    return
        finally:
            self._drop_connection(broken=False)

    def _store(self, batch: list[_Delivery]) -> None:
        try:
            with self._batch_lock:
                results = self._write([delivery.row for delivery in batch])
        except Exception as error:  # every waiting request must hear of it, whatever it is
            log.error(
                "inbox: a batch of %d deliveries not stored: %s", len(batch), type(error).__name__
            )
            self._drop_connection(broken=True)
            for delivery in batch:
                delivery.error = error
                delivery.done.release()
            return
        if self._checkpointer is not None:
            self._checkpointer.wrote = True
        for delivery, result in zip(batch, results, strict=True):
            delivery.result = result
            delivery.done.release()

    def _write(self, rows: list[dict[str, Any]]) -> list[tuple[int, bool]]:
        """One INSERT for the batch's distinct keys and, when some were already stored, one
        SELECT for their rows; committed. The ``(id, created)`` of each row, in order; only the
        first row of a key repeated within the batch can be the one created."""
        first_of_key: dict[str, dict[str, Any]] = {}
        for row in rows:
            first_of_key.setdefault(row["dedupe_key"], row)
        if self._connection is None:
            self._connection = self._engine.raw_connection()
            self._sql.take(self._connection)
        connection = self._connection
        cursor = self._sql.cursor(connection)
        try:
            sql, parameters = self._sql.insert(first_of_key.values())
            # One statement in autocommit is its own transaction: all of the batch or none of
            # it, committed when the statement ends (on SQLite, when its RETURNING rows have
            # been read). BEGIN and COMMIT of their own were two more driver calls per batch
            # (on PostgreSQL two more round trips), each a wait for the GIL on the way back.
            cursor.execute(sql, parameters)
            created = {key: int(row_id) for row_id, key in cursor.fetchall()}
            held = [key for key in first_of_key if key not in created]
            existing: dict[str, int] = {}
            if held:
                cursor.execute(self._sql.find(len(held)), held)
                existing = {key: int(row_id) for key, row_id in cursor.fetchall()}
                if len(existing) < len(held):
                    # The row that held a key was deleted (a purge) between the two statements:
                    # the batch is answered 503; its new rows are kept, and Zoom's retries of
                    # them are answered as duplicates.
                    raise StoreError(
                        "inbox: a duplicate's row vanished meanwhile", reason="store_conflict"
                    )
        except BaseException:
            connection.rollback()
            raise
        finally:
            cursor.close()
        results: list[tuple[int, bool]] = []
        for row in rows:
            key = row["dedupe_key"]
            if key in created:
                results.append((created[key], first_of_key[key] is row))
            else:
                results.append((existing[key], False))
        return results

    def _drop_connection(self, *, broken: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if not broken:
                try:
                    self._sql.give_back(connection)
                except Exception:  # a connection that cannot be reset is not given back
                    broken = True
            if broken:
                # It may be dead (a database restart): the pool must not hand it out again.
                connection.invalidate()
            else:
                connection.close()  # back to the pool
        except Exception as error:  # closing a dead connection can itself fail
            log.warning("inbox: writer connection not closed cleanly: %s", type(error).__name__)


class _Statements:
    """The writer's SQL for one engine, spelled in its driver's parameter style, the cursor to
    run it on, and the columns' bind processors (what SQLAlchemy would apply to each value)."""

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        # PostgreSQL: psycopg's RawCursor takes the server's own $n placeholders and sends the
        # query as it is. Its ordinary cursor parses every query for %s in Python and caches
        # the result only up to 50 parameters, so each multi-row INSERT (9 a row) was parsed
        # again: a tenth of the receiver's CPU under load.
        self._numbered = dialect.name == "postgresql"
        # SQLite in a file: the writer leaves checkpoints to a _Checkpointer (in memory there
        # is no WAL).
        database = engine.url.database or ""
        self.checkpoints_itself = dialect.name == "sqlite" and database not in ("", ":memory:")
        self._placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
        # One processor per distinct column type, so that a row's two timestamps (received_at and
        # next_attempt_at, both the moment of receipt) share one and ``insert`` converts that
        # moment once.
        by_type: dict[str, Callable[[Any], Any] | None] = {}
        for name in _COLUMNS:
            column_type = _TABLE.c[name].type
            if repr(column_type) not in by_type:
                by_type[repr(column_type)] = column_type.bind_processor(dialect)
        self._processors = [by_type[repr(_TABLE.c[name].type)] for name in _COLUMNS]
        # Built from the model's own names and placeholders only; every value is a parameter.
        self._insert_head = f"INSERT INTO {_TABLE_NAME} ({', '.join(_COLUMNS)}) VALUES "  # noqa: S608
        self._insert_tail = " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key"
        self._inserts: dict[int, str] = {}
        self._finds: dict[int, str] = {}

    def take(self, connection: PoolProxiedConnection) -> None:
        """Set up a connection the writer has taken from the pool: in autocommit, so each
        batch's INSERT is its own transaction. SQLite's driver runs in autocommit already
        (zoomguard.store.base); psycopg's is switched, and back in ``give_back``."""
        if self._numbered:
            _driver(connection).autocommit = True
        elif self.checkpoints_itself:
            _pragma(connection, "PRAGMA wal_autocheckpoint=0")

    def give_back(self, connection: PoolProxiedConnection) -> None:
        """Undo ``take`` before the connection goes back to the pool (whose other users run
        transactions)."""
        if self._numbered:
            _driver(connection).autocommit = False
        elif self.checkpoints_itself:
            _pragma(connection, f"PRAGMA wal_autocheckpoint={_SQLITE_AUTOCHECKPOINT}")

    def cursor(self, connection: PoolProxiedConnection) -> Any:
        if self._numbered:
            from psycopg import RawCursor  # only a PostgreSQL engine gets here

            return RawCursor(_driver(connection))
        return connection.cursor()

    def _marks(self, first: int, count: int) -> str:
        """``count`` placeholders, numbered from ``first`` where the driver numbers them."""
        if self._numbered:
            return ", ".join(f"${number}" for number in range(first, first + count))
        return ", ".join([self._placeholder] * count)

    def insert(self, rows: Iterable[dict[str, Any]]) -> tuple[str, list[Any]]:
        parameters: list[Any] = []
        count = 0
        for row in rows:
            count += 1
            # The last value converted, and by which processor: the same object through the
            # same processor again is not converted again.
            last_process: Callable[[Any], Any] | None = None
            last_value: Any = None
            converted: Any = None
            for name, process in zip(_COLUMNS, self._processors, strict=True):
                value = row[name]
                if process is None:
                    parameters.append(value)
                    continue
                if process is not last_process or value is not last_value:
                    last_process, last_value, converted = process, value, process(value)
                parameters.append(converted)
        sql = self._inserts.get(count)
        if sql is None:
            width = len(_COLUMNS)
            values = ", ".join(
                f"({self._marks(index * width + 1, width)})" for index in range(count)
            )
            sql = self._insert_head + values + self._insert_tail
            self._inserts[count] = sql
        return sql, parameters

    def find(self, count: int) -> str:
        sql = self._finds.get(count)
        if sql is None:
            marks = self._marks(1, count)
            sql = f"SELECT dedupe_key, id FROM {_TABLE_NAME} WHERE dedupe_key IN ({marks})"  # noqa: S608
            self._finds[count] = sql
        return sql


class _Checkpointer:
    """SQLite only: copies the WAL back into the database off the writer's thread (see the
    module's docstring). Its own connection from the pool, given back after ``IDLE_SECONDS``
    without a write."""

    def __init__(self, engine: Engine, batch_lock: threading.Lock) -> None:
        self._engine = engine
        self._batch_lock = batch_lock
        # Set by a writer after each batch (a plain attribute: no lock, no wake-up per batch).
        self.wrote = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: PoolProxiedConnection | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inbox-checkpoint", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        idle = 0.0
        try:
            while not self._stopping.wait(CHECKPOINT_SECONDS):
                if not self.wrote:
                    idle += CHECKPOINT_SECONDS
                    if idle >= IDLE_SECONDS:
                        self._drop_connection()
                    continue
                self.wrote = False
                idle = 0.0
                try:
                    self._checkpoint()
                except Exception as error:  # the writer's own commits do not depend on it
                    log.warning("inbox: WAL checkpoint failed: %s", type(error).__name__)
                    self._drop_connection(broken=True)
            if self.wrote:
                self._checkpoint()  # what the last batches wrote, before the process goes
        except Exception as error:
            log.warning("inbox: WAL checkpoint failed: %s", type(error).__name__)
        finally:
            self._drop_connection()

    def _checkpoint(self) -> None:
        if self._connection is None:
            self._connection = self._engine.raw_connection()
        frames = self._passive()
        if frames > CHECKPOINT_FINISH_FRAMES:
            # The batches committed during the copy left frames behind it, and the WAL only
            # starts again from its beginning when a write finds none left: copy those few
            # between two batches (a short wait for the writer).
            with self._batch_lock:
                self._passive()

    def _passive(self) -> int:
        """One passive checkpoint; the WAL's frames when it began (all copied unless a reader
        still needed some)."""
        assert self._connection is not None
        cursor = self._connection.cursor()
        try:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            row = cursor.fetchone()
        finally:
            cursor.close()
        assert row is not None  # busy, WAL frames, frames copied
        return int(row[1])

    def _drop_connection(self, *, broken: bool = False) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if broken:
                connection.invalidate()
            else:
                connection.close()
        except Exception as error:
            log.warning("inbox: checkpoint connection not closed: %s", type(error).__name__)


def _pragma(connection: PoolProxiedConnection, statement: str) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


def _driver(connection: PoolProxiedConnection) -> Any:
    """The driver's own connection behind a pool connection."""
    driver = connection.driver_connection
    if driver is None:  # a pool connection that was invalidated
        raise StoreError("inbox: no driver connection", reason="store_unavailable")
    return driver
