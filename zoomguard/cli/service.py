"""The long-running service commands: ``zoomguard worker``, ``zoomguard clock``, ``zoomguard run``.

The Procfile runs them as separate processes (web is waitress serving
``zoomguard.webhooks:create_app``):

    release: zoomguard db upgrade
    web:     waitress-serve ... --call zoomguard.webhooks:create_app
    worker:  zoomguard worker        (drains the event inbox; run as many as you like)
    clock:   zoomguard clock         (the schedule of zoomguard.runtime.jobs; one is enough)

``zoomguard run`` is all three in one process, for one small machine on SQLite: the web app on
werkzeug's threaded server, worker threads and the scheduler. Every command logs through
``zoomguard.runtime.logs`` (``ZOOMGUARD_LOG_FORMAT=json`` for JSON lines) and
stops cleanly on SIGTERM
or Ctrl-C: the web server stops accepting, each worker finishes the event in hand and gives the
rest back, a sweep in progress finishes the meetings in flight.

``zoomguard.cli`` registers these with ``main.add_command``; what they share with the other
commands comes from ``zoomguard.cli.common``.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from zoomguard.cli.common import open_store, stop_on_signals
from zoomguard.config import Settings
from zoomguard.errors import StoreError
from zoomguard.runtime.logs import configure_logging

if TYPE_CHECKING:
    from zoomguard.runtime.jobs import Intervals
    from zoomguard.store import InboxItem, Store

Handler = Callable[["InboxItem"], None]
HandlerFactory = Callable[[Settings, "Store"], Handler]
DeadHandler = Callable[["InboxItem", str], None]

log = logging.getLogger("zoomguard.service")

# How long a stopping worker process waits for its loops before giving their claims back and
# exiting: under the 10 s grace most supervisors give after SIGTERM.
STOP_GRACE_SECONDS = 7.0
# How often a waiting main thread looks at the stop event (signals also wake it).
_WAIT_SLICE_SECONDS = 0.5


def _settings_and_store(*, auto_upgrade: bool | None = None) -> tuple[Settings, Store]:
    """Settings, the store, and the account the environment names registered: every service
    process enforces it from its first second, before any sweep."""
    # Imported here, not at the top: the `zoomguard` command loads this module for every
    # command and must not pay for the service layer unless a service process starts.
    from zoomguard.service.clients import register_env_account

    settings = Settings.from_env()
    configure_logging(settings)
    store = open_store(settings, auto_upgrade=auto_upgrade)
    register_env_account(settings, store)
    return settings, store


def _wait(stop: threading.Event) -> None:
    while not stop.wait(_WAIT_SLICE_SECONDS):
        pass


def load_handler_factory(spec: str) -> HandlerFactory:
    """``package.module:callable`` -> the callable, which makes the worker's handler.

    The callable is called as ``factory(settings, store)`` and returns the handler (a callable
    taking an ``InboxItem``, raising on failure).
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise click.BadParameter("expected module:callable", param_hint="--handler")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise click.BadParameter(f"cannot load {spec}: {exc}", param_hint="--handler") from None
    if not callable(target):
        raise click.BadParameter(f"{spec} is not callable", param_hint="--handler")
    factory: HandlerFactory = target
    return factory


# --- worker ----------------------------------------------------------------------------------


