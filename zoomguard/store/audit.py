"""The audit log: every change zoomguard made or tried, append-only (there is deliberately no
update or delete here; only retention, in ``zoomguard.store.maintenance``, removes old entries)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zoomguard.store.database import Database
from zoomguard.store.models import AuditEntry
from zoomguard.store.records import AuditRecord, audit_record


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def append(
        self,
        *,
        session: Session | None = None,
        account_pk: int | None,
        actor: str,
        action: str,
        target: str,
        before: Any,
        after: Any,
        confirmed: bool | None,
        detail: str | None = None,
        now: datetime,
    ) -> int:
        with self._db.joined(session) as s:
            row = AuditEntry(
                at=now,
                account_id=account_pk,
                actor=actor,
                action=action,
                target=target,
                before=before,
                after=after,
                confirmed=confirmed,
                detail=detail,
            )
            s.add(row)
            s.flush()
            return row.id

    def recent(self, limit: int = 50, *, account_pk: int | None = None) -> list[AuditRecord]:
        """Newest first."""
        query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
        if account_pk is not None:
            query = query.where(AuditEntry.account_id == account_pk)
        with self._db.transaction() as session:
            return [audit_record(row) for row in session.scalars(query)]

    def count(self, *, account_pk: int | None = None) -> int:
        """How many entries there are (so a shortened list can say what it leaves out)."""
        query = select(func.count(AuditEntry.id))
        if account_pk is not None:
            query = query.where(AuditEntry.account_id == account_pk)
        with self._db.transaction() as session:
            return int(session.scalar(query) or 0)

    def last_change(
        self, account_pk: int, target: str, action: str, *, since: datetime
    ) -> AuditRecord | None:
        """The newest audit entry for ``target`` and ``action`` at or after ``since``.

        The webhook worker asks this before patching a meeting again: zoomguard's own PATCH comes
        back as meeting.updated, and a fix Zoom overrode must not be retried in a loop.
        """
        query = (
            select(AuditEntry)
            .where(
                AuditEntry.account_id == account_pk,
                AuditEntry.target == target,
                AuditEntry.action == action,
                AuditEntry.at >= since,
            )
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(1)
        )
        with self._db.transaction() as session:
            row = session.scalars(query).first()
            return audit_record(row) if row is not None else None
