"""Prometheus metrics for /metrics: most computed from the database, a few counted per process.

Why two kinds. zoomguard runs as several processes: gunicorn's web workers, one or more inbox
workers and the clock, possibly on different machines. A prometheus_client counter lives in one
process's memory, so

- what the database already records is **computed from the database at scrape time**
  (``DatabaseCollector``): events received and processed (the inbox by status), sweeps (by
  status, the last completed one per account with its duration), findings and fixes, alerts and
  emails. Whichever process answers the scrape, the numbers are the same and include every
  process's work. prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR) would only
  add up processes that share one machine and one directory, and needs gunicorn hooks to forget
  dead workers; the database needs neither. These are gauges (a purge lowers them), except the
  audit-log count of changes, which only the multi-year audit retention ever lowers.
- what the database does not record is **counted in the process that does it**
  (``ProcessMetrics``): Zoom API calls by category and status, 429s, sweep and job timings, events
  handled by this worker. That is correct where one process is one scrape target: ``zoomguard
  run`` (web, worker and clock in one process: its /metrics shows both kinds) and ``zoomguard
  worker|clock --metrics-port N``. The web app under gunicorn does not add its process counters
  to /metrics: each scrape would reach a different gunicorn worker and they would jump around.

Metric labels never carry a Zoom account ID, an email address or a meeting topic: /metrics
answers anyone who can reach the web process. Accounts are labelled by zoomguard's row id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from zoomguard.errors import StoreError
from zoomguard.service.clients import utcnow
from zoomguard.store import Store
from zoomguard.store.models import (
    EMAIL_KINDS,
    EMAIL_STATUSES,
    FINDING_STATUSES,
    INBOX_STATUSES,
    SWEEP_STATUSES,
)
from zoomguard.store.stats import DatabaseCounts
from zoomguard.zoom.client import ClientStats
from zoomguard.zoom.ratelimit import PacingLimiter

log = logging.getLogger(__name__)

# The text format (0.0.4) that generate_latest writes and every Prometheus server reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Clock = Callable[[], datetime]

# A sweep takes seconds (a small account) to hours (100,000 meetings at Zoom's rate limits).
_SWEEP_SECONDS_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0)


class ProcessMetrics:
    """This process's counters, in a registry of their own (never the global default one)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.zoom_api_calls = Counter(
            "zoomguard_zoom_api_calls",
            "Zoom API requests sent by this process, by rate-limit category and HTTP status "
            "(0: no answer)",
            ["category", "status"],
            registry=r,
        )
        self.zoom_api_rate_limited = Counter(
            "zoomguard_zoom_api_rate_limited",
            "Zoom API answers with HTTP 429 received by this process",
            ["category"],
            registry=r,
        )
        self.sweeps = Counter(
            "zoomguard_process_sweeps",
            "Account sweeps this process attempted, by outcome (completed, failed, "
            "interrupted, busy: another process was sweeping the account, error)",
            ["outcome"],
            registry=r,
        )
        self.sweep_seconds = Histogram(
            "zoomguard_process_sweep_seconds",
            "Duration of the account sweeps this process ran",
            buckets=_SWEEP_SECONDS_BUCKETS,
            registry=r,
        )
        self.events_handled = Counter(
            "zoomguard_worker_events",
            "Inbox events this process handed to the event handler, by outcome (done, failed, "
            "dead)",
            ["outcome"],
            registry=r,
        )
        self.job_runs = Counter(
            "zoomguard_job_runs",
            "Scheduled job runs in this process, by job and outcome (ok, error)",
            ["job", "outcome"],
            registry=r,
        )
        self.job_last_success = Gauge(
            "zoomguard_job_last_success_timestamp_seconds",
            "When each scheduled job last finished without an error (Unix time)",
            ["job"],
            registry=r,
        )

    def client_stats(self, limiters: Mapping[str, PacingLimiter]) -> ClientStats:
        """A ``ClientStats`` for a ZoomClient that also counts its calls here."""
        return _ObservedClientStats(limiters, self)


