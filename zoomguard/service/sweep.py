"""Use cases: the only module that combines zoom, store, notify and policy.

A sweep lists every active user first (pages of 2,000, the most Zoom allows, so the users' page
token is never held while meetings are worked through: Zoom's page tokens expire after 15
minutes), then every scheduled meeting of each user (pages of 300), reads each meeting's
settings, evaluates it, and fixes what it may with at most one PATCH per meeting, then re-reads the
meeting so that only a fix Zoom actually kept is counted. Each user's webinars (Zoom's separate
webinar API) are listed and fixed the same way, with the webinar rules; an account without a
webinar plan is recognised by Zoom's code 200 and skipped with one note on the sweep. Listing and
meeting work run on two thread pools so that the sweep is bounded by Zoom's per-second rate
limits (enforced inside ZoomClient), not by round-trip latency; both pools are bounded so memory
stays flat however many meetings an account has.

A sweep that could not list the users, or the meetings of a user, or read most meetings, ends
``incomplete``, not ``completed``: its error names the cause (the missing scope by name, from
``zoomguard/zoom/scopes.py``, when Zoom answers code 4711), the officer is alerted at once, and
its findings do not close anything the sweep did not see.

Each recurring meeting's series is read, then its next occurrence, the occurrences known to
have settings of their own, and one more in rotation (``zoomguard.service.occurrences``):
at most 2 + (remembered) extra requests per recurring meeting, none for any other meeting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any

from zoomguard.config import Settings
from zoomguard.errors import (
    Interrupted,
    SweepBusy,
    WebinarPlanMissing,
    ZoomAPIError,
    ZoomAuthError,
    ZoomGuardError,
    ZoomNotFound,
    ZoomRateLimited,
    ZoomScopeMissing,
    ZoomUnavailable,
)
from zoomguard.notify import categories
from zoomguard.rules import policy
from zoomguard.rules.identifying.names import name_lists
from zoomguard.rules.meeting_rules import IDENTIFYING_INFORMATION
from zoomguard.service.clients import Clock, holder_id, utcnow
from zoomguard.service.enforce import MeetingEnforcer
from zoomguard.service.occurrences import CursorMoves, differs_from_series, plan_occurrences
from zoomguard.service.reconcile import reconcile_intents
from zoomguard.store import AccountRecord, Store, SweepCounts
from zoomguard.store.models import (
    SWEEP_COMPLETED,
    SWEEP_COMPLETED_WITH_ERRORS,
    SWEEP_FAILED,
    SWEEP_INCOMPLETE,
    SWEEP_INTERRUPTED,
)
from zoomguard.store.occurrences import NOTHING_KNOWN, KnownOccurrences
from zoomguard.zoom import scopes
from zoomguard.zoom.client import MAX_PAGE_SIZE, MAX_USERS_PAGE_SIZE, ZoomClient

log = logging.getLogger(__name__)

# A gap that is not a cause of its own: the scope to list meetings is missing for every user.
_LISTING_REFUSED = "listing refused"

# The sweep lease is renewed every third of this while the sweep runs (``_LeaseHeartbeat``), so
# a sweep may take as long as it needs while a second one of the same account is refused; a
# sweep whose process died frees the account within this long.
SWEEP_LEASE_SECONDS = 120.0


class _LeaseHeartbeat:
    """Renews the sweep's lease while it runs; if the lease is lost (taken over after the
    database was away longer than the lease), stops the sweep rather than run beside another."""

    def __init__(
        self, store: Store, name: str, holder: str, clock: Clock, stop: threading.Event
    ) -> None:
        self._store = store
        self._name = name
        self._holder = holder
        self._clock = clock
        self._stop = stop
        self._done = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._beat, name="zg-sweep-lease", daemon=True)

    def __enter__(self) -> _LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(SWEEP_LEASE_SECONDS / 3):
            try:
                renewed = self._store.leases.renew(
                    self._name, self._holder, SWEEP_LEASE_SECONDS, self._clock()
                )
            except ZoomGuardError as exc:  # the database is away: the lease has time left
                log.warning("sweep lease %s not renewed: %s", self._name, exc)
                continue
            if not renewed:
                log.error("sweep lease %s was lost: stopping this sweep", self._name)
                self.lost = True
                self._stop.set()
                return


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
    webinars: int = 0
    # Users whose webinars Zoom would not list because the webinar plan is missing.
    without_webinar_plan: int = 0
    not_checked: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def counts(self) -> SweepCounts:
        with self._lock:
            # Every stored count has a counter of the same name here: a new column is copied
            # without a second list of fields to keep in step.
            return SweepCounts(**{f.name: getattr(self, f.name) for f in fields(SweepCounts)})


@dataclass(frozen=True)
class SweepResult:
    sweep_id: int
    account: AccountRecord
    status: str
    counts: SweepCounts
    skipped: int
    seconds: float
    error: str | None = None
    note: str | None = None


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
        prepare: tuple[Callable[[], object], ...] = (),
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.account = account
        self.profile = profile
        self.dry_run = dry_run
        self.actor = actor
        self.stop = stop or threading.Event()
        # Set by this sweep alone (a fatal error, a lost lease): ``stop`` belongs to the caller
        # (the clock's or the CLI's shutdown), which a failing sweep must not set.
        self._halt = threading.Event()
        self.on_progress = on_progress
        # Work the caller will need after the sweep, done in a background thread during it.
        self.prepare = prepare
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
        # Recurring meetings' remembered occurrences and rotation cursors, read once per sweep.
        self._known_occurrences: Mapping[str, KnownOccurrences] = {}
        self._cursor_moves = CursorMoves(store, account.id, clock)

    # The public entry point -------------------------------------------------------------------

    def run(self) -> SweepResult:
        started = self.clock()
        holder = holder_id()
        lease = f"sweep:{self.account.id}"
        if not self.store.leases.acquire(lease, holder, SWEEP_LEASE_SECONDS, started):
            raise SweepBusy(f"account {self.account.zoom_account_id} is being swept elsewhere")
        # The token's round trip (when none is cached) overlaps the bookkeeping below.
        self.client.warm_token()
        try:
            self.store.sweeps.mark_stale_running(started, account_pk=self.account.id)
            sweep_id = self.store.sweeps.start(
                self.account.id, self.dry_run, started, holder=holder
            )
            status, error = SWEEP_COMPLETED, None
            if not self.dry_run:
                self._reconcile(started)
            with _LeaseHeartbeat(self.store, lease, holder, self.clock, self._halt) as heartbeat:
                try:
                    self._sweep(sweep_id)
                except Interrupted:
                    status, error = SWEEP_INTERRUPTED, "stopped by a signal before it finished"
                    if heartbeat.lost:
                        error = "stopped: its lease was lost, so another sweep may have begun"
                except ZoomGuardError as exc:
                    status, error = SWEEP_FAILED, str(exc)
                finally:
                    self._cursor_moves.write()  # the pools have drained: every move is in
            gap = self._incomplete_cause()
            not_checked = self.progress.not_checked
            if status == SWEEP_COMPLETED and gap is not None:
                status, error = SWEEP_INCOMPLETE, gap
            elif status == SWEEP_COMPLETED and not_checked:
                status = SWEEP_COMPLETED_WITH_ERRORS
                error = (
                    f"{not_checked} meeting(s) or meeting list(s) not checked: Zoom kept failing "
                    "after the retries; the next sweep looks at them again"
                )
            finished = self.clock()
            note = self._note()
            with self.store.transaction() as session:
                # Only a sweep that saw every meeting may close the findings it did not see.
                if status == SWEEP_COMPLETED:
                    self.store.findings.resolve_not_seen(
                        self.account.id, sweep_id, finished, session=session
                    )
            if status == SWEEP_INCOMPLETE:
                self._alert_incomplete(sweep_id, str(error), finished)
            self.store.sweeps.finish(
                sweep_id, status, self.progress.counts(), finished, error=error, note=note
            )
            return SweepResult(
                sweep_id=sweep_id,
                account=self.account,
                status=status,
                counts=self.progress.counts(),
                skipped=self.progress.skipped,
                seconds=(finished - started).total_seconds(),
                error=error,
                note=note,
            )
        finally:
            self.store.leases.release(lease, holder)

    def _reconcile(self, now: datetime) -> None:
        """Settle the audit intents a killed sweep (or worker) left for this account."""
        try:
            reconcile_intents(
                self.settings,
                self.store,
                lambda _account: self.client,
                now=now,
                account=self.account,
                settled_now_actors=frozenset({"sweep", "cli"}),
            )
        except ZoomGuardError as exc:  # the sweep itself will meet the same failure, if any
            log.warning("sweep: audit intents not reconciled: %s", exc)

    # Work distribution ------------------------------------------------------------------------

    def _sweep(self, sweep_id: int) -> None:
        workers = max(1, self.settings.concurrency)
        listers = max(1, min(4, workers // 4))
        # At most this many meetings are queued or in flight at once: memory stays flat.
        meeting_slots = threading.BoundedSemaphore(workers * 4)
        user_slots = threading.BoundedSemaphore(listers * 2)
        today = self.clock().astimezone(UTC).date()
        self._known_occurrences = self.store.occurrences.known(self.account.id)
        with (
            ThreadPoolExecutor(workers, thread_name_prefix="zg-meeting") as meeting_pool,
            ThreadPoolExecutor(listers, thread_name_prefix="zg-list") as list_pool,
        ):

            def submit_meeting(
                item: Mapping[str, Any], host_email: str | None, kind: str = policy.MEETING
            ) -> None:
                meeting_slots.acquire()
                future = meeting_pool.submit(
                    self._guarded, self._process_meeting, sweep_id, item, host_email, today, kind
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
                        if self._stopping():
                            return
                        submit_meeting(item, email)
                except ZoomNotFound:
                    self.progress.add(skipped=1)  # the user left between the two listings
                    return
                except ZoomAPIError as exc:
                    if isinstance(exc, ZoomAuthError | ZoomRateLimited):
                        raise
                    cause = _cause("list meetings", scopes.LIST_MEETINGS, exc)
                    self._note_gap("meetings", cause)
                    if isinstance(exc, ZoomScopeMissing):
                        self._note_gap(_LISTING_REFUSED, cause)
                    return
                try:
                    for item in self.client.list_webinars(user_id, page_size=300):
                        if self._stopping():
                            return
                        submit_meeting(item, email, policy.WEBINAR)
                except WebinarPlanMissing:
                    # Not an error: without a webinar plan (or licence) there are no webinars.
                    self.progress.add(without_webinar_plan=1)

            self._prepare_in_background()
            # Every user first, in the largest pages Zoom allows: the users' page token is then
            # never held while meetings are listed and read.
            users = self._list_users()
            self.progress.add(users=len(users))
            pending: list[Future[None]] = []
            for user in users:
                if self._stopping() or self._failed():
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
        if self._stopping():
            raise Interrupted("sweep interrupted")

    def _prepare_in_background(self) -> None:
        """Read the name lists of the identifying-information rule (a quarter of a second of
        CPU) while the first requests are on their way, rather than when the first meetings
        arrive, where every meeting thread would wait for them; then the caller's
        ``prepare`` (the CLI: the alert templates its digest needs after the last answer)."""
        tasks: list[Callable[[], object]] = []
        if self.profile.enabled(IDENTIFYING_INFORMATION):
            tasks.append(name_lists)
        tasks += self.prepare

        def run() -> None:
            for task in tasks:
                try:
                    task()
                except Exception:  # only a head start: the work is done again when needed
                    log.debug("sweep: background preparation failed", exc_info=True)

        if tasks:
            threading.Thread(target=run, name="zg-sweep-prepare", daemon=True).start()

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
        if self._stopping() or self._failed():
            return
        try:
            fn(*args)
        except (ZoomAuthError, ZoomGuardError) as exc:
            if isinstance(exc, ZoomAPIError) and not isinstance(exc, ZoomAuthError):
                # One meeting's or user's API error does not stop the sweep.
                log.warning("sweep: %s", exc)
                self.progress.add(skipped=1)
                return
            if isinstance(exc, ZoomUnavailable):
                # 5xx or connection errors after the retries, for one meeting or one user's
                # list: Zoom is answering the others, so the sweep goes on without it.
                log.warning("sweep: not checked: %s", exc)
                self.progress.add(not_checked=1)
                return
            with self._errors_lock:
                self._errors.append(exc)
            self._halt.set()
        except Exception as exc:  # a bug must not take the sweep down silently
            log.exception("sweep: unexpected error")
            with self._errors_lock:
                self._errors.append(ZoomGuardError(f"unexpected error: {exc!r}"))
            self._halt.set()

    def _stopping(self) -> bool:
        return self.stop.is_set() or self._halt.is_set()

    def _failed(self) -> bool:
        with self._errors_lock:
            return bool(self._errors)

    # One meeting ------------------------------------------------------------------------------

    def _note(self) -> str | None:
        """The sweep's one note about webinars it could not list, if any."""
        counts = self.progress
        missing = counts.without_webinar_plan
        if not missing:
            return None
        if missing >= counts.users:
            return (
                "Webinars not checked: the account has no webinar plan (Zoom answered code 200, "
                "webinar plan missing)."
            )
        return (
            f"Webinars not checked for {missing} of {counts.users} users: Zoom answered that "
            "their webinar plan is missing (code 200)."
        )

    def _process_meeting(
        self,
        sweep_id: int,
        item: Mapping[str, Any],
        host_email: str | None,
        today: date,
        kind: str = policy.MEETING,
    ) -> None:
        meeting_id = item.get("id")
        if meeting_id is None:
            return
        webinar = kind == policy.WEBINAR
        read = self.client.get_webinar if webinar else self.client.get_meeting
        try:
            meeting = read(meeting_id)
        except ZoomAPIError as exc:
            if isinstance(exc, ZoomAuthError | ZoomRateLimited):
                raise
            with self._errors_lock:
                self._unreadable += 1
                self._gaps.setdefault("read", _cause("read meetings", scopes.READ_MEETING, exc))
            log.info("sweep: %s %s unreadable: %s", kind, meeting_id, exc)
            self.progress.add(skipped=1)
            return
        if meeting is None:  # deleted between list and get: not an error
            self.progress.add(skipped=1)
            return
        self.progress.add(**{"webinars" if webinar else "meetings": 1})
        self._enforce(sweep_id, meeting, host_email, today, kind=kind)
        if not webinar:
            self._check_occurrences(sweep_id, str(meeting_id), meeting, host_email, today)
        if self.on_progress is not None:
            self.on_progress(self.progress)

    def _check_occurrences(
        self,
        sweep_id: int,
        meeting_id: str,
        series: Mapping[str, Any],
        host_email: str | None,
        today: date,
    ) -> None:
        """Read and enforce the occurrences this sweep looks at (see ``service.occurrences``);
        remember one that differs from its series, forget the remembered that have passed."""
        known = self._known_occurrences.get(meeting_id, NOTHING_KNOWN)
        plan = plan_occurrences(series, known)
        now = self.clock()
        occurrences = self.store.occurrences
        if plan.forget:
            occurrences.forget(self.account.id, meeting_id, plan.forget)
        if plan.cursor is not None:
            self._cursor_moves.move(meeting_id, plan.cursor)
        for occurrence_id in plan.read:
            occurrence = self.client.get_meeting(meeting_id, occurrence_id)
            if occurrence is None:
                continue  # deleted meanwhile: the next sweep no longer lists it
            if occurrence_id not in known.remembered and differs_from_series(occurrence, series):
                occurrences.remember(
                    self.account.id, meeting_id, occurrence_id, noted_by="sweep", now=now
                )
            self._enforce(sweep_id, occurrence, host_email, today, occurrence_id)

    def _enforce(
        self,
        sweep_id: int,
        meeting: Mapping[str, Any],
        host_email: str | None,
        today: date,
        occurrence_id: str | None = None,
        *,
        kind: str = policy.MEETING,
    ) -> None:
        outcome = self.enforcer.enforce(
            meeting, host_email=host_email, today=today, occurrence_id=occurrence_id, kind=kind
        )
        if outcome is None:
            if occurrence_id is None:
                self.progress.add(compliant=1)
            return
        self.progress.add(noncompliant=1, patches=int(outcome.patched))
        for status in outcome.statuses.values():
            self.progress.add(**{status: 1})
        self.enforcer.record(sweep_id, outcome, host_email)


def _cause(step: str, scope: str, exc: ZoomAPIError) -> str:
    """The one line the officer reads: the scope by name when Zoom says one is missing (code
    4711; zoomguard knows which scope the step needs), else Zoom's status and code."""
    if isinstance(exc, ZoomScopeMissing):
        return f"cannot {step}: the Zoom app lacks the scope {scope}"
    code = f", code {exc.code}" if exc.code is not None else ""
    return f"cannot {step}: Zoom answered HTTP {exc.status}{code}"
