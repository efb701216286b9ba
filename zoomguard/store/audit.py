"""The audit log: every change zoomguard made or tried, append-only but for one step.

Audit before effect: ``begin`` writes an intent (``state`` "intent": what zoomguard is about to
ask Zoom, with the values before) in its own transaction before the call; ``complete`` turns it
into the entry of what happened, once (it answers False to a second completer, so the caller
that loses writes no second alert); ``abandon`` records that the change was not made (Zoom
refused it), which lists it nowhere as a change. ``unfinished`` lists the intents a killed
process left, for ``zoomguard.service.reconcile`` to settle by re-reading Zoom. There is no
other update and no delete; only retention (``zoomguard.store.retention``) removes old entries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from zoomguard.store.database import Database, rowcount
from zoomguard.store.models import AUDIT_INTENT, AuditEntry
from zoomguard.store.records import AuditRecord, audit_record

# An intent whose change Zoom did not make (it refused, or the meeting was gone).
ABANDONED = "abandoned"


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

    def begin(
        self,
        *,
        account_pk: int | None,
        actor: str,
        action: str,
        target: str,
        before: Any,
        intended: Any,
        now: datetime,
        event_id: int | None = None,
        session: Session | None = None,
    ) -> int:
        """Write the intent row, committed before this returns (so before the call to Zoom);
        with ``session``, in the caller's transaction, which must commit before that call.
        ``event_id``: the inbox event whose handler asks (see ``for_event``)."""
        with self._db.joined(session) as s:
            row = AuditEntry(
                at=now,
                account_id=account_pk,
                actor=actor,
                action=action,
                target=target,
                before=before,
                after=intended,
                confirmed=None,
                detail=f"about to {action} (outcome not yet known)",
                state=AUDIT_INTENT,
                event_id=event_id,
            )
            s.add(row)
            s.flush()
            return row.id

    def complete(
        self,
        entry_id: int,
        *,
        after: Any,
        confirmed: bool | None,
        detail: str | None = None,
        session: Session | None = None,
    ) -> bool:
        """The intent becomes the entry of the change made; False if it was already settled
        (by a reconciliation or another worker): the caller must then not alert again."""
        return self._settle(entry_id, None, after, confirmed, detail, session)

    def abandon(self, entry_id: int, *, detail: str, session: Session | None = None) -> bool:
        """Zoom did not make the change: kept for the record, never listed as a change."""
        return self._settle(entry_id, ABANDONED, None, False, detail, session)

    def _settle(
        self,
        entry_id: int,
        state: str | None,
        after: Any,
        confirmed: bool | None,
        detail: str | None,
        session: Session | None,
    ) -> bool:
        values: dict[str, Any] = {"state": state, "confirmed": confirmed, "detail": detail}
        if after is not None:
            values["after"] = after
        stmt = (
            update(AuditEntry)
            .where(AuditEntry.id == entry_id, AuditEntry.state == AUDIT_INTENT)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        with self._db.joined(session) as s:
            return rowcount(s.execute(stmt)) == 1

    def unfinished(
        self, *, before: datetime, account_pk: int | None = None, limit: int = 500
    ) -> list[AuditRecord]:
        """Intents written before ``before`` and never settled: their process died between
        asking Zoom and recording the outcome. Oldest first."""
        query = (
            select(AuditEntry)
            .where(AuditEntry.state == AUDIT_INTENT, AuditEntry.at < before)
            .order_by(AuditEntry.at, AuditEntry.id)
            .limit(limit)
        )
        if account_pk is not None:
            query = query.where(AuditEntry.account_id == account_pk)
        with self._db.transaction() as session:
            return [audit_record(row) for row in session.scalars(query)]

    def for_event(self, event_id: int, action: str) -> AuditRecord | None:
        """The entry (intent or settled) that inbox event ``event_id``'s handler wrote for
        ``action``: a re-run of the event settles or skips it instead of acting again."""
        query = (
            select(AuditEntry)
            .where(AuditEntry.event_id == event_id, AuditEntry.action == action)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
        with self._db.transaction() as session:
            row = session.scalars(query).first()
            return audit_record(row) if row is not None else None

    def recent(self, limit: int = 50, *, account_pk: int | None = None) -> list[AuditRecord]:
        """Newest first; completed entries only (an intent is not yet a change)."""
        query = (
            select(AuditEntry)
            .where(AuditEntry.state.is_(None))
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
        if account_pk is not None:
            query = query.where(AuditEntry.account_id == account_pk)
        with self._db.transaction() as session:
            return [audit_record(row) for row in session.scalars(query)]

    def count(self, *, account_pk: int | None = None) -> int:
        """How many entries there are (so a shortened list can say what it leaves out)."""
        query = select(func.count(AuditEntry.id)).where(AuditEntry.state.is_(None))
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
                AuditEntry.state.is_(None),
            )
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(1)
        )
        with self._db.transaction() as session:
            row = session.scalars(query).first()
            return audit_record(row) if row is not None else None
