"""Use cases: the only module that combines zoom, store, notify and policy.

A sweep lists every active user first (pages of 2,000, the most Zoom allows, so the users' page
token is never held while meetings are worked through: Zoom's page tokens expire after 15
minutes), then every scheduled meeting of each user (pages of 300), reads each meeting's
settings, evaluates it, and fixes what it may with at most one PATCH per meeting, then re-reads the
meeting so that only a fix Zoom actually kept is counted. Listing and meeting work run on two
thread pools so that the sweep is bounded by Zoom's per-second rate limits (enforced inside
ZoomClient), not by round-trip latency; the meeting pool is bounded so memory stays flat however
many meetings an account has (the user list itself is small: a few hundred bytes per user).

A sweep that could not list the users, or the meetings of a user, or read most meetings, ends
``incomplete``, not ``completed``: its error names the cause (the missing scope by name, from
``zoomguard/zoom/scopes.py``, when Zoom answers code 4711), the officer is alerted at once, and
its findings do not close anything the sweep did not see.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from zoomguard.config import Settings
from zoomguard.errors import (
    Interrupted,
    SweepBusy,
    ZoomAPIError,
    ZoomAuthError,
    ZoomGuardError,
    ZoomNotFound,
    ZoomScopeMissing,
)
from zoomguard.notify import categories
from zoomguard.rules import policy
from zoomguard.service.clients import Clock, holder_id, utcnow
from zoomguard.service.enforce import MeetingEnforcer
from zoomguard.store import AccountRecord, Store, SweepCounts
from zoomguard.store.models import SWEEP_COMPLETED, SWEEP_INCOMPLETE
from zoomguard.zoom import scopes
from zoomguard.zoom.client import MAX_PAGE_SIZE, MAX_USERS_PAGE_SIZE, ZoomClient

log = logging.getLogger(__name__)

SWEEP_LEASE_SECONDS = 15 * 60
# A gap that is not a cause of its own: the scope to list meetings is missing for every user.
_LISTING_REFUSED = "listing refused"


@dataclass
class SweepProgress:
    """Live counts, updated from worker threads under a lock."""

    users: int = 0
    meetings: int = 0
    compliant: int = 0
    noncompliant: int = 0
    fixed: int = 0
    failed: int = 0
    exempt: int = 0
    reported: int = 0
    patches: int = 0
    skipped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def counts(self) -> SweepCounts:
        with self._lock:
            return SweepCounts(
                users=self.users,
                meetings=self.meetings,
                compliant=self.compliant,
                noncompliant=self.noncompliant,
                fixed=self.fixed,
                failed=self.failed,
                exempt=self.exempt,
                reported=self.reported,
                patches=self.patches,
            )


@dataclass(frozen=True)
class SweepResult:
    sweep_id: int
    account: AccountRecord
    status: str
    counts: SweepCounts
    skipped: int
    seconds: float
    error: str | None = None


class Sweeper:
    """Sweeps one account. Thread pools are created per sweep and torn down after it."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: ZoomClient,
        account: AccountRecord,
        *,
        profile: policy.Profile,
        dry_run: bool = False,
        actor: str = "sweep",
        stop: threading.Event | None = None,
        on_progress: Callable[[SweepProgress], None] | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.account = account
        self.profile = profile
        self.dry_run = dry_run
        self.actor = actor
        self.stop = stop or threading.Event()
        self.on_progress = on_progress
        self.clock = clock
        self.progress = SweepProgress()
        self.enforcer = MeetingEnforcer(
            settings,
            store,
            client,
            account,
            profile=profile,
            dry_run=dry_run,
            actor=actor,
            clock=clock,
        )
        self._errors: list[BaseException] = []
        self._errors_lock = threading.Lock()
        # Why the sweep is incomplete (first cause of each kind), and the meetings it could
        # not read; under _errors_lock.
        self._gaps: dict[str, str] = {}
        self._unreadable = 0

    # The public entry point -------------------------------------------------------------------

    def run(self) -> SweepResult:
        started = self.clock()
        holder = holder_id()
        lease = f"sweep:{self.account.id}"
        if not self.store.leases.acquire(lease, holder, SWEEP_LEASE_SECONDS, started):
            raise SweepBusy(f"account {self.account.zoom_account_id} is being swept elsewhere")
        try:
            self.store.sweeps.mark_stale_running(started, account_pk=self.account.id)
            sweep_id = self.store.sweeps.start(
                self.account.id, self.dry_run, started, holder=holder
            )
            status, error = SWEEP_COMPLETED, None
            try:
                self._sweep(sweep_id)
            except Interrupted:
                status, error = "interrupted", "stopped by a signal before it finished"
            except ZoomGuardError as exc:
                status, error = "failed", str(exc)
            gap = self._incomplete_cause()
            if status == SWEEP_COMPLETED and gap is not None:
                status, error = SWEEP_INCOMPLETE, gap
            finished = self.clock()
            with self.store.transaction() as session:
                if status == SWEEP_COMPLETED:
                    self.store.findings.resolve_not_seen(
                        self.account.id, sweep_id, finished, session=session
                    )
            if status == SWEEP_INCOMPLETE:
                self._alert_incomplete(sweep_id, str(error), finished)
            self.store.sweeps.finish(
                sweep_id, status, self.progress.counts(), finished, error=error
            )
            return SweepResult(
                sweep_id=sweep_id,
                account=self.account,
                status=status,
                counts=self.progress.counts(),
                skipped=self.progress.skipped,
                seconds=(finished - started).total_seconds(),
                error=error,
            )
        finally:
            self.store.leases.release(lease, holder)

    # Work distribution ------------------------------------------------------------------------

    def _sweep(self, sweep_id: int) -> None:
        workers = max(1, self.settings.concurrency)
        listers = max(1, min(4, workers // 4))
        # At most this many meetings are queued or in flight at once: memory stays flat.
        meeting_slots = threading.BoundedSemaphore(workers * 4)
        user_slots = threading.BoundedSemaphore(listers * 2)
        today = self.clock().astimezone(UTC).date()
        with (
            ThreadPoolExecutor(workers, thread_name_prefix="zg-meeting") as meeting_pool,
            ThreadPoolExecutor(listers, thread_name_prefix="zg-list") as list_pool,
        ):

            def submit_meeting(item: Mapping[str, Any], host_email: str | None) -> None:
                meeting_slots.acquire()
                future = meeting_pool.submit(
                    self._guarded, self._process_meeting, sweep_id, item, host_email, today
                )
                future.add_done_callback(lambda _f: meeting_slots.release())

            def list_user(user: Mapping[str, Any]) -> None:
                user_id = str(user.get("id", ""))
                email = user.get("email") if isinstance(user.get("email"), str) else None
                if self._has_gap(_LISTING_REFUSED):
                    return  # the app may not list meetings at all: no use asking per user
                try:
                    for item in self.client.list_meetings(
                        user_id, type="scheduled", page_size=MAX_PAGE_SIZE
                    ):
                        if self.stop.is_set():
                            return
                        submit_meeting(item, email)
                except ZoomNotFound:
                    self.progress.add(skipped=1)  # the user left between the two listings
                except ZoomAPIError as exc:
                    if isinstance(exc, ZoomAuthError):
                        raise
                    cause = _cause("list meetings", scopes.LIST_MEETINGS, exc)
                    self._note_gap("meetings", cause)
                    if isinstance(exc, ZoomScopeMissing):
                        self._note_gap(_LISTING_REFUSED, cause)

            # Every user first, in the largest pages Zoom allows: the users' page token is then
            # never held while meetings are listed and read.
            users = self._list_users()
            self.progress.add(users=len(users))
            pending: list[Future[None]] = []
            for user in users:
                if self.stop.is_set() or self._failed():
                    break
                user_slots.acquire()
                future = list_pool.submit(self._guarded, list_user, user)
                future.add_done_callback(lambda _f: user_slots.release())
                pending.append(future)
                pending = [f for f in pending if not f.done()]
            for future in pending:
                future.result()
        # Both pools have drained here: every meeting started was written or abandoned whole.
        if self._errors:
            raise self._errors[0]
        if self.stop.is_set():
            raise Interrupted("sweep interrupted")

    def _list_users(self) -> list[Mapping[str, Any]]:
        try:
            return list(self.client.list_users(status="active", page_size=MAX_USERS_PAGE_SIZE))
        except ZoomAPIError as exc:
            if isinstance(exc, ZoomAuthError):
                raise
            self._note_gap("users", _cause("list users", scopes.LIST_USERS, exc))
            return []

    def _note_gap(self, kind: str, cause: str) -> None:
        with self._errors_lock:
            if kind not in self._gaps:
                # info: the sweep's result carries the cause, and the CLI prints it once.
                log.info("sweep incomplete: %s", cause)
            self._gaps.setdefault(kind, cause)

    def _has_gap(self, kind: str) -> bool:
        with self._errors_lock:
            return kind in self._gaps

    def _incomplete_cause(self) -> str | None:
        """One line naming why the sweep did not check the account, or None."""
        with self._errors_lock:
            causes = [self._gaps[k] for k in ("users", "meetings") if k in self._gaps]
            unreadable = self._unreadable
            read_cause = self._gaps.get("read")
        read = self.progress.meetings
        if unreadable and unreadable * 2 > unreadable + read:
            causes.append(
                f"could not read {unreadable} of {unreadable + read} meetings ({read_cause})"
            )
        return "; ".join(causes) if causes else None

    def _alert_incomplete(self, sweep_id: int, cause: str, now: datetime) -> None:
        """The officer hears at once: the sweep's figures are not a clean bill."""
        self.store.outbox.record_alert(
            account_pk=self.account.id,
            sweep_id=sweep_id,
            delivery=categories.IMMEDIATE,
            category=categories.SWEEP_INCOMPLETE,
            details={
                "meeting_id": None,
                "topic": None,
                "host_email": None,
                "start_time": None,
                "rule_id": None,
                "rule": f"The sweep of Zoom account {self.account.zoom_account_id} is incomplete",
                "guidance": None,
                "changes": [],
                "confirmed": None,
                "failure": cause[:500],
                "officer_action": None,
            },
            now=now,
        )

    def _guarded(self, fn: Callable[..., None], *args: Any) -> None:
        """Runs work on a pool thread; the first fatal error stops the sweep."""
        if self.stop.is_set() or self._failed():
            return
        try:
            fn(*args)
        except (ZoomAuthError, ZoomGuardError) as exc:
            if isinstance(exc, ZoomAPIError) and not isinstance(exc, ZoomAuthError):
                # One meeting's or user's API error does not stop the sweep.
                log.warning("sweep: %s", exc)
                self.progress.add(skipped=1)
                return
            with self._errors_lock:
                self._errors.append(exc)
            self.stop.set()
        except Exception as exc:  # a bug must not take the sweep down silently
            log.exception("sweep: unexpected error")
            with self._errors_lock:
                self._errors.append(ZoomGuardError(f"unexpected error: {exc!r}"))
            self.stop.set()

    def _failed(self) -> bool:
        with self._errors_lock:
            return bool(self._errors)

    # One meeting ------------------------------------------------------------------------------

    def _process_meeting(
        self, sweep_id: int, item: Mapping[str, Any], host_email: str | None, today: date
    ) -> None:
        meeting_id = item.get("id")
        if meeting_id is None:
            return
        try:
            meeting = self.client.get_meeting(meeting_id)
        except ZoomAPIError as exc:
            if isinstance(exc, ZoomAuthError):
                raise
            with self._errors_lock:
                self._unreadable += 1
                self._gaps.setdefault("read", _cause("read meetings", scopes.READ_MEETING, exc))
            log.info("sweep: meeting %s unreadable: %s", meeting_id, exc)
            self.progress.add(skipped=1)
            return
        if meeting is None:  # deleted between list and get: not an error
            self.progress.add(skipped=1)
            return
        self.progress.add(meetings=1)
        outcome = self.enforcer.enforce(meeting, host_email=host_email, today=today)
        if outcome is None:
            self.progress.add(compliant=1)
        else:
            self.progress.add(noncompliant=1, patches=int(outcome.patched))
            for status in outcome.statuses.values():
                self.progress.add(**{status: 1})
            self.enforcer.record(sweep_id, outcome, host_email)
        if self.on_progress is not None:
            self.on_progress(self.progress)


def _cause(step: str, scope: str, exc: ZoomAPIError) -> str:
    """The one line the officer reads: the scope by name when Zoom says one is missing (code
    4711; zoomguard knows which scope the step needs), else Zoom's status and code."""
    if isinstance(exc, ZoomScopeMissing):
        return f"cannot {step}: the Zoom app lacks the scope {scope}"
    code = f", code {exc.code}" if exc.code is not None else ""
    return f"cannot {step}: Zoom answered HTTP {exc.status}{code}"
