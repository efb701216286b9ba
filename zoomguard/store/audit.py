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

from sqlalchemy import Insert, Update, bindparam, func, insert, select, update

from zoomguard.store.database import Database, Executor, inserted_id, rowcount, table_of
from zoomguard.store.models import AUDIT_INTENT, AuditEntry
from zoomguard.store.records import AuditRecord, audit_record

# An intent whose change Zoom did not make (it refused, or the meeting was gone).
ABANDONED = "abandoned"

_AUDIT = table_of(AuditEntry)
# Built once (so compiled once): the sweep writes and settles an intent for every PATCH.
_INSERT: Insert = insert(_AUDIT)


def _settle_statement(with_after: bool) -> Update:
    values = {
        "state": bindparam("p_state", type_=_AUDIT.c.state.type),
        "confirmed": bindparam("p_confirmed", type_=_AUDIT.c.confirmed.type),
        "detail": bindparam("p_detail", type_=_AUDIT.c.detail.type),
    }
    if with_after:
        values["after"] = bindparam("p_after", type_=_AUDIT.c.after.type)
    return (
        update(_AUDIT)
        .where(_AUDIT.c.id == bindparam("p_id"), _AUDIT.c.state == AUDIT_INTENT)
        .values(values)
    )


# Settling keeps the intended values as ``after`` when it has no values of its own (abandon).
_SETTLE = {True: _settle_statement(True), False: _settle_statement(False)}


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _insert(self, session: Executor | None, row: dict[str, Any]) -> int:
        with self._db.joined_core(session) as s:
            return inserted_id(s.execute(_INSERT, row))

    def append(
        self,
        *,
        session: Executor | None = None,
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
        return self._insert(
            session,
            {
                "at": now,
                "account_id": account_pk,
                "actor": actor,
                "action": action,
                "target": target,
                "before": before,
                "after": after,
                "confirmed": confirmed,
                "detail": detail,
                "state": None,
                "event_id": None,
            },
        )

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
        session: Executor | None = None,
    ) -> int:
        """Write the intent row, committed before this returns (so before the call to Zoom);
        with ``session``, in the caller's transaction, which must commit before that call.
        ``event_id``: the inbox event whose handler asks (see ``for_event``)."""
        return self._insert(
            session,
            {
                "at": now,
                "account_id": account_pk,
                "actor": actor,
                "action": action,
                "target": target,
                "before": before,
                "after": intended,
                "confirmed": None,
                "detail": f"about to {action} (outcome not yet known)",
                "state": AUDIT_INTENT,
                "event_id": event_id,
            },
        )

    def complete(
        self,
        entry_id: int,
        *,
        after: Any,
        confirmed: bool | None,
        detail: str | None = None,
        session: Executor | None = None,
    ) -> bool:
        """The intent becomes the entry of the change made; False if it was already settled
        (by a reconciliation or another worker): the caller must then not alert again."""
        return self._settle(entry_id, None, after, confirmed, detail, session)

    def abandon(self, entry_id: int, *, detail: str, session: Executor | None = None) -> bool:
        """Zoom did not make the change: kept for the record, never listed as a change."""
        return self._settle(entry_id, ABANDONED, None, False, detail, session)

    def _settle(
        self,
        entry_id: int,
        state: str | None,
        after: Any,
        confirmed: bool | None,
        detail: str | None,
        session: Executor | None,
    ) -> bool:
        params: dict[str, Any] = {
            "p_id": entry_id,
            "p_state": state,
            "p_confirmed": confirmed,
            "p_detail": detail,
            "p_after": after,
        }
        if after is None:
            del params["p_after"]
        with self._db.joined_core(session) as s:
            return rowcount(s.execute(_SETTLE[after is not None], params)) == 1

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
