"""What every `zoomguard` command module shares: one-line failures, settings, the store, signals.

The group (zoomguard/cli/__init__.py) imports the command modules to register them; they import
this module, never the group, so the CLI has no import cycle.
"""

from __future__ import annotations

import gc
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

import click

from zoomguard.config import Settings

if TYPE_CHECKING:
    from zoomguard.store import Store


@contextmanager
def imports_without_gc() -> Iterator[None]:
    """Import a command's modules with the cyclic garbage collector paused, then freeze what
    they made.

    Importing SQLAlchemy, requests and the use cases makes a few hundred thousand objects that
    live as long as the process; as they pile up the collector walks them again and again (a
    tenth of a sweep's start-up, which is on the path to its first request). Frozen, later
    collections skip them; nothing they hold is a cycle that would need collecting.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def fail(message: str) -> NoReturn:
    """One line on stderr and exit status 1: what an operator sees for bad input or state."""
    click.echo(f"zoomguard: {message}", err=True)
    sys.exit(1)


def load_settings() -> Settings:
    """Settings from the environment, with logging set up for a one-shot command."""
    from zoomguard.runtime.logs import configure_logging

    settings = Settings.from_env()
    # One-shot commands print their own results; the log carries only warnings by default.
    configure_logging(settings, default_level="WARNING")
    return settings


def open_store(settings: Settings, *, auto_upgrade: bool | None = None) -> Store:
    """Open the store; a local SQLite database is created/upgraded on first use."""
    from zoomguard.store import Store
    from zoomguard.store.migrate import upgrade

    if auto_upgrade is None:
        auto_upgrade = settings.database_url.startswith("sqlite")
    if auto_upgrade:
        upgrade(settings.database_url)
    return Store.open(settings)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set an event the work checks; a second Ctrl-C stops at once."""
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        click.echo(
            "\nzoomguard: stopping after the meetings in flight (Ctrl-C again to abort)", err=True
        )

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handle)
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def prepare_alerts() -> None:
    """What ``deliver_alerts`` needs, loaded ahead (a sweep runs it during its API calls)."""
    from zoomguard import notify

    notify.prepare_templates()


def deliver_alerts(settings: Settings, store: Store) -> None:
    """Compose the run's emails and try to send them now; failures wait in the outbox."""
    from zoomguard import notify
    from zoomguard.service import utcnow

    notify.compose_pending(store, settings, utcnow())
    if settings.smtp_url:
        result = notify.flush_outbox(
            store,
            notify.sender_from_settings(settings),
            utcnow(),
            backoff_seconds=settings.outbox_retry_seconds,
        )
        click.echo(f"alerts: {result.sent} sent, {result.pending} waiting in the outbox")
