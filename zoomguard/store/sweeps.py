"""Sweep runs: started, finished with their counts, or found dead and marked interrupted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from zoomguard.store.database import Database, rowcount
from zoomguard.store.models import (
    SWEEP_INTERRUPTED,
    SWEEP_RUNNING,
    SWEEP_STATUSES,
    Lease,
    Sweep,
)
from zoomguard.store.records import SweepCounts, SweepRecord, SweepRow, sweep_record

STALE_SWEEP_ERROR = "the process running this sweep stopped before it finished"


class Sweeps:
    def __init__(self, db: Database) -> None:
        self._db = db

    def start(
        self,
        account_pk: int | None,
        dry_run: bool,
        now: datetime,
        holder: str | None = None,
        *,
        session: Session | None = None,
    ) -> int:
        with self._db.joined(session) as s:
            row = Sweep(
                account_id=account_pk,
                started_at=now,
                status=SWEEP_RUNNING,
                dry_run=dry_run,
                holder=holder,
            )
            s.add(row)
            s.flush()
            return row.id

    def finish(
        self,
        sweep_id: int,
        status: str,
        counts: SweepCounts,
        now: datetime,
        error: str | None = None,
        *,
        note: str | None = None,
        session: Session | None = None,
    ) -> None:
        if status not in SWEEP_STATUSES or status == SWEEP_RUNNING:
            raise ValueError(f"a sweep cannot finish as {status!r}")
        with self._db.joined(session) as s:
            row = s.get(Sweep, sweep_id)
            if row is None:
                raise LookupError(f"no sweep with id {sweep_id}")
            row.status = status
            row.finished_at = now
            row.error = error
            row.note = note
            row.users = counts.users
            row.meetings = counts.meetings
            row.compliant = counts.compliant
            row.noncompliant = counts.noncompliant
            row.fixed = counts.fixed
            row.failed = counts.failed
            row.exempt = counts.exempt
            row.reported = counts.reported
            row.patches = counts.patches
            row.webinars = counts.webinars
            row.not_checked = counts.not_checked
            s.flush()

    def mark_stale_running(self, now: datetime, account_pk: int | None = None) -> int:
        """Running sweeps whose holder holds no live lease become ``interrupted``.

        A process killed mid-sweep never finishes its row; its lease expires (or is taken over
        by the caller), which is how we know it is gone. A sweep without a holder cannot prove
        it is alive and counts as stale. ``account_pk`` None looks at every account.
        """
        alive = (
            select(Lease.name).where(Lease.holder == Sweep.holder, Lease.expires_at > now).exists()
        )
        stmt = (
            update(Sweep)
            .where(Sweep.status == SWEEP_RUNNING, ~alive)
            .values(status=SWEEP_INTERRUPTED, finished_at=now, error=STALE_SWEEP_ERROR)
            .execution_options(synchronize_session=False)
        )
        if account_pk is not None:
            stmt = stmt.where(Sweep.account_id == account_pk)
        with self._db.transaction() as session:
            return rowcount(session.execute(stmt))

    def get(self, sweep_id: int, *, session: Session | None = None) -> SweepRecord | None:
        with self._db.joined(session) as s:
            row = s.get(Sweep, sweep_id)
            return None if row is None else sweep_record(row)

    def summary(self, sweep_id: int, *, session: Session | None = None) -> SweepRow | None:
        """The sweep as the outbox's digests describe it (times as stored)."""
        with self._db.joined(session) as s:
            row = s.get(Sweep, sweep_id)
            if row is None:
                return None
            return SweepRow(
                id=row.id,
                account_id=row.account_id,
                started_at=row.started_at,
                finished_at=row.finished_at,
                status=row.status,
                dry_run=bool(row.dry_run),
                users=row.users or 0,
                meetings=row.meetings or 0,
                compliant=row.compliant or 0,
                noncompliant=row.noncompliant or 0,
                fixed=row.fixed or 0,
                failed=row.failed or 0,
                exempt=row.exempt or 0,
                reported=row.reported or 0,
                error=row.error,
                webinars=row.webinars or 0,
                note=row.note,
            )

    def last(
        self, account_pk: int | None = None, *, status: str | None = None
    ) -> SweepRecord | None:
        """The most recently started sweep (of one account, or of any when None)."""
        sweeps = self.recent(1, account_pk=account_pk, status=status)
        return sweeps[0] if sweeps else None

    def recent(
        self, limit: int = 20, *, account_pk: int | None = None, status: str | None = None
    ) -> list[SweepRecord]:
        """Newest first."""
        query = select(Sweep).order_by(Sweep.started_at.desc(), Sweep.id.desc()).limit(limit)
        if account_pk is not None:
            query = query.where(Sweep.account_id == account_pk)
        if status is not None:
            query = query.where(Sweep.status == status)
        with self._db.transaction() as session:
            return [sweep_record(row) for row in session.scalars(query)]
