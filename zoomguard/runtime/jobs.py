"""The clock's schedule (APScheduler 3): thin calls into the service, notify and the store.

=========  ==========================================  =========================================
job        every                                       does
=========  ==========================================  =========================================
sweep      ``sweep_interval_minutes`` (60)             sweep every active account (one lease per
                                                       account: another process sweeping it
                                                       makes this one log "busy" and move on)
alerts     ``outbox_interval_seconds`` (30)            compose due alert emails, send due ones
inbox      5 minutes                                   warn when the inbox is not being drained
                                                       (workers retry events themselves)
tokens     5 minutes                                   renew stored tokens expiring within 10 min
retention  24 hours (first run a minute after start)  purge what is past its retention period;
                                                       mark sweeps of dead processes interrupted
=========  ==========================================  =========================================

The first sweep runs one interval after the last completed sweep recorded in the database (at
once when there is none, or that moment has passed), so restarting the clock does not sweep
again. Every job is ``max_instances=1`` and ``coalesce=True``: a run still going when the next
is due makes APScheduler skip the next, never stack them.

The scheduler runs in the ``clock`` process or inside ``zoomguard run``, never in gunicorn's web
workers: nothing here is imported by the web app. Several clocks at once are safe (sweeps hold a
lease per account, emails are claimed, token renewal locks the account row, the purge is
idempotent), just wasteful.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from zoomguard import notify
from zoomguard.config import Settings
from zoomguard.errors import SweepBusy, ZoomGuardError
from zoomguard.rules import policy
from zoomguard.runtime.metrics import ProcessMetrics, process_metrics
from zoomguard.service.clients import (
    Clock,
    accounts_to_sweep,
    client_for_account,
    load_profile,
    utcnow,
)
from zoomguard.service.connect import OAuthTokenProvider
from zoomguard.service.maintenance import (
    DEFAULT_RENEW_BEFORE,
    RenewalResult,
    TokenRenewer,
    purge_expired,
    renew_expiring_tokens,
    renew_s2s_token,
)
from zoomguard.service.sweep import Sweeper
from zoomguard.store import AccountRecord, Store, inbox
from zoomguard.store.models import AUTH_OAUTH, AUTH_S2S, SWEEP_COMPLETED
from zoomguard.store.retention import PurgeResult
from zoomguard.zoom.client import ZoomClient

log = logging.getLogger(__name__)

JOB_SWEEP = "sweep"
JOB_ALERTS = "alerts"
JOB_INBOX = "inbox"
JOB_TOKENS = "tokens"
JOB_RETENTION = "retention"

INBOX_CHECK_INTERVAL = timedelta(minutes=5)
TOKEN_CHECK_INTERVAL = timedelta(minutes=5)
RETENTION_INTERVAL = timedelta(hours=24)
RETENTION_FIRST_DELAY = timedelta(minutes=1)
# An inbox event due for longer than this means no worker is draining the inbox.
INBOX_STUCK_AFTER = timedelta(minutes=15)

ClientFactory = Callable[[AccountRecord], ZoomClient]
T = TypeVar("T")


def observed_client_factory(
    settings: Settings,
    store: Store,
    metrics: ProcessMetrics,
    *,
    stop: threading.Event | None = None,
) -> ClientFactory:
    """Zoom clients for any connected account whose API calls are counted in ``metrics``; they
    stop retrying once ``stop`` is set."""

    def make(account: AccountRecord) -> ZoomClient:
        client = client_for_account(settings, store, account, stop=stop)
        # The client reports each request to ``stats``; this one also counts it for /metrics.
        client.stats = metrics.client_stats(client.limiters)
        return client

    return make


@dataclass(frozen=True)
class InboxCheck:
    pending: int
    processing: int
    dead: int
    oldest_due_seconds: float
    stuck: bool


class ServiceJobs:
    """What the scheduled jobs do, one method each; callable directly (tests, ``zoomguard run``).

    ``stop`` interrupts a sweep in progress (the meetings in flight are finished first).
    Every method catches and logs its own errors: a failing job must not stop the clock.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        profile: policy.Profile | None = None,
        client_factory: ClientFactory | None = None,
        renewers: Mapping[str, TokenRenewer] | None = None,
        metrics: ProcessMetrics | None = None,
        stop: threading.Event | None = None,
        clock: Clock = utcnow,
        renew_before: timedelta = DEFAULT_RENEW_BEFORE,
    ) -> None:
        self.settings = settings
        self.store = store
        self.profile = profile if profile is not None else load_profile(settings)
        self.metrics = metrics if metrics is not None else process_metrics()
        self.client_factory = client_factory or observed_client_factory(
            settings, store, self.metrics
        )
        self.renew_before = renew_before
        self.renewers = renewers if renewers is not None else self._default_renewers()
        self.stop = stop if stop is not None else threading.Event()
        self.clock = clock

    # The jobs ---------------------------------------------------------------------------------

    def sweep(self) -> dict[int, str]:
        """Sweep every active account; {account id: completed|failed|interrupted|busy|error}."""
        return self._run(JOB_SWEEP, self._sweep_accounts, {})

    def deliver_alerts(self) -> notify.FlushResult | None:
        return self._run(JOB_ALERTS, self._deliver_alerts, None)

    def check_inbox(self) -> InboxCheck | None:
        return self._run(JOB_INBOX, self._check_inbox, None)

    def renew_tokens(self) -> RenewalResult | None:
        return self._run(JOB_TOKENS, self._renew_tokens, None)

    def purge(self) -> PurgeResult | None:
        return self._run(JOB_RETENTION, self._purge, None)

    # Bodies -----------------------------------------------------------------------------------

    def _run(self, name: str, body: Callable[[], T], on_error: T) -> T:
        started = time.monotonic()
        try:
            result = body()
        except Exception as exc:
            outcome = "error"
            if isinstance(exc, ZoomGuardError):
                log.error("job %s failed: %s", name, exc)
            else:
                log.exception("job %s failed unexpectedly", name)
            self.metrics.job_runs.labels(job=name, outcome=outcome).inc()
            return on_error
        self.metrics.job_runs.labels(job=name, outcome="ok").inc()
        self.metrics.job_last_success.labels(job=name).set(time.time())
        log.debug("job %s done in %.2f s", name, time.monotonic() - started)
        return result

    def _sweep_accounts(self) -> dict[int, str]:
        try:
            accounts = accounts_to_sweep(self.settings, self.store)
        except ZoomGuardError as exc:
            log.warning("sweep: nothing to sweep: %s", exc)
            return {}
        outcomes: dict[int, str] = {}
        for account in accounts:
            if self.stop.is_set():
                break
            outcomes[account.id] = self._sweep_one(account)
        return outcomes

    def _sweep_one(self, account: AccountRecord) -> str:
        started = time.monotonic()
        try:
            with self.client_factory(account) as client:
                result = Sweeper(
                    self.settings,
                    self.store,
                    client,
                    account,
                    profile=self.profile,
                    stop=self.stop,
                    clock=self.clock,
                ).run()
        except SweepBusy:
            # Another clock (or a `zoomguard sweep`) holds this account's lease: its sweep
            # covers the account, so this is normal, not a failure.
            log.info(
                "sweep of account %s skipped: busy (another process is sweeping it)",
                account.id,
                extra={"account": account.id, "outcome": "busy"},
            )
            self.metrics.sweeps.labels(outcome="busy").inc()
            return "busy"
        except ZoomGuardError as exc:
            log.error("sweep of account %s could not start: %s", account.id, exc)
            self.metrics.sweeps.labels(outcome="error").inc()
            return "error"
        self.metrics.sweeps.labels(outcome=result.status).inc()
        self.metrics.sweep_seconds.observe(time.monotonic() - started)
        c = result.counts
        log_at = logging.INFO if result.status == SWEEP_COMPLETED else logging.WARNING
        log.log(
            log_at,
            "sweep of account %s %s in %.1f s: %d users, %d meetings, %d noncompliant, %d fixed, "
            "%d failed%s",
            account.id,
            result.status,
            result.seconds,
            c.users,
            c.meetings,
            c.noncompliant,
            c.fixed,
            c.failed,
            f": {result.error}" if result.error else "",
            extra={"account": account.id, "sweep": result.sweep_id, "outcome": result.status},
        )
        return result.status

    def _deliver_alerts(self) -> notify.FlushResult:
        now = self.clock()
        composed = notify.compose_pending(self.store, self.settings, now)
        result = notify.flush_outbox(
            self.store,
            notify.sender_from_settings(self.settings),
            now,
            backoff_seconds=self.settings.outbox_retry_seconds,
        )
        if composed or result.sent or result.failed:
            log.info(
                "alerts: %d emails composed, %d sent, %d failed, %d waiting",
                composed,
                result.sent,
                result.failed,
                result.pending,
            )
        return result

    def _check_inbox(self) -> InboxCheck:
        now = self.clock()
        counts = self.store.inbox.count_by_status()
        oldest = self.store.inbox.oldest_due_at()
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)  # SQLite aggregates come back naive
        waited = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
        check = InboxCheck(
            pending=counts.get(inbox.PENDING, 0),
            processing=counts.get(inbox.PROCESSING, 0),
            dead=counts.get(inbox.DEAD, 0),
            oldest_due_seconds=waited,
            stuck=waited > INBOX_STUCK_AFTER.total_seconds(),
        )
        if check.stuck:
            log.warning(
                "inbox: %d events pending, the oldest due for %d s: is a worker running?",
                check.pending,
                int(waited),
            )
        return check

    def _renew_tokens(self) -> RenewalResult:
        result = renew_expiring_tokens(
            self.store, self.renewers, renew_before=self.renew_before, clock=self.clock
        )
        if result.renewed or result.failed:
            log.info("tokens: %d renewed, %d failed", result.renewed, result.failed)
        return result

    def _purge(self) -> PurgeResult:
        now = self.clock()
        # A sweep whose process died stays "running" until the account is swept again; an
        # account that never is (deauthorized since) would keep it running for ever.
        stale = self.store.sweeps.mark_stale_running(now)
        if stale:
            log.info(
                "retention: %d sweeps left running by a stopped process marked interrupted", stale
            )
        return purge_expired(self.store, self.settings, now)

    def _default_renewers(self) -> dict[str, TokenRenewer]:
        settings, store, before = self.settings, self.store, self.renew_before

        def renew_s2s(account: AccountRecord) -> bool:
            return renew_s2s_token(settings, store, account.id, renew_before=before)

        def renew_oauth(account: AccountRecord) -> bool:
            # The dashboard's provider refreshes (rotating the refresh token) under the row lock
            # when the stored token expires within ``renew_before``, and stores the result.
            provider = OAuthTokenProvider(
                settings, store, account.id, renew_before=before.total_seconds()
            )
            provider.token()
            return provider.refresh_count > 0

        return {AUTH_S2S: renew_s2s, AUTH_OAUTH: renew_oauth}


