"""Use cases: the only module that combines zoom, store, notify and policy.

A sweep lists every active user, every scheduled meeting of each user, reads each meeting's
settings, evaluates it, and fixes what it may with at most one PATCH per meeting, then re-reads the
meeting so that only a fix Zoom actually kept is counted. Listing and meeting work run on two
thread pools so that the sweep is bounded by Zoom's per-second rate limits (enforced inside
ZoomClient), not by round-trip latency; both pools are bounded so memory stays flat however many
meetings an account has.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

from zoomguard import policy
from zoomguard.config import Settings
from zoomguard.errors import (
    Interrupted,
    ZoomAPIError,
    ZoomAuthError,
    ZoomGuardError,
    ZoomNotFound,
    ZoomRateLimited,
)
from zoomguard.service.alerts import (
    alert_category,
    alert_delivery,
    alert_details,
    masked,
)
from zoomguard.service.common import Clock, holder_id, utcnow
from zoomguard.store import Store
from zoomguard.store.core import AccountRecord, SweepCounts
from zoomguard.store.outbox import record_alert
from zoomguard.zoom import ZoomClient

log = logging.getLogger(__name__)

SWEEP_LEASE_SECONDS = 15 * 60


class SweepBusy(ZoomGuardError):
    reason = "sweep_busy"


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


@dataclass(frozen=True)
class MeetingOutcome:
    """What one meeting's processing decided; written to the store in one transaction."""

    evaluation: policy.Evaluation
    statuses: dict[str, str]  # rule_id -> fixed | failed | exempt | reported
    details: dict[str, str | None]
    after: dict[str, Any]  # rule_id -> value re-read after the PATCH
    patched: bool
    confirmed: bool | None
    before_values: dict[str, Any]
    after_values: dict[str, Any]
    start_time: str | None


