"""Is zoomguard doing its job? The answer /healthz gives, computed from the database.

Checks (each says ok or not, with the numbers behind it):

- ``database``: a ``SELECT 1`` answers. When it does not, nothing else is checked.
- ``sweeps``: every active account had a completed sweep within ``2 * sweep interval + grace``
  (one missed run is tolerated: a long sweep or a restarted clock). An account connected more
  recently than that is not overdue yet, so a fresh deployment is healthy before its first sweep.
- ``sweep_coverage``: no active account's latest finished sweep is ``incomplete`` (it could not
  list users or meetings, or read most meetings: a scope missing, say); the detail names the
  cause, as the sweep recorded it.
- ``accounts``: no account was deauthorized (its Zoom app removed, so nothing is enforced there).
- ``inbox``: the oldest pending event has not been due for longer than ``inbox_overdue``, and
  no event is stuck in ``processing`` (its claim ran out over ``STUCK_CLAIM_GRACE`` ago and no
  worker took it over): otherwise no worker is running, or they cannot keep up.
- ``outbox``: no alert email has waited longer than ``alert_unsent_warn_seconds`` for an SMTP
  server that is configured (without one, emails stay in the local outbox by design).
- ``unknown_accounts``: events for a Zoom account zoomguard does not know (kept, not acted on).
  Informational, like ``dead_events``: they show a webhook subscription without a connected
  account; ``zoomguard report`` lists them.
- ``dead_events``: how many events were given up on. Informational, never failing: the privacy
  officer was already alerted about each, and restarting a process would not bring one back.

Only counts, ages and causes (such as a missing scope's name) are reported, never an account's
identity: /healthz is reachable by anyone who can reach the web process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from zoomguard import notify
from zoomguard.config import Settings
from zoomguard.errors import StoreError
from zoomguard.service.clients import utcnow
from zoomguard.store import Store, inbox
from zoomguard.store.models import (
    ACCOUNT_DEAUTHORIZED,
    SWEEP_COMPLETED,
    SWEEP_INCOMPLETE,
    SWEEP_RUNNING,
)

Clock = Callable[[], datetime]

# Slack on top of two sweep intervals before a sweep counts as overdue.
SWEEP_GRACE = timedelta(minutes=15)
# A pending event due for longer than this means the workers are not draining the inbox.
DEFAULT_INBOX_OVERDUE = timedelta(minutes=15)
# A live worker takes a lapsed claim over at its next poll (a tenth of a second); one still
# lapsed after this long means its worker died and no other worker is running.
STUCK_CLAIM_GRACE = timedelta(minutes=1)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    values: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, **self.values}


@dataclass(frozen=True)
class HealthReport:
    checks: tuple[Check, ...]
    checked_at: datetime

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def database_ok(self) -> bool:
        return any(c.name == "database" and c.ok for c in self.checks)

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "failing",
            "checked_at": self.checked_at.isoformat(),
            "checks": {check.name: check.as_dict() for check in self.checks},
        }


def sweep_overdue_after(settings: Settings) -> timedelta:
    return 2 * timedelta(minutes=settings.sweep_interval_minutes) + SWEEP_GRACE


def check_health(
    store: Store,
    settings: Settings,
    *,
    clock: Clock = utcnow,
    inbox_overdue: timedelta = DEFAULT_INBOX_OVERDUE,
) -> HealthReport:
    now = clock()
    database = _database(store)
    if not database.ok:
        return HealthReport((database,), now)
    try:
        draining, dead = _inbox(store, now, inbox_overdue)
        checks = (
            database,
            _sweeps(store, settings, now),
            _sweep_coverage(store),
            _accounts(store),
            draining,
            _outbox(store, settings, now),
            _unknown_accounts(store),
            dead,
        )
    except (StoreError, SQLAlchemyError) as exc:
        # The database went away between the ping and the queries.
        return HealthReport((Check("database", False, _database_error(exc)),), now)
    return HealthReport(checks, now)


def _database_error(exc: Exception) -> str:
    # The driver's first line only: it says what is wrong, never the statement's parameters.
    if isinstance(exc, StoreError):
        return exc.message
    orig = getattr(exc, "orig", None)
    text = str(orig) if orig is not None else type(exc).__name__
    return "database error: " + (text.strip().splitlines() or [type(exc).__name__])[0]


def _database(store: Store) -> Check:
    try:
        store.ping()
    except (StoreError, SQLAlchemyError) as exc:
        return Check("database", False, _database_error(exc))
    return Check("database", True, "reachable")


def _sweeps(store: Store, settings: Settings, now: datetime) -> Check:
    limit = sweep_overdue_after(settings)
    accounts = store.accounts.list_all(active_only=True)
    overdue: list[int] = []
    oldest_age: float | None = None
    for account in accounts:
        last = store.sweeps.last(account.id, status=SWEEP_COMPLETED)
        reference = (last.finished_at or last.started_at) if last is not None else None
        if reference is None:
            if now - account.created_at > limit:
                overdue.append(account.id)
            continue
        age = (now - reference).total_seconds()
        oldest_age = age if oldest_age is None else max(oldest_age, age)
        if age > limit.total_seconds():
            overdue.append(account.id)
    values: dict[str, Any] = {
        "accounts": len(accounts),
        "oldest_last_sweep_age_seconds": None if oldest_age is None else round(oldest_age, 1),
        "overdue_after_seconds": int(limit.total_seconds()),
        "overdue_accounts": len(overdue),
    }
    if overdue:
        detail = f"{len(overdue)} account(s) not swept within {_human(limit)}"
        return Check("sweeps", False, detail, values)
    if not accounts:
        return Check("sweeps", True, "no connected account yet", values)
    return Check("sweeps", True, "every account swept on time", values)


def _sweep_coverage(store: Store) -> Check:
    incomplete: list[str] = []
    for account in store.accounts.list_all(active_only=True):
        finished = next(
            (s for s in store.sweeps.recent(5, account_pk=account.id) if s.status != SWEEP_RUNNING),
            None,
        )
        if finished is not None and finished.status == SWEEP_INCOMPLETE:
            incomplete.append(finished.error or "no cause recorded")
    values: dict[str, Any] = {"incomplete_accounts": len(incomplete)}
    if incomplete:
        causes = "; ".join(dict.fromkeys(incomplete))
        detail = f"{len(incomplete)} account(s) whose last sweep is incomplete: {causes}"
        return Check("sweep_coverage", False, detail, values)
    return Check("sweep_coverage", True, "every last sweep checked its account", values)


def _accounts(store: Store) -> Check:
    accounts = store.accounts.list_all(active_only=False)
    removed = sum(1 for a in accounts if a.status == ACCOUNT_DEAUTHORIZED)
    values: dict[str, Any] = {"deauthorized": removed}
    if removed:
        detail = f"{removed} account(s) deauthorized: zoomguard's Zoom app was removed"
        return Check("accounts", False, detail, values)
    return Check("accounts", True, "every connected account authorized", values)


def _unknown_accounts(store: Store) -> Check:
    count = store.inbox.count_by_status().get(inbox.UNKNOWN_ACCOUNT, 0)
    detail = (
        "none"
        if count == 0
        else f"{count} event(s) for a Zoom account zoomguard does not know: see `zoomguard report`"
    )
    return Check("unknown_accounts", True, detail, {"count": count})


def _aware(value: datetime | str | None) -> datetime | None:
    # An aggregate (min) bypasses the column type: SQLite hands back naive UTC, or text.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _inbox(store: Store, now: datetime, overdue: timedelta) -> tuple[Check, Check]:
    """The ``inbox`` check (is it draining?) and the ``dead_events`` one."""
    counts = store.inbox.count_by_status()
    oldest_due = _aware(store.inbox.oldest_due_at())
    waited = 0.0 if oldest_due is None else max(0.0, (now - oldest_due).total_seconds())
    stuck = store.inbox.stuck_processing(now - STUCK_CLAIM_GRACE)
    values: dict[str, Any] = {
        "pending": counts.get(inbox.PENDING, 0),
        "processing": counts.get(inbox.PROCESSING, 0),
        "stuck_processing": stuck,
        "oldest_due_seconds": round(waited, 1),
        "overdue_after_seconds": int(overdue.total_seconds()),
    }
    if waited > overdue.total_seconds():
        draining = Check("inbox", False, f"events waiting for over {_human(overdue)}", values)
    elif stuck:
        detail = f"{stuck} event(s) stuck in processing: their worker stopped and none took over"
        draining = Check("inbox", False, detail, values)
    else:
        draining = Check("inbox", True, "draining", values)
    dead = counts.get(inbox.DEAD, 0)
    detail = "none" if dead == 0 else f"{dead} event(s) given up on: see `zoomguard report`"
    return draining, Check("dead_events", True, detail, {"count": dead})


def _outbox(store: Store, settings: Settings, now: datetime) -> Check:
    smtp = bool(settings.smtp_url)
    status = notify.outbox_status(
        store, now, settings.alert_unsent_warn_seconds, smtp_configured=smtp
    )
    values: dict[str, Any] = {
        "pending": status.pending,
        "overdue": status.overdue,
        "oldest_pending_age_seconds": None
        if status.oldest_pending_age_seconds is None
        else round(status.oldest_pending_age_seconds, 1),
        "waiting_alerts": status.waiting_alerts,
        "smtp_configured": smtp,
    }
    if status.local_only:
        return Check("outbox", True, "no SMTP configured: emails kept in the local outbox", values)
    if status.overdue:
        warn = timedelta(seconds=settings.alert_unsent_warn_seconds)
        return Check(
            "outbox", False, f"{status.overdue} email(s) unsent for over {_human(warn)}", values
        )
    return Check("outbox", True, "delivering", values)


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
