"""Findings: what a sweep, a webhook or a baseline run saw of one rule on one meeting (or one
settings scope), open until the rule holds again."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exc, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from zoomguard.store.database import Database, rowcount
from zoomguard.store.models import FINDING_STATUSES, Finding, Sweep
from zoomguard.store.records import FindingRecord, finding_record


def _same_account(column: InstrumentedAttribute[int | None], pk: int | None) -> ColumnElement[bool]:
    # ``= NULL`` matches nothing in SQL: rows without an account need IS NULL.
    return column.is_(None) if pk is None else column == pk


def _open_finding(
    session: Session, account_pk: int | None, meeting_id: str, rule_id: str
) -> Finding | None:
    return session.scalars(
        select(Finding)
        .where(
            _same_account(Finding.account_id, account_pk),
            Finding.meeting_id == meeting_id,
            Finding.rule_id == rule_id,
            Finding.resolved_at.is_(None),
        )
        .with_for_update()
    ).first()


class Findings:
    def __init__(self, db: Database) -> None:
        self._db = db

    def open_statuses(
        self, account_pk: int | None, meeting_id: str, *, session: Session | None = None
    ) -> dict[str, str]:
        """The status of each open finding of (account, meeting), by rule: one query for the
        meeting's findings, where asking rule by rule cost a query per finding."""
        with self._db.joined(session) as s:
            rows = s.execute(
                select(Finding.rule_id, Finding.status)
                .where(
                    _same_account(Finding.account_id, account_pk),
                    Finding.meeting_id == meeting_id,
                    Finding.resolved_at.is_(None),
                )
                # Locked, as the upserts that follow lock them: on PostgreSQL no other
                # transaction changes a status between this read and the caller's writes.
                .with_for_update()
            )
            return {rule_id: status for rule_id, status in rows}

    def upsert(
        self,
        *,
        session: Session | None = None,
        account_pk: int | None,
        sweep_id: int | None,
        meeting_id: str,
        host_id: str | None,
        host_email: str | None,
        topic: str | None,
        start_time: str | None,
        rule_id: str,
        field: str,
        expected: Any,
        actual: Any,
        after: Any,
        status: str,
        detail: str | None,
        now: datetime,
    ) -> int:
        """Record what was seen of one rule on one meeting; returns the finding's id.

        The open row for (account, meeting, rule) is updated with this observation (first_seen
        kept; ``sweep_id`` None keeps the sweep that last saw it); otherwise a new row is opened.
        """
        if status not in FINDING_STATUSES:
            raise ValueError(f"unknown finding status {status!r}")
        observed: dict[str, Any] = {
            "host_id": host_id,
            "host_email": host_email,
            "topic": topic,
            "start_time": start_time,
            "field": field,
            "expected": expected,
            "actual": actual,
            "after": after,
            "status": status,
            "detail": detail,
            "last_seen": now,
        }
        with self._db.joined(session) as s:
            row = _open_finding(s, account_pk, meeting_id, rule_id)
            if row is None:
                try:
                    # A savepoint, so losing the race below does not doom the whole transaction.
                    with s.begin_nested():
                        row = Finding(
                            account_id=account_pk,
                            sweep_id=sweep_id,
                            meeting_id=meeting_id,
                            rule_id=rule_id,
                            first_seen=now,
                            **observed,
                        )
                        s.add(row)
                    return row.id
                except exc.IntegrityError:
                    # Someone else opened the same finding concurrently: update theirs instead.
                    row = _open_finding(s, account_pk, meeting_id, rule_id)
                    if row is None:
                        raise
            for name, value in observed.items():
                setattr(row, name, value)
            if sweep_id is not None:
                row.sweep_id = sweep_id
            s.flush()
            return row.id

    def resolve_not_seen(
        self,
        account_pk: int | None,
        sweep_id: int,
        now: datetime,
        *,
        session: Session | None = None,
    ) -> int:
        """After a *completed* sweep: resolve the account's open findings it did not see.

        A finding neither touched by this sweep nor seen since it started belongs to a meeting
        that is now compliant on that rule, or gone. Call it only for completed sweeps: an
        interrupted sweep did not look at every meeting. Returns how many were resolved.
        """
        with self._db.joined(session) as s:
            sweep = s.get(Sweep, sweep_id)
            if sweep is None or sweep.account_id != account_pk:
                raise LookupError(f"no sweep {sweep_id} for account {account_pk}")
            stmt = (
                update(Finding)
                .where(
                    _same_account(Finding.account_id, account_pk),
                    Finding.resolved_at.is_(None),
                    or_(Finding.sweep_id.is_(None), Finding.sweep_id != sweep_id),
                    Finding.last_seen < sweep.started_at,
                    # Baseline findings (account, group, user settings) are not meetings: only
                    # a baseline run may resolve them.
                    ~Finding.rule_id.startswith("baseline."),
                )
                .values(resolved_at=now)
                .execution_options(synchronize_session="fetch")
            )
            return rowcount(s.execute(stmt))

    def resolve_meeting(
        self,
        *,
        session: Session | None = None,
        account_pk: int | None,
        meeting_id: str,
        now: datetime,
        keep_rules: Collection[str] = (),
    ) -> int:
        """Resolve one meeting's open findings except ``keep_rules`` (still failing).

        For webhooks: a meeting deleted (keep nothing) or re-evaluated after an update.
        """
        stmt = (
            update(Finding)
            .where(
                _same_account(Finding.account_id, account_pk),
                Finding.meeting_id == meeting_id,
                Finding.resolved_at.is_(None),
            )
            .values(resolved_at=now)
            .execution_options(synchronize_session="fetch")
        )
        if keep_rules:
            stmt = stmt.where(Finding.rule_id.not_in(list(keep_rules)))
        with self._db.joined(session) as s:
            return rowcount(s.execute(stmt))

    def open(
        self,
        account_pk: int | None = None,
        rule_id: str | None = None,
        status: str | None = None,
    ) -> list[FindingRecord]:
        """Unresolved findings, oldest first; None filters mean "any"."""
        query = select(Finding).where(Finding.resolved_at.is_(None)).order_by(Finding.id)
        if account_pk is not None:
            query = query.where(Finding.account_id == account_pk)
        if rule_id is not None:
            query = query.where(Finding.rule_id == rule_id)
        if status is not None:
            query = query.where(Finding.status == status)
        with self._db.transaction() as session:
            return [finding_record(row) for row in session.scalars(query)]

    def including_resolved(self, account_pk: int | None = None) -> list[FindingRecord]:
        """Every finding, open and resolved, oldest first (for exports)."""
        query = select(Finding).order_by(Finding.id)
        if account_pk is not None:
            query = query.where(Finding.account_id == account_pk)
        with self._db.transaction() as session:
            return [finding_record(row) for row in session.scalars(query)]
