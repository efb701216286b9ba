"""The inbox worker: claim due events, call the handler, settle each one. Nothing is dropped.

The handler (``zoomguard.service.events.EventDispatcher``, which hands the event to the listener
declared for it) raises on failure. Any exception marks the event
failed with its message; it is retried after an exponential backoff, and once ``max_attempts``
are used it is dead and ``on_dead`` is called so the privacy officer hears about it. Dead events
stay listed by ``zoomguard.store.inbox.dead_events`` for reports and health checks.

Several workers (threads, processes, machines) may share one database: claims are short leases
(``DEFAULT_LEASE_SECONDS``), renewed by a heartbeat thread while the event is in hand, so a
worker killed mid-event has its events taken over within one lease. Every way out of a batch
(done, a handler error, a database outage, stopping) gives the unstarted claims back. Stopping
is cooperative: the caller sets ``stop`` (the CLI does on SIGTERM/SIGINT); a Zoom client made
with the same ``stop`` abandons its retries (``Interrupted``), the event in hand is given back
unsettled (its attempt not counted) and so is the rest of the batch. Delivery to the handler is
at least once (a worker that dies after the handler succeeded but before recording it leaves the
event to be taken over), so handlers must be idempotent: re-read the meeting, compare, then act.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from zoomguard.errors import Interrupted, StoreError, UnknownAccount
from zoomguard.store import InboxItem, Store, inbox
from zoomguard.store.inbox import DEFAULT_BACKOFF, Backoff

log = logging.getLogger("zoomguard.runtime.worker")

Handler = Callable[[InboxItem], None]
DeadHandler = Callable[[InboxItem, str], None]
Clock = Callable[[], datetime]

# A crashed worker's events wait at most this long before another worker takes them over. A
# live worker renews the claim of the event in hand every third of it (``_ClaimHeartbeat``), so
# a handler that waits out Zoom's retries and rate limits keeps its claim however long it takes.
DEFAULT_LEASE_SECONDS = 30.0
# How long an idle worker waits before looking at the inbox again. It bounds how long a new event
# (a recording that must be stopped) waits before anyone looks at it: at 0.5 s the poll was most
# of the reaction time (benchmarks: p50 240 ms, p95 505 ms from recording.started to the stop
# request; at 0.1 s p50 80 ms, p95 140 ms). An idle poll is one short indexed query.
DEFAULT_POLL_SECONDS = 0.1
# How long a worker waits after the database failed before trying again (doubles up to the cap).
# The cap bounds how long events wait once the database is back: at 60 s a 20 s PostgreSQL
# outage left the worker idle 11 s after it returned (the next try was 16 s after the last),
# and a longer one would leave recordings running up to a minute more. One failed connection
# attempt every 5 s costs the database nothing.
STORE_RETRY_SECONDS = 1.0
STORE_RETRY_CAP_SECONDS = 5.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def default_worker_id(suffix: str = "") -> str:
    """host:pid[:suffix], unique per worker loop, readable in ``inbox_events.claimed_by``."""
    base = f"{socket.gethostname()}:{os.getpid()}"
    return f"{base}:{suffix}" if suffix else base


def _describe(error: BaseException) -> str:
    message = str(error).strip()
    name = type(error).__name__
    return f"{name}: {message}" if message else name


class _ClaimHeartbeat:
    """Renews one event's claim every third of the lease while its handler runs.

    A failed renewal (the database is briefly away) is logged and tried again at the next beat:
    the lease still has two thirds to run. A claim found taken over is not renewed again.
    """

    def __init__(
        self,
        store: Store,
        event_id: int,
        *,
        worker_id: str,
        lease_seconds: float,
        clock: Clock,
    ) -> None:
        self._store = store
        self._event_id = event_id
        self._worker_id = worker_id
        self._lease_seconds = lease_seconds
        self._clock = clock
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"zg-claim-{event_id}", daemon=True)

    def __enter__(self) -> _ClaimHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(self._lease_seconds / 3):
            try:
                still_ours = self._store.inbox.renew_claim(
                    self._event_id,
                    worker_id=self._worker_id,
                    now=self._clock(),
                    lease_seconds=self._lease_seconds,
                )
            except StoreError as exc:
                log.warning("inbox event %d: claim not renewed: %s", self._event_id, exc.message)
                continue
            if not still_ours:
                log.warning("inbox event %d: claim was taken over", self._event_id)
                return


def _give_back(store: Store, event_ids: list[int], worker_id: str) -> None:
    """Release claims we will not finish; a database that is away leaves them to lapse."""
    if not event_ids:
        return
    try:
        released = store.inbox.release_claims(event_ids, worker_id=worker_id)
    except StoreError as exc:
        log.warning(
            "worker %s: could not give back %d events (%s); their claims lapse within the lease",
            worker_id,
            len(event_ids),
            exc.message,
        )
        return
    log.info("worker %s: gave back %d events", worker_id, released)


def _process(
    store: Store,
    item: InboxItem,
    handler: Handler,
    *,
    worker_id: str,
    max_attempts: int,
    lease_seconds: float,
    backoff: Backoff,
    on_dead: DeadHandler | None,
    clock: Clock,
) -> None:
    # The batch was claimed together; renew this event's lease now so a slow predecessor in the
    # batch cannot let it expire while we work on it. False: another worker took it over.
    if not store.inbox.renew_claim(
        item.id, worker_id=worker_id, now=clock(), lease_seconds=lease_seconds
    ):
        log.warning("inbox event %d (%s) was taken over; skipping", item.id, item.event)
        return

    if item.attempts > max_attempts:
        # Claimed more often than allowed without ever failing cleanly: its workers died
        # while processing it. Don't run it again.
        error = f"abandoned: {item.attempts - 1} workers stopped while processing it"
    else:
        try:
            with _ClaimHeartbeat(
                store, item.id, worker_id=worker_id, lease_seconds=lease_seconds, clock=clock
            ):
                handler(item)
        except Interrupted as exc:
            # Stopping (SIGTERM): the handler abandoned its retries. Not the event's fault: give
            # it back with its attempt unused, for another worker to pick up at once.
            log.info("inbox event %d (%s) given back: %s", item.id, item.event, exc)
            _give_back(store, [item.id], worker_id)
            return
        except UnknownAccount as exc:
            # Not a failure to retry: kept as unknown_account for the officer to see.
            if store.inbox.mark_done(
                item.id, clock(), worker_id=worker_id, status=inbox.UNKNOWN_ACCOUNT, note=str(exc)
            ):
                log.warning("inbox event %d (%s): %s", item.id, item.event, exc)
            return
        except Exception as exc:
            error = _describe(exc)
        else:
            if store.inbox.mark_done(item.id, clock(), worker_id=worker_id):
                log.info("inbox event %d (%s) done", item.id, item.event)
            else:
                log.warning("inbox event %d (%s) done, but was taken over", item.id, item.event)
            return

    status = store.inbox.mark_failed(
        item.id,
        error,
        clock(),
        max_attempts=max_attempts,
        backoff=backoff,
        worker_id=worker_id,
    )
    if status == inbox.DEAD:
        log.error(
            "inbox event %d (%s) is dead after %d attempts: %s",
            item.id,
            item.event,
            item.attempts,
            error,
        )
        if on_dead is not None:
            try:
                on_dead(item, error)
            except Exception as exc:
                # The event stays dead in the inbox (dead_events reports it); say so loudly.
                log.error(
                    "inbox event %d: telling about its death failed: %s", item.id, _describe(exc)
                )
    elif status == inbox.PENDING:
        log.warning(
            "inbox event %d (%s) failed (attempt %d of %d), will retry: %s",
            item.id,
            item.event,
            item.attempts,
            max_attempts,
            error,
        )
    else:
        log.warning("inbox event %d (%s) failed, but was taken over", item.id, item.event)


def drain_once(
    store: Store,
    handler: Handler,
    *,
    worker_id: str,
    batch: int = 10,
    max_attempts: int = 5,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    backoff: Backoff = DEFAULT_BACKOFF,
    on_dead: DeadHandler | None = None,
    clock: Clock = utc_now,
    stop: threading.Event | None = None,
) -> int:
    """Process every event due now, batch by batch; returns how many were handed to the handler.

    Events that fail are rescheduled into the future, so this ends once nothing is due. When
    ``stop`` is set the rest of the batch is given back (and the event in hand too, if its
    handler's Zoom client gave up its retries with ``Interrupted``).
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    processed = 0
    while stop is None or not stop.is_set():
        items = store.inbox.claim_events(worker_id, batch, clock(), lease_seconds)
        if not items:
            break
        unstarted = [item.id for item in items]
        try:
            for item in items:
                if stop is not None and stop.is_set():
                    log.info("worker %s stopping", worker_id)
                    return processed
                _process(
                    store,
                    item,
                    handler,
                    worker_id=worker_id,
                    max_attempts=max_attempts,
                    lease_seconds=lease_seconds,
                    backoff=backoff,
                    on_dead=on_dead,
                    clock=clock,
                )
                unstarted.remove(item.id)
                processed += 1
        finally:
            # Stopping, a database outage (StoreError) or a bug: whatever was claimed and not
            # settled (the event in hand included, if settling it failed) goes back now rather
            # than when its lease lapses; handlers are idempotent, so a second run is harmless.
            _give_back(store, unstarted, worker_id)
    return processed


def run_worker(
    store: Store,
    handler: Handler,
    *,
    worker_id: str,
    stop: threading.Event,
    batch: int = 10,
    poll_interval: float = DEFAULT_POLL_SECONDS,
    max_attempts: int = 5,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    backoff: Backoff = DEFAULT_BACKOFF,
    on_dead: DeadHandler | None = None,
    clock: Clock = utc_now,
) -> None:
    """Drain the inbox until ``stop`` is set, polling every ``poll_interval`` seconds when idle.

    A database outage does not end the loop: it is logged and retried with a capped backoff.
    """
    log.info("worker %s started", worker_id)
    store_wait = STORE_RETRY_SECONDS
    # After a database error this loop may still hold claims it could not settle or give back
    # (the event in hand when the database went, the rest of its batch). Between batches it
    # holds nothing on purpose, so once the database answers again they are given back at once
    # rather than waiting out their lease (a recording to stop would wait up to 30 s more).
    may_hold_claims = False
    while not stop.is_set():
        try:
            if may_hold_claims:
                released = store.inbox.release_held(worker_id)
                may_hold_claims = False
                if released:
                    log.info("worker %s: database back, gave back %d events", worker_id, released)
            processed = drain_once(
                store,
                handler,
                worker_id=worker_id,
                batch=batch,
                max_attempts=max_attempts,
                lease_seconds=lease_seconds,
                backoff=backoff,
                on_dead=on_dead,
                clock=clock,
                stop=stop,
            )
        except StoreError as exc:
            may_hold_claims = True
            log.error("worker %s: database unavailable (%s); retrying", worker_id, exc.message)
            stop.wait(store_wait)
            store_wait = min(store_wait * 2, STORE_RETRY_CAP_SECONDS)
            continue
        store_wait = STORE_RETRY_SECONDS
        if processed == 0:
            stop.wait(poll_interval)
    log.info("worker %s stopped", worker_id)
