"""Findings: what a sweep, a webhook or a baseline run saw of one rule on one meeting (or one
settings scope), open until the rule holds again."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Update,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.dml import ReturningInsert

from zoomguard.store.database import Database, Executor, dialect_insert, rowcount, table_of
from zoomguard.store.models import FINDING_OPEN, FINDING_STATUSES, Finding, Sweep
from zoomguard.store.records import FindingRecord, finding_record


def _same_account(column: InstrumentedAttribute[int | None], pk: int | None) -> ColumnElement[bool]:
    # ``= NULL`` matches nothing in SQL: rows without an account need IS NULL.
    return column.is_(None) if pk is None else column == pk


_FINDINGS = table_of(Finding)
_OPEN = _FINDINGS.c.resolved_at.is_(None)

# What an observation writes into the open row it updates (first_seen and sweep_id apart).
_OBSERVED = (
    "host_id",
    "host_email",
    "topic",
    "start_time",
    "field",
    "expected",
    "actual",
    "after",
    "status",
    "detail",
    "last_seen",
)


def _account_is(pk: int | None) -> ColumnElement[bool]:
    # ``= NULL`` matches nothing in SQL: rows without an account need IS NULL.
    if pk is None:
        return _FINDINGS.c.account_id.is_(None)
    return _FINDINGS.c.account_id == bindparam("p_account")


def _open_statuses_statement(pk: int | None) -> Select[Any]:
    return (
        select(_FINDINGS.c.rule_id, _FINDINGS.c.status)
        .where(_account_is(pk), _FINDINGS.c.meeting_id == bindparam("p_meeting"), _OPEN)
        # Locked, as the upserts that follow lock them: on PostgreSQL no other transaction
        # changes a status between this read and the caller's writes.
        .with_for_update()
    )


def _update_open_statement() -> Update:
    """Update the open row of (account, meeting, rule) with an observation; returns its id.
    Only for rows without an account (``upsert`` explains why)."""
    values: dict[str, Any] = {
        name: bindparam(name, type_=_FINDINGS.c[name].type) for name in _OBSERVED
    }
    values["sweep_id"] = func.coalesce(bindparam("sweep_id", type_=Integer), _FINDINGS.c.sweep_id)
    return (
        update(_FINDINGS)
        .where(
            _account_is(None),
            _FINDINGS.c.meeting_id == bindparam("p_meeting"),
            _FINDINGS.c.rule_id == bindparam("p_rule"),
            _OPEN,
        )
        .values(values)
        .returning(_FINDINGS.c.id)
    )


def _upsert_statement(dialect_name: str) -> ReturningInsert[Any]:
    """Open the row of (account, meeting, rule), or update the open one, in one statement: the
    partial unique index on open rows is the conflict target, so a sweep and a webhook writing
    the same finding at once meet in the database, not in a savepoint."""
    insert = dialect_insert(dialect_name, _FINDINGS)
    set_: dict[str, Any] = {name: insert.excluded[name] for name in _OBSERVED}
    # ``sweep_id`` None (a webhook's observation) keeps the sweep that last saw it.
    set_["sweep_id"] = func.coalesce(insert.excluded.sweep_id, _FINDINGS.c.sweep_id)
    return insert.on_conflict_do_update(
        index_elements=[_FINDINGS.c.account_id, _FINDINGS.c.meeting_id, _FINDINGS.c.rule_id],
        index_where=FINDING_OPEN,
        set_=set_,
    ).returning(_FINDINGS.c.id)


class Findings:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Built once (so compiled once): the sweep runs them for every noncompliant meeting.
        self._open_statuses = {
            True: _open_statuses_statement(None),
            False: _open_statuses_statement(0),
        }
        self._upsert = _upsert_statement(db.dialect_name)
        self._update_open = _update_open_statement()
        self._insert = insert(_FINDINGS).returning(_FINDINGS.c.id)

    def open_statuses(
        self, account_pk: int | None, meeting_id: str, *, session: Executor | None = None
    ) -> dict[str, str]:
        """The status of each open finding of (account, meeting), by rule: one query for the
        meeting's findings, where asking rule by rule cost a query per finding. Locked on
        PostgreSQL until the caller's transaction ends."""
        params = {"p_account": account_pk, "p_meeting": meeting_id}
        with self._db.joined_core(session) as s:
            rows = s.execute(self._open_statuses[account_pk is None], params)
            return {rule_id: status for rule_id, status in rows}

    def upsert(
        self,
        *,
        session: Executor | None = None,
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
        with self._db.joined_core(session) as s:
            if account_pk is not None:
                row = {
                    **observed,
                    "account_id": account_pk,
                    "sweep_id": sweep_id,
                    "meeting_id": meeting_id,
                    "rule_id": rule_id,
                    "first_seen": now,
                }
                return int(s.execute(self._upsert, row).scalar_one())
            # NULLs are distinct in a unique index, so rows without an account cannot be the
            # upsert's conflict target: update the open one, else open one.
            updated = s.execute(
                self._update_open,
                {**observed, "sweep_id": sweep_id, "p_meeting": meeting_id, "p_rule": rule_id},
            ).first()
            if updated is not None:
                return int(updated[0])
            row = {
                **observed,
                "account_id": None,
                "sweep_id": sweep_id,
                "meeting_id": meeting_id,
                "rule_id": rule_id,
                "first_seen": now,
            }
            return int(s.execute(self._insert, row).scalar_one())

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
