"""What one baseline run shares between its two halves (the settings and the recordings): the
account lease, the open findings it started from, the errors it met, a bounded thread pool, and
the stop check; and ``Target``, one account, group or user as read."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from zoomguard.config import Settings
from zoomguard.errors import Interrupted, ZoomAPIError, ZoomAuthError, ZoomGuardError
from zoomguard.rules import baseline as bl
from zoomguard.rules import policy
from zoomguard.service.clients import Clock, holder_id
from zoomguard.store import Store
from zoomguard.store.core import AccountRecord
from zoomguard.zoom.client import ZoomClient

log = logging.getLogger("zoomguard.service.baseline")

BASELINE_LEASE_SECONDS = 15 * 60
DEFAULT_ACTOR = "baseline"

# "account", ("group", group_id) or ("user", user_id)
Scope = str | tuple[str, str]

_T = TypeVar("_T")
_R = TypeVar("_R")


class BaselineBusy(ZoomGuardError):
    reason = "baseline_busy"


@dataclass
class Target:
    """One account, group or user as read, with what zoomguard did to it."""

    level: str
    ident: str | None
    name: str | None  # the group's name or the user's email
    settings: dict[str, Any]
    locks: dict[str, Any] | None
    evaluation: bl.TargetEvaluation
    inherited: dict[str, bool] | None = None
    # Values of the levels it inherits from (account, groups): zoomguard.rules.baseline.evaluate.
    above: tuple[dict[str, Any], ...] = ()
    pmi: str | None = None
    group_ids: tuple[str, ...] = ()
    # The target as last read after zoomguard acted (None: nothing was re-read).
    after: bl.TargetEvaluation | None = None
    results: tuple[bl.SettingResult, ...] = ()
    audits: list[dict[str, Any]] = field(default_factory=list)
    patches: int = 0

    @property
    def target(self) -> str:
        return self.evaluation.target

    @property
    def latest(self) -> bl.TargetEvaluation:
        return self.after if self.after is not None else self.evaluation


class BaselineRun:
    """One run on one account: who acts, in which mode, and what it has met so far."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: ZoomClient,
        account: AccountRecord,
        *,
        profile: policy.Profile,
        dry_run: bool,
        actor: str,
        stop: threading.Event,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.account = account
        self.profile = profile
        self.dry_run = dry_run
        self.actor = actor
        self.stop = stop
        self.clock = clock
        self.errors: list[str] = []
        self._errors_lock = threading.Lock()
        # (target, rule id) -> status of every open baseline finding when the run began.
        self.open: dict[tuple[str, str], str] = {}
        self.open_targets: set[str] = set()

    @property
    def enforce(self) -> bool:
        return self.profile.baseline_mode == "enforce" and not self.dry_run

    def load_open_findings(self) -> None:
        self.open = {
            (f.meeting_id, f.rule_id): f.status
            for f in self.store.open_findings(self.account.id)
            if bl.is_baseline_rule(f.rule_id)
        }
        self.open_targets = {target for target, _ in self.open}

    def resolve_targets(self, targets: Iterable[str]) -> None:
        """Resolves every open finding of ``targets`` (they are gone or compliant)."""
        gone = sorted(set(targets))
        if not gone:
            return
        now = self.clock()
        with self.store.transaction() as session:
            for target in gone:
                self.store.resolve_meeting_findings(
                    session, account_pk=self.account.id, meeting_id=target, now=now
                )

    def lease(self) -> BaselineLease:
        return BaselineLease(self.store, f"baseline:{self.account.id}", self.clock)

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise Interrupted("baseline interrupted")

    def map(self, fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
        """``fn`` over ``items`` on a bounded pool, results in order. One item's Zoom API error
        is noted and the item skipped; anything else (auth, network, a stop, a bug) stops the
        other items and is raised once the pool has drained."""
        listed = list(items)
        if not listed:
            return []
        fatal: list[BaseException] = []
        abort = threading.Event()

        def guarded(item: _T) -> tuple[bool, _R | None]:
            if abort.is_set() or self.stop.is_set():
                return False, None
            try:
                return True, fn(item)
            except ZoomAuthError as exc:
                fatal.append(exc)
            except ZoomAPIError as exc:
                log.warning("baseline: %s", exc)
                with self._errors_lock:
                    self.errors.append(str(exc))
            except BaseException as exc:
                fatal.append(exc)
            abort.set()
            return False, None

        workers = max(1, min(self.settings.concurrency, len(listed)))
        with ThreadPoolExecutor(workers, thread_name_prefix="zg-baseline") as pool:
            outcomes = list(pool.map(guarded, listed))
        if fatal:
            raise fatal[0]
        self.check_stop()
        return [value for ok, value in outcomes if ok]  # type: ignore[misc]


class BaselineLease:
    """``baseline:<account>``: one baseline run or re-check per account at a time."""

    def __init__(self, store: Store, name: str, clock: Clock) -> None:
        self.store, self.name, self.clock = store, name, clock
        self.holder = holder_id() + f":{threading.get_ident()}"

    def __enter__(self) -> BaselineLease:
        if not self.store.acquire_lease(
            self.name, self.holder, BASELINE_LEASE_SECONDS, self.clock()
        ):
            raise BaselineBusy(f"{self.name} is held by another process")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.store.release_lease(self.name, self.holder)