class WorkerPool:
    """``threads`` worker loops over one store, each with its own worker id; counted in metrics.

    Without ``handler_factory`` events go to the service's ``EventDispatcher`` and events given up
    on are alerted by ``on_dead``.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        stop: threading.Event,
        *,
        threads: int = 1,
        batch: int = 10,
        poll_interval: float | None = None,
        lease_seconds: float | None = None,
        max_attempts: int = 5,
        handler_factory: HandlerFactory | None = None,
    ) -> None:
        from zoomguard.runtime import worker
        from zoomguard.runtime.metrics import process_metrics

        self.settings = settings
        self.store = store
        self.stop = stop
        self.threads = max(1, threads)
        self.batch = batch
        self.poll_interval = (
            poll_interval if poll_interval is not None else worker.DEFAULT_POLL_SECONDS
        )
        self.lease_seconds = (
            lease_seconds if lease_seconds is not None else worker.DEFAULT_LEASE_SECONDS
        )
        self.max_attempts = max_attempts
        self._metrics = process_metrics()
        self._closers: list[Callable[[], None]] = []
        # The dispatcher's client factory, which settles audit intents left by killed processes.
        self._reconcile_with: Callable[[Any], Any] | None = None
        self.handler, self.on_dead = self._make_handler(handler_factory)
        self._threads: list[threading.Thread] = []
        self._worker_ids: list[str] = []

    def _make_handler(self, factory: HandlerFactory | None) -> tuple[Handler, DeadHandler]:
        counted = self._metrics.events_handled
        dead_hook: DeadHandler | None = None
        if factory is not None:
            inner = factory(self.settings, self.store)
        else:
            from zoomguard.runtime.jobs import observed_client_factory
            from zoomguard.service import events

            dispatcher = events.EventDispatcher(
                self.settings,
                self.store,
                client_factory=observed_client_factory(
                    self.settings, self.store, self._metrics, stop=self.stop
                ),
            )
            self._closers.append(dispatcher.close)
            self._reconcile_with = dispatcher.client
            inner = dispatcher
            dead_hook = events.on_dead(self.settings, self.store)
        urgent_events = _urgent_events()

        def handle(item: InboxItem) -> None:
            try:
                inner(item)
            except Exception:
                counted.labels(outcome="failed").inc()
                raise
            counted.labels(outcome="done").inc()
            if item.event in urgent_events:
                self._send_alerts_now()

        def on_dead(item: InboxItem, error: str) -> None:
            counted.labels(outcome="dead").inc()
            if dead_hook is not None:
                dead_hook(item, error)
                self._send_alerts_now()

        return handle, on_dead

    def _send_alerts_now(self) -> None:
        """A recording or a dead event cannot wait for the clock's next outbox run (up to
        ZOOMGUARD_OUTBOX_INTERVAL_SECONDS): compose and send now. A failure here is logged and
        left to the clock; it never fails the event, whose alert is already in the outbox."""
        from zoomguard import notify
        from zoomguard.service.clients import utcnow

        try:
            now = utcnow()
            notify.compose_pending(self.store, self.settings, now)
            sender = notify.sender_from_settings(self.settings)
            if sender is not None:
                notify.flush_outbox(
                    self.store, sender, now, backoff_seconds=self.settings.outbox_retry_seconds
                )
        except Exception:
            log.warning("could not send alerts at once; the clock will retry", exc_info=True)

    def _reconcile(self) -> None:
        """At start-up: settle the audit intents a killed process left (re-reading Zoom)."""
        from zoomguard.service.clients import utcnow
        from zoomguard.service.reconcile import reconcile_intents

        if self._reconcile_with is None:
            return
        try:
            reconcile_intents(self.settings, self.store, self._reconcile_with, now=utcnow())
        except Exception:
            log.warning("could not reconcile audit intents; the next sweep will", exc_info=True)

    def start(self) -> None:
        from zoomguard.runtime import worker

        # Beside the loops, not before them: Zoom may be slow, and events must not wait.
        threading.Thread(target=self._reconcile, name="zg-reconcile", daemon=True).start()

        for number in range(self.threads):
            worker_id = worker.default_worker_id(str(number) if self.threads > 1 else "")
            thread = threading.Thread(
                target=worker.run_worker,
                args=(self.store, self.handler),
                kwargs={
                    "worker_id": worker_id,
                    "stop": self.stop,
                    "batch": self.batch,
                    "poll_interval": self.poll_interval,
                    "max_attempts": self.max_attempts,
                    "lease_seconds": self.lease_seconds,
                    "on_dead": self.on_dead,
                },
                name=f"zg-worker-{number}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
            self._worker_ids.append(worker_id)

    def join(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Wait for the worker loops after ``stop``, at most ``grace_seconds`` in all.

        A loop still busy then (a handler inside a slow HTTP request, which the stop event cannot
        cut short) has its claims given back here, so the process can exit before the
        supervisor's SIGKILL and another worker picks its events up at once.
        """
        deadline = time.monotonic() + grace_seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for worker_id, thread in zip(self._worker_ids, self._threads, strict=True):
            if thread.is_alive():
                try:
                    released = self.store.inbox.release_held(worker_id)
                except StoreError as exc:
                    log.warning("%s: claims left to lapse: %s", worker_id, exc.message)
                    continue
                log.warning(
                    "%s still busy after %.0f s: gave back %d events",
                    worker_id,
                    grace_seconds,
                    released,
                )
        for close in self._closers:
            close()


def _urgent_events() -> frozenset[str]:
    """Events whose alert goes out at once, from the worker, rather than at the clock's next run:
    the listeners declared them urgent (``zoomguard.service.events``)."""
    from zoomguard.service.events import URGENT_EVENTS

    return URGENT_EVENTS


@contextmanager
def _serving_metrics(port: int | None) -> Iterator[None]:
    if port is not None:
        from zoomguard.runtime.metrics import serve_process_metrics

        serve_process_metrics(port)
    yield