def _field_value(meeting: Mapping[str, Any] | None, path: str) -> Any:
    node: Any = meeting
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _patched_paths(patch: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in patch.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _patched_paths(value, path + ".")
        else:
            yield path


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
        self._errors: list[BaseException] = []
        self._errors_lock = threading.Lock()

    # The public entry point -------------------------------------------------------------------

    def run(self) -> SweepResult:
        started = self.clock()
        holder = holder_id()
        lease = f"sweep:{self.account.id}"
        if not self.store.acquire_lease(lease, holder, SWEEP_LEASE_SECONDS, started):
            raise SweepBusy(f"account {self.account.zoom_account_id} is being swept elsewhere")
        try:
            self.store.mark_stale_running_sweeps(started, account_pk=self.account.id)
            sweep_id = self.store.start_sweep(self.account.id, self.dry_run, started, holder=holder)
            status, error = "completed", None
            try:
                self._sweep(sweep_id)
            except Interrupted:
                status, error = "interrupted", "stopped by a signal before it finished"
            except ZoomGuardError as exc:
                status, error = "failed", str(exc)
            finished = self.clock()
            with self.store.transaction() as session:
                if status == "completed":
                    self.store.resolve_findings_not_in(session, self.account.id, sweep_id, finished)
            self.store.finish_sweep(sweep_id, status, self.progress.counts(), finished, error=error)
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
            self.store.release_lease(lease, holder)

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
                for item in self.client.list_meetings(user_id, type="scheduled", page_size=300):
                    if self.stop.is_set():
                        return
                    submit_meeting(item, email)

            pending: list[Future[None]] = []
            for user in self.client.list_users(status="active", page_size=300):
                if self.stop.is_set() or self._failed():
                    break
                self.progress.add(users=1)
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
        meeting = self.client.get_meeting(meeting_id)
        if meeting is None:  # deleted between list and get: not an error
            self.progress.add(skipped=1)
            return
        self.progress.add(meetings=1)
        outcome = self.enforce_meeting(meeting, host_email=host_email, today=today)
        if outcome is None:
            self.progress.add(compliant=1)
        else:
            self.progress.add(noncompliant=1)
            self._record(sweep_id, outcome, host_email)
        if self.on_progress is not None:
            self.on_progress(self.progress)

    def enforce_meeting(
        self, meeting: Mapping[str, Any], *, host_email: str | None, today: date
    ) -> MeetingOutcome | None:
        """Evaluate one meeting and fix it if allowed; None when it is compliant."""
        evaluation = policy.evaluate(meeting, self.profile, today=today, host_email=host_email)
        if evaluation.compliant:
            return None
        statuses: dict[str, str] = {}
        details: dict[str, str | None] = {}
        after: dict[str, Any] = {}
        if evaluation.exemption is not None:
            for f in evaluation.findings:
                statuses[f.rule_id] = "exempt"
                details[f.rule_id] = evaluation.exemption.reason
            return self._outcome(evaluation, statuses, details, after, meeting, None, None)
        for f in evaluation.findings:
            statuses[f.rule_id] = "reported"
            details[f.rule_id] = None if f.fixable else "report only: a person must act"
        if not evaluation.patch or self.dry_run or self.profile.mode != "enforce":
            if self.dry_run and evaluation.patch:
                for f in evaluation.fixable_findings:
                    details[f.rule_id] = "dry run: would be fixed"
            return self._outcome(evaluation, statuses, details, after, meeting, None, None)
        return self._patch(evaluation, meeting, statuses, details, after, today)

    def _patch(
        self,
        evaluation: policy.Evaluation,
        meeting: Mapping[str, Any],
        statuses: dict[str, str],
        details: dict[str, str | None],
        after: dict[str, Any],
        today: date,
    ) -> MeetingOutcome:
        fixable = evaluation.fixable_findings
        host_id = evaluation.host_id or ""

        def fail_all(reason: str) -> MeetingOutcome:
            for f in fixable:
                statuses[f.rule_id] = "failed"
                details[f.rule_id] = reason
            return self._outcome(evaluation, statuses, details, after, meeting, None, False)

        if not self.store.reserve_update(
            None, self.account.id, host_id, today, self.settings.update_budget
        ):
            return fail_all("could not fix: daily update limit")
        try:
            self.client.update_meeting(evaluation.meeting_id, evaluation.patch)
        except ZoomRateLimited as exc:
            if exc.reason == "daily_update_limit":
                return fail_all("could not fix: daily update limit")
            self.store.release_update(None, self.account.id, host_id, today)
            return fail_all(f"could not fix: {exc}")
        except ZoomNotFound:
            self.store.release_update(None, self.account.id, host_id, today)
            return fail_all("could not fix: the meeting was deleted")
        except ZoomAPIError as exc:
            return fail_all(f"could not fix: Zoom refused the change ({exc})")
        self.progress.add(patches=1)
        reread = self.client.get_meeting(evaluation.meeting_id)
        if reread is None:
            return fail_all("could not confirm: the meeting was deleted after the fix")
        fixed, still = policy.verify(evaluation, reread, self.profile, today=today)
        for f in fixed:
            statuses[f.rule_id] = "fixed"
            details[f.rule_id] = None
            after[f.rule_id] = masked(f.field, _field_value(reread, f.field))
        for f in still:
            if f.fixable:
                statuses[f.rule_id] = "failed"
                details[f.rule_id] = (
                    "Zoom kept the old value after the fix: a locked account or group setting, "
                    "or Zoom's own security rule, overrides it"
                )
                after[f.rule_id] = masked(f.field, _field_value(reread, f.field))
        return self._outcome(
            evaluation, statuses, details, after, meeting, reread, not any(f.fixable for f in still)
        )

    def _outcome(
        self,
        evaluation: policy.Evaluation,
        statuses: dict[str, str],
        details: dict[str, str | None],
        after: dict[str, Any],
        before: Mapping[str, Any],
        reread: Mapping[str, Any] | None,
        confirmed: bool | None,
    ) -> MeetingOutcome:
        paths = list(_patched_paths(evaluation.patch)) if reread is not None else []
        return MeetingOutcome(
            evaluation=evaluation,
            statuses=statuses,
            details=details,
            after=after,
            patched=reread is not None,
            confirmed=confirmed,
            before_values={p: masked(p, _field_value(before, p)) for p in paths},
            after_values={p: masked(p, _field_value(reread, p)) for p in paths},
            start_time=_text_or_none(before.get("start_time")),
        )

    # Recording --------------------------------------------------------------------------------

    def _record(self, sweep_id: int, outcome: MeetingOutcome, host_email: str | None) -> None:
        evaluation = outcome.evaluation
        now = self.clock()
        meeting_id = evaluation.meeting_id
        for status in outcome.statuses.values():
            self.progress.add(**{status: 1})
        with self.store.transaction() as session:
            for f in evaluation.findings:
                status = outcome.statuses[f.rule_id]
                self.store.upsert_finding(
                    session,
                    account_pk=self.account.id,
                    sweep_id=sweep_id,
                    meeting_id=meeting_id,
                    host_id=evaluation.host_id,
                    host_email=host_email,
                    topic=evaluation.topic,
                    start_time=outcome.start_time,
                    rule_id=f.rule_id,
                    field=f.field,
                    expected=f.expected,
                    actual=f.actual,
                    after=outcome.after.get(f.rule_id),
                    status=status,
                    detail=outcome.details.get(f.rule_id),
                    now=now,
                )
                record_alert(
                    session,
                    account_pk=self.account.id,
                    sweep_id=sweep_id,
                    delivery=alert_delivery(status, outcome.details.get(f.rule_id), f.rule_id),
                    category=alert_category(status, outcome.details.get(f.rule_id), f.rule_id),
                    details=alert_details(
                        evaluation, f, status, outcome, host_email, self.settings
                    ),
                    now=now,
                )
            if outcome.patched:
                self.store.append_audit(
                    session,
                    account_pk=self.account.id,
                    actor=self.actor,
                    action="meeting.update",
                    target=f"meeting:{meeting_id}",
                    before=outcome.before_values,
                    after=outcome.after_values,
                    confirmed=outcome.confirmed,
                    now=now,
                )