class _ObservedClientStats(ClientStats):
    """The client's own statistics, with every call also counted in ``ProcessMetrics``.

    ZoomClient reports each request (every attempt, retries included) as ``record_call``.
    """

    def __init__(self, limiters: Mapping[str, PacingLimiter], metrics: ProcessMetrics):
        super().__init__(limiters)
        self._metrics = metrics

    def record_call(self, category: str, status: int) -> None:
        super().record_call(category, status)
        self._metrics.zoom_api_calls.labels(category=category, status=str(status)).inc()
        if status == 429:
            self._metrics.zoom_api_rate_limited.labels(category=category).inc()


_process_metrics: ProcessMetrics | None = None
_process_metrics_lock = threading.Lock()


def process_metrics() -> ProcessMetrics:
    """This process's metrics, made on first use (nothing is created at import time)."""
    global _process_metrics
    with _process_metrics_lock:
        if _process_metrics is None:
            _process_metrics = ProcessMetrics()
        return _process_metrics


# --- computed from the database ------------------------------------------------------------


def _age_seconds(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:  # an aggregate on SQLite bypasses the column type: naive UTC
        then = then.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - then).total_seconds())


class DatabaseCollector(Collector):
    """Gauges computed from the database on every scrape; ``zoomguard_database_up`` 0 when the
    database cannot be read (the other families are then left out, not reported as zero)."""

    def __init__(self, store: Store, clock: Clock = utcnow) -> None:
        self.store = store
        self.clock = clock

    def describe(self) -> list[Metric]:
        # Names are only known by querying; an empty description keeps registration offline.
        return []

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        up = GaugeMetricFamily(
            "zoomguard_database_up", "1 when the database answered this scrape, else 0"
        )
        try:
            families = list(self._families(self.clock()))
        except (StoreError, SQLAlchemyError) as exc:
            log.warning("metrics: database unavailable: %s", exc)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families
        took = GaugeMetricFamily(
            "zoomguard_metrics_query_seconds", "Time spent reading the database for this scrape"
        )
        took.add_metric([], time.monotonic() - started)
        yield took

    def _families(self, now: datetime) -> Iterator[Metric]:
        counts = self.store.stats.counts(now)
        yield self._inbox(counts)
        yield self._inbox_backlog(counts, now)
        yield self._findings(counts)
        yield self._changes(counts)
        yield self._sweeps(counts)
        yield from self._last_sweeps(counts)
        yield self._alerts(counts)
        yield self._emails(counts)
        yield self._accounts(counts)

    @staticmethod
    def _inbox(counts: DatabaseCounts) -> Metric:
        family = GaugeMetricFamily(
            "zoomguard_inbox_events",
            "Webhook events in the inbox by status: received = all of them, processed = done, "
            "ignored and dead (rows older than the retention period are purged)",
            labels=["status"],
        )
        by_status = dict.fromkeys(INBOX_STATUSES, 0)
        for status, count in counts.inbox_by_status:
            by_status[str(status)] = count
        for status, count in sorted(by_status.items()):
            family.add_metric([status], count)
        return family

    @staticmethod
    def _inbox_backlog(counts: DatabaseCounts, now: datetime) -> Metric:
        family = GaugeMetricFamily(
            "zoomguard_inbox_oldest_due_seconds",
            "How long the oldest pending inbox event has been due (0: nothing waiting)",
        )
        family.add_metric([], _age_seconds(now, counts.oldest_due_inbox_at))
        return family

    @staticmethod
    def _findings(counts: DatabaseCounts) -> Metric:
        family = GaugeMetricFamily(
            "zoomguard_findings",
            "Findings by status (fixed, failed, exempt, reported) and state (open, resolved)",
            labels=["status", "state"],
        )
        by_state = {(s, state): 0 for s in FINDING_STATUSES for state in ("open", "resolved")}
        for status, is_resolved, count in counts.findings_by_status:
            key = (str(status), "resolved" if is_resolved else "open")
            by_state[key] = by_state.get(key, 0) + count
        for (status, state), count in sorted(by_state.items()):
            family.add_metric([status, state], count)
        return family

    @staticmethod
    def _changes(counts: DatabaseCounts) -> Metric:
        family = CounterMetricFamily(
            "zoomguard_changes",
            "Changes zoomguard made in Zoom (the audit log) by actor and action, e.g. "
            "meeting.update = a meeting fixed, recording.stop, recording.trash",
            labels=["actor", "action", "confirmed"],
        )
        for actor, action, confirmed, count in counts.changes:
            label = "unknown" if confirmed is None else str(bool(confirmed)).lower()
            family.add_metric([str(actor), str(action), label], count)
        return family

    @staticmethod
    def _sweeps(counts: DatabaseCounts) -> Metric:
        family = GaugeMetricFamily(
            "zoomguard_sweeps", "Account sweeps recorded, by status", labels=["status"]
        )
        by_status = dict.fromkeys(SWEEP_STATUSES, 0)
        for status, count in counts.sweeps_by_status:
            by_status[str(status)] = count
        for status, count in sorted(by_status.items()):
            family.add_metric([status], count)
        return family

    @staticmethod
    def _last_sweeps(counts: DatabaseCounts) -> Iterator[Metric]:
        finished = GaugeMetricFamily(
            "zoomguard_sweep_last_completed_timestamp_seconds",
            "When each account's last completed sweep finished (Unix time)",
            labels=["account"],
        )
        duration = GaugeMetricFamily(
            "zoomguard_sweep_last_duration_seconds",
            "How long each account's last completed sweep took",
            labels=["account"],
        )
        fixed = GaugeMetricFamily(
            "zoomguard_sweep_last_fixed",
            "Findings fixed by each account's last completed sweep",
            labels=["account"],
        )
        for last in counts.last_sweeps:
            finished_at, started_at = last.finished_at, last.started_at
            if finished_at is None:
                continue
            label = [str(last.account_id)]
            finished.add_metric(label, finished_at.timestamp())
            duration.add_metric(label, max(0.0, (finished_at - started_at).total_seconds()))
            fixed.add_metric(label, last.fixed)
        yield finished
        yield duration
        yield fixed

    @staticmethod
    def _alerts(counts: DatabaseCounts) -> Metric:
        family = GaugeMetricFamily(
            "zoomguard_alerts",
            "Alerts for the privacy officer by category and state (composed into an email, or "
            "waiting to be)",
            labels=["category", "state"],
        )
        for category, is_composed, count in counts.alerts_by_category:
            state = "composed" if is_composed else "waiting"
            family.add_metric([str(category), state], count)
        return family

    @staticmethod
    def _emails(counts: DatabaseCounts) -> Metric:
        family = GaugeMetricFamily(
            "zoomguard_emails",
            "Emails in the outbox by kind and status (sent, or pending delivery)",
            labels=["kind", "status"],
        )
        by_kind = {(k, s): 0 for k in EMAIL_KINDS for s in EMAIL_STATUSES}
        for kind, status, count in counts.emails_by_kind:
            by_kind[(str(kind), str(status))] = count
        for (kind, status), count in sorted(by_kind.items()):
            family.add_metric([kind, status], count)
        return family

    @staticmethod
    def _accounts(counts: DatabaseCounts) -> Metric:
        family = GaugeMetricFamily(
            "zoomguard_accounts", "Connected Zoom accounts by status", labels=["status"]
        )
        for status, count in counts.accounts_by_status:
            family.add_metric([str(status)], count)
        return family


def render_metrics(
    store: Store, *, process: ProcessMetrics | None = None, clock: Clock = utcnow
) -> bytes:
    """The /metrics body (Prometheus text format): database metrics, plus ``process``'s."""
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(store, clock))
    if process is not None:
        registry.register(process.registry)
    return generate_latest(registry)


def serve_process_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Serve this process's counters on ``host:port`` (a worker or clock scraped on its own)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=process_metrics().registry)
    log.info("process metrics on http://%s:%d/metrics", host, port)
