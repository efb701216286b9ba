"""Counts over the whole database for the Prometheus ``/metrics`` scrape, read in one
transaction so that one scrape is one consistent picture."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zoomguard.store.database import Database, aggregate_utc
from zoomguard.store.models import (
    SWEEP_COMPLETED,
    Account,
    Alert,
    AuditEntry,
    Email,
    Finding,
    InboxEvent,
    Sweep,
)


@dataclass(frozen=True)
class LastSweep:
    """An account's last completed sweep."""

    account_id: int  # never 0: the query keeps sweeps of an account only
    started_at: datetime
    finished_at: datetime | None
    fixed: int


@dataclass(frozen=True)
class DatabaseCounts:
    """Each ``*_by_*`` is (group values..., count) rows, only for groups that have rows."""

    inbox_by_status: tuple[tuple[str, int], ...]
    oldest_due_inbox_at: datetime | None  # the oldest pending event already due
    findings_by_status: tuple[tuple[str, bool, int], ...]  # (status, resolved, count)
    changes: tuple[tuple[str, str, bool | None, int], ...]  # (actor, action, confirmed, count)
    sweeps_by_status: tuple[tuple[str, int], ...]
    last_sweeps: tuple[LastSweep, ...]
    alerts_by_category: tuple[tuple[str, bool, int], ...]  # (category, composed, count)
    emails_by_kind: tuple[tuple[str, str, int], ...]  # (kind, status, count)
    accounts_by_status: tuple[tuple[str, int], ...]


def _grouped(session: Session, *columns: Any) -> tuple[tuple[Any, ...], ...]:
    """``SELECT columns..., count(*) ... GROUP BY columns`` as plain tuples."""
    query = select(*columns, func.count()).group_by(*columns)
    return tuple((*row[:-1], int(row[-1])) for row in session.execute(query))


class Stats:
    def __init__(self, db: Database) -> None:
        self._db = db

    def counts(self, now: datetime) -> DatabaseCounts:
        with self._db.transaction() as session:
            oldest = session.scalar(
                select(func.min(InboxEvent.next_attempt_at)).where(
                    InboxEvent.status == "pending", InboxEvent.next_attempt_at <= now
                )
            )
            latest = (
                select(Sweep.account_id, func.max(Sweep.id).label("id"))
                .where(Sweep.status == SWEEP_COMPLETED, Sweep.account_id.is_not(None))
                .group_by(Sweep.account_id)
                .subquery()
            )
            last_sweeps = tuple(
                LastSweep(int(account_id or 0), started_at, finished_at, int(fixed or 0))
                for account_id, started_at, finished_at, fixed in session.execute(
                    select(Sweep.account_id, Sweep.started_at, Sweep.finished_at, Sweep.fixed).join(
                        latest, Sweep.id == latest.c.id
                    )
                )
            )
            return DatabaseCounts(
                inbox_by_status=_grouped(session, InboxEvent.status),
                oldest_due_inbox_at=aggregate_utc(oldest),
                findings_by_status=_grouped(
                    session, Finding.status, Finding.resolved_at.is_not(None).label("resolved")
                ),
                changes=_grouped(
                    session, AuditEntry.actor, AuditEntry.action, AuditEntry.confirmed
                ),
                sweeps_by_status=_grouped(session, Sweep.status),
                last_sweeps=last_sweeps,
                alerts_by_category=_grouped(
                    session, Alert.category, Alert.email_id.is_not(None).label("composed")
                ),
                emails_by_kind=_grouped(session, Email.kind, Email.status),
                accounts_by_status=_grouped(session, Account.status),
            )