@click.command()
@click.option("--threads", default=1, show_default=True, help="Worker loops in this process.")
@click.option("--batch", default=10, show_default=True, help="Events claimed at a time.")
@click.option(
    "--poll-interval",
    type=float,
    default=None,
    help="Seconds between polls when idle [default: 0.1].",
)
@click.option(
    "--lease-seconds",
    type=float,
    default=None,
    help=(
        "How long a claim lasts unless renewed: a killed worker's events are taken over after "
        "it [default: 30]."
    ),
)
@click.option(
    "--max-attempts", default=5, show_default=True, help="Attempts before an event is dead."
)
@click.option("--metrics-port", type=int, help="Serve this process's counters on 127.0.0.1:PORT.")
@click.option(
    "--handler",
    "handler_spec",
    hidden=True,
    help="module:callable making the event handler from (settings, store); for tests.",
)
def worker(
    threads: int,
    batch: int,
    poll_interval: float | None,
    lease_seconds: float | None,
    max_attempts: int,
    metrics_port: int | None,
    handler_spec: str | None,
) -> None:
    """Drain the webhook event inbox until SIGTERM (run several on PostgreSQL)."""
    factory = load_handler_factory(handler_spec) if handler_spec else None
    settings, store = _settings_and_store(auto_upgrade=None)
    with _serving_metrics(metrics_port), stop_on_signals() as stop:
        pool = WorkerPool(
            settings,
            store,
            stop,
            threads=threads,
            batch=batch,
            poll_interval=poll_interval,
            lease_seconds=lease_seconds,
            max_attempts=max_attempts,
            handler_factory=factory,
        )
        pool.start()
        log.info("worker started: %d thread(s)", pool.threads)
        _wait(stop)
        pool.join()
    store.close()
    log.info("worker stopped")


# --- clock -----------------------------------------------------------------------------------


@click.command()
@click.option("--metrics-port", type=int, help="Serve this process's counters on 127.0.0.1:PORT.")
@click.option(
    "--sweep-interval-seconds",
    type=float,
    hidden=True,
    help="Override ZOOMGUARD_SWEEP_INTERVAL_MINUTES with seconds (tests, demos).",
)
def clock(metrics_port: int | None, sweep_interval_seconds: float | None) -> None:
    """Run the schedule (sweeps, alert emails, token renewal, retention) until SIGTERM."""
    from zoomguard.runtime.jobs import ServiceJobs, start_scheduler, stop_scheduler

    settings, store = _settings_and_store(auto_upgrade=None)
    intervals = _intervals(settings, sweep_interval_seconds)
    with _serving_metrics(metrics_port), stop_on_signals() as stop:
        jobs = ServiceJobs(settings, store, stop=stop)
        scheduler = start_scheduler(jobs, intervals)
        log.info("clock started")
        _wait(stop)
        stop_scheduler(scheduler, jobs)
    store.close()
    log.info("clock stopped")


def _intervals(settings: Settings, sweep_seconds: float | None) -> Intervals:
    from zoomguard.runtime.jobs import Intervals

    intervals = Intervals.from_settings(settings)
    if sweep_seconds is not None:
        if sweep_seconds <= 0:
            raise click.BadParameter("must be positive", param_hint="--sweep-interval-seconds")
        intervals = Intervals(
            sweep=timedelta(seconds=sweep_seconds),
            alerts=intervals.alerts,
            inbox=intervals.inbox,
            tokens=intervals.tokens,
            retention=intervals.retention,
        )
    return intervals


# --- run: everything in one process -----------------------------------------------------------


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port for webhooks and /healthz.")
@click.option("--workers", default=2, show_default=True, help="Inbox worker threads.")
@click.option(
    "--sweep-interval-seconds",
    type=float,
    hidden=True,
    help="Override ZOOMGUARD_SWEEP_INTERVAL_MINUTES with seconds (tests, demos).",
)
def run(host: str, port: int, workers: int, sweep_interval_seconds: float | None) -> None:
    """Web, worker and clock in one process (one small machine; SQLite is fine)."""
    from werkzeug.serving import make_server

    from zoomguard.runtime.jobs import ServiceJobs, start_scheduler, stop_scheduler
    from zoomguard.webhooks import create_app
    from zoomguard.webhooks.access_log import ScrubbingRequestHandler
    from zoomguard.webhooks.health import PROCESS_METRICS

    settings, store = _settings_and_store()
    intervals = _intervals(settings, sweep_interval_seconds)
    app = create_app(settings, store)
    app.config[PROCESS_METRICS] = True
    server = make_server(host, port, app, threaded=True, request_handler=ScrubbingRequestHandler)
    web = threading.Thread(target=server.serve_forever, name="zg-web", daemon=True)
    with stop_on_signals() as stop:
        pool = WorkerPool(settings, store, stop, threads=workers)
        jobs = ServiceJobs(settings, store, stop=stop)
        web.start()
        pool.start()
        scheduler = start_scheduler(jobs, intervals)
        log.info(
            "zoomguard running on http://%s:%d (%d worker threads)", host, server.port, workers
        )
        _wait(stop)
        server.shutdown()
        stop_scheduler(scheduler, jobs)
        pool.join()
        web.join()
    server.server_close()
    store.close()
    log.info("zoomguard stopped")


SERVICE_COMMANDS: tuple[click.Command, ...] = (worker, clock, run)


def register(group: click.Group) -> None:
    """Adds ``worker``, ``clock`` and ``run`` to the ``zoomguard`` command group."""
    for command in SERVICE_COMMANDS:
        group.add_command(command)