# --- the schedule ----------------------------------------------------------------------------


def first_sweep_at(store: Store, interval: timedelta, now: datetime) -> datetime:
    """One interval after the account swept longest ago; ``now`` if any was never swept."""
    try:
        accounts = store.accounts.list_all(active_only=True)
        due = now
        for position, account in enumerate(accounts):
            last = store.sweeps.last(account.id, status=SWEEP_COMPLETED)
            if last is None or last.finished_at is None:
                return now
            candidate = last.finished_at + interval
            due = candidate if position == 0 else min(due, candidate)
    except ZoomGuardError as exc:
        log.warning("cannot read the last sweeps (%s): sweeping at once", exc)
        return now
    return max(now, due)


@dataclass(frozen=True)
class Intervals:
    sweep: timedelta
    alerts: timedelta
    inbox: timedelta = INBOX_CHECK_INTERVAL
    tokens: timedelta = TOKEN_CHECK_INTERVAL
    retention: timedelta = RETENTION_INTERVAL

    @classmethod
    def from_settings(cls, settings: Settings) -> Intervals:
        return cls(
            sweep=timedelta(minutes=settings.sweep_interval_minutes),
            alerts=timedelta(seconds=settings.outbox_interval_seconds),
        )


def schedule_jobs(
    scheduler: BackgroundScheduler,
    jobs: ServiceJobs,
    intervals: Intervals,
    *,
    now: datetime | None = None,
) -> None:
    """Add the five jobs to ``scheduler`` (started or not)."""
    now = now if now is not None else jobs.clock()
    plan: list[tuple[str, Callable[[], object], timedelta, datetime]] = [
        (JOB_SWEEP, jobs.sweep, intervals.sweep, first_sweep_at(jobs.store, intervals.sweep, now)),
        (JOB_ALERTS, jobs.deliver_alerts, intervals.alerts, now),
        (JOB_INBOX, jobs.check_inbox, intervals.inbox, now + intervals.inbox),
        (JOB_TOKENS, jobs.renew_tokens, intervals.tokens, now),
        (JOB_RETENTION, jobs.purge, intervals.retention, now + RETENTION_FIRST_DELAY),
    ]
    for name, func, every, first in plan:
        scheduler.add_job(
            func,
            IntervalTrigger(seconds=every.total_seconds(), timezone=UTC),
            id=name,
            name=name,
            next_run_time=first,
            max_instances=1,
            coalesce=True,
            # However late a run starts (a busy machine, a long sweep), start it rather than
            # drop it; coalesce makes several missed runs one.
            misfire_grace_time=None,
            replace_existing=True,
        )


def start_scheduler(jobs: ServiceJobs, intervals: Intervals) -> BackgroundScheduler:
    """A started BackgroundScheduler running the jobs on its own threads.

    Stop it with ``stop_scheduler``: it sets ``jobs.stop`` (a sweep in progress stops after the
    meetings in flight) and waits for running jobs to return.
    """
    scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
    schedule_jobs(scheduler, jobs, intervals)
    scheduler.start()
    for job in scheduler.get_jobs():
        log.info("scheduled job %s, first run %s", job.id, job.next_run_time.isoformat())
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler, jobs: ServiceJobs) -> None:
    jobs.stop.set()
    if scheduler.running:
        scheduler.shutdown(wait=True)
