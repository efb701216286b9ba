"""The "Run a sweep now" button: a background thread of the web process, guarded by the lease.

Why a thread here rather than a request the clock picks up: the person who pressed the button
sees the sweep start at once (no waiting for the clock's next tick, and nothing to run at all
when no clock process is deployed, as in the demo), and the request itself returns immediately.
What makes it safe is the same lease every sweep takes (``sweep:<account id>``, in the
database): the clock, the CLI and other web workers cannot sweep the account at the same time.
Leases are per process (host:pid), so within this process a second guard, the set of running
threads, stops two clicks from starting two sweeps of one account. A web worker that dies
mid-sweep leaves its lease to expire and its sweep row is marked ``interrupted`` by the next
sweep, exactly as for a killed ``zoomguard sweep``.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable

from zoomguard import notify
from zoomguard.config import Settings
from zoomguard.errors import SweepBusy, ZoomGuardError
from zoomguard.service import Sweeper, client_for_account, load_profile, utcnow
from zoomguard.store import AccountRecord, Store
from zoomguard.zoom.client import ZoomClient

log = logging.getLogger("zoomguard.dashboard")

ClientFactory = Callable[[Settings, Store, AccountRecord], ZoomClient]


class Launch(enum.Enum):
    STARTED = "started"
    RUNNING_HERE = "already running (started from this dashboard)"
    RUNNING_ELSEWHERE = "already running (started by the scheduler or another process)"


def sweep_lease(account_pk: int) -> str:
    return f"sweep:{account_pk}"  # the name Sweeper.run takes


class SweepLauncher:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        client_factory: ClientFactory = client_for_account,
    ) -> None:
        self._settings = settings
        self._store = store
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._threads: dict[int, threading.Thread] = {}
        self._errors: dict[int, str] = {}
        self.stop_event = threading.Event()

    def running_here(self, account_pk: int) -> bool:
        with self._lock:
            thread = self._threads.get(account_pk)
            return thread is not None and thread.is_alive()

    def last_error(self, account_pk: int) -> str | None:
        """Why the last dashboard sweep of the account could not even start, if it could not."""
        with self._lock:
            return self._errors.get(account_pk)

    def start(self, account: AccountRecord, *, dry_run: bool = False) -> Launch:
        with self._lock:
            thread = self._threads.get(account.id)
            if thread is not None and thread.is_alive():
                return Launch.RUNNING_HERE
            if self._store.leases.holder(sweep_lease(account.id), utcnow()) is not None:
                return Launch.RUNNING_ELSEWHERE
            self._errors.pop(account.id, None)
            thread = threading.Thread(
                target=self._run,
                args=(account, dry_run),
                name=f"zg-sweep-now-{account.id}",
                daemon=True,  # a stopping web worker must not hang on it; the lease expires
            )
            self._threads[account.id] = thread
            thread.start()
        return Launch.STARTED

    def join(self, timeout: float | None = None) -> bool:
        """Wait for every sweep started here; True when none is left running."""
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in threads)

    def _run(self, account: AccountRecord, dry_run: bool) -> None:
        settings, store = self._settings, self._store
        try:
            client = self._client_factory(settings, store, account)
            with client:
                result = Sweeper(
                    settings,
                    store,
                    client,
                    account,
                    profile=load_profile(settings),
                    dry_run=dry_run,
                    stop=self.stop_event,
                ).run()
            log.info(
                "dashboard sweep of %s %s: %d meetings, %d fixed",
                account.zoom_account_id,
                result.status,
                result.counts.meetings,
                result.counts.fixed,
            )
        except SweepBusy:
            log.info("dashboard sweep of %s skipped: already running", account.zoom_account_id)
            return
        except ZoomGuardError as exc:
            log.warning("dashboard sweep of %s failed: %s", account.zoom_account_id, exc)
            with self._lock:
                self._errors[account.id] = str(exc)
            return
        except Exception as exc:  # a thread's exception would otherwise vanish
            log.exception("dashboard sweep of %s failed unexpectedly", account.zoom_account_id)
            with self._lock:
                self._errors[account.id] = f"unexpected error: {type(exc).__name__}"
            return
        self._deliver_alerts()

    def _deliver_alerts(self) -> None:
        """As `zoomguard sweep` does: compose the sweep's emails, send them if SMTP is set."""
        settings, store = self._settings, self._store
        try:
            notify.compose_pending(store, settings, utcnow())
            if settings.smtp_url:
                notify.flush_outbox(store, notify.sender_from_settings(settings), utcnow())
        except ZoomGuardError as exc:
            log.warning("alerts after the dashboard sweep wait in the outbox: %s", exc)
