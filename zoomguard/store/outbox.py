"""The alert outbox in the database: ``alerts`` (what to tell) and ``emails`` (composed messages).

Callers pass their ``session`` (the store's one calling style) so that their transaction decides
what is written together. That is the point of an outbox: ``record_alert`` runs in the same
transaction as the finding it reports, so either both are stored or neither is, and a crash between
"fixed the meeting" and "told the officer" cannot lose the telling.

Claiming an email for sending is one conditional UPDATE whose row count says who won, so any
number of flushing processes (the clock, ``zoomguard run``, a CLI call) never send one email twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from zoomguard.errors import StoreError
from zoomguard.masking import scrub_details
from zoomguard.store.database import (
    Database,
    Executor,
    aggregate_utc,
    inserted_id,
    rowcount,
    table_of,
)
from zoomguard.store.models import (
    ALERT_DELIVERIES,
    EMAIL_KINDS,
    Alert,
    Email,
    Sweep,
)
from zoomguard.store.records import (
    AlertRow,
    DigestScope,
    EmailRecord,
    PendingCounts,
    PendingDigest,
    PendingImmediate,
    alert_row,
    email_record,
)

EMAIL_PENDING = "pending"
EMAIL_SENT = "sent"
DELIVERY_IMMEDIATE = "immediate"
assert DELIVERY_IMMEDIATE in ALERT_DELIVERIES

# --- composing: plan from light queries, then stream one batch at a time ---------------------
#
# Composing never loads every uncomposed alert: a first sweep of a large account leaves tens of
# thousands of them. Immediate alerts are listed (ids only) a page at a time and each is read in
# full in the transaction that composes it; digest alerts are planned with one aggregate row per
# sweep (or per account, for webhook alerts), then each digest streams its own alerts in pages.

ALERT_COLUMNS = (
    Alert.id,
    Alert.account_id,
    Alert.sweep_id,
    Alert.delivery,
    Alert.category,
    Alert.details,
    Alert.created_at,
    Alert.email_id,
)


# Built once (so compiled once): the sweep writes an alert for most noncompliant meetings.
_INSERT_ALERT = insert(table_of(Alert))


def _scope_filter(scope: DigestScope) -> list[ColumnElement[bool]]:
    conditions = [
        Alert.email_id.is_(None),
        Alert.delivery != DELIVERY_IMMEDIATE,
        Alert.id <= scope.max_id,
    ]
    if scope.sweep_id is not None:
        conditions.append(Alert.sweep_id == scope.sweep_id)
    else:
        conditions.append(Alert.sweep_id.is_(None))
        conditions.append(
            Alert.account_id.is_(None)
            if scope.account_id is None
            else Alert.account_id == scope.account_id
        )
    return conditions


# --- emails ---------------------------------------------------------------------------------


def _required(value: datetime | None) -> datetime:
    assert value is not None  # min() over a non-empty group
    return value


class Outbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record_alert(
        self,
        *,
        account_pk: int | None,
        sweep_id: int | None,
        delivery: str,
        category: str,
        details: Mapping[str, Any],
        now: datetime,
        session: Executor | None = None,
    ) -> int:
        """Adds one alert in the caller's transaction (the one that writes its finding); its id."""
        if delivery not in ALERT_DELIVERIES:
            raise ValueError(f"alert delivery must be one of {ALERT_DELIVERIES}, got {delivery!r}")
        if not category:
            raise ValueError("alert category must not be empty")
        row = {
            "account_id": account_pk,
            "sweep_id": sweep_id,
            "delivery": delivery,
            "category": category[:64],
            "details": scrub_details(details),
            "created_at": now,
            "email_id": None,
        }
        with self._db.joined_core(session) as s:
            return inserted_id(s.execute(_INSERT_ALERT, row))

    def uncomposed_immediates(
        self, *, after_id: int = 0, limit: int = 1000, session: Session | None = None
    ) -> list[PendingImmediate]:
        """Immediate alerts not yet in any email with an id above ``after_id``, by id (keyset pages:
        pass the last id seen), without their details."""
        with self._db.joined(session) as session:
            rows = session.execute(
                select(Alert.id, Alert.account_id, Alert.sweep_id, Alert.created_at)
                .where(
                    Alert.email_id.is_(None),
                    Alert.delivery == DELIVERY_IMMEDIATE,
                    Alert.id > after_id,
                )
                .order_by(Alert.id)
                .limit(limit)
            ).all()
            return [PendingImmediate(r.id, r.account_id, r.sweep_id, r.created_at) for r in rows]

    def get_uncomposed_alert(
        self, alert_id: int, *, session: Session | None = None
    ) -> AlertRow | None:
        """The alert with its details, or None once it is in an email (or gone)."""
        with self._db.joined(session) as session:
            row = session.execute(
                select(*ALERT_COLUMNS).where(Alert.id == alert_id, Alert.email_id.is_(None))
            ).one_or_none()
            return alert_row(row) if row is not None else None

    def pending_digests(self, *, session: Session | None = None) -> list[PendingDigest]:
        """One row per digest that uncomposed digest alerts are waiting for: sweeps first, then the
        webhook alerts of each account, each in the order of its first alert."""
        with self._db.joined(session) as session:
            uncomposed = and_(Alert.email_id.is_(None), Alert.delivery != DELIVERY_IMMEDIATE)
            by_sweep = session.execute(
                select(
                    Alert.sweep_id,
                    func.count(Alert.id),
                    func.min(Alert.created_at),
                    func.max(Alert.id),
                    Sweep.finished_at,
                )
                .outerjoin(Sweep, Sweep.id == Alert.sweep_id)
                .where(uncomposed, Alert.sweep_id.is_not(None))
                .group_by(Alert.sweep_id, Sweep.finished_at)
                .order_by(func.min(Alert.id))
            ).all()
            by_account = session.execute(
                select(
                    Alert.account_id,
                    func.count(Alert.id),
                    func.min(Alert.created_at),
                    func.max(Alert.id),
                )
                .where(uncomposed, Alert.sweep_id.is_(None))
                .group_by(Alert.account_id)
                .order_by(func.min(Alert.id))
            ).all()
            plans = [
                PendingDigest(
                    scope=DigestScope(sweep_id=sweep_id, account_id=None, max_id=int(max_id)),
                    count=int(count),
                    oldest_created_at=_required(aggregate_utc(oldest)),
                    sweep_finished_at=aggregate_utc(finished),
                )
                for sweep_id, count, oldest, max_id, finished in by_sweep
            ]
            plans.extend(
                PendingDigest(
                    scope=DigestScope(sweep_id=None, account_id=account_id, max_id=int(max_id)),
                    count=int(count),
                    oldest_created_at=_required(aggregate_utc(oldest)),
                )
                for account_id, count, oldest, max_id in by_account
            )
            return plans

    def stream_digest_alerts(
        self, scope: DigestScope, *, page_size: int = 500, session: Session | None = None
    ) -> Iterator[AlertRow]:
        """The scope's uncomposed alerts with their details, by id, read ``page_size`` at a time so
        that memory does not grow with the size of the digest."""
        with self._db.joined(session) as session:
            after = 0
            while True:
                rows = session.execute(
                    select(*ALERT_COLUMNS)
                    .where(*_scope_filter(scope), Alert.id > after)
                    .order_by(Alert.id)
                    .limit(page_size)
                ).all()
                for row in rows:
                    yield alert_row(row)
                if len(rows) < page_size:
                    return
                after = rows[-1].id

    def attach_digest(
        self, scope: DigestScope, email_id: int, *, expected: int, session: Session | None = None
    ) -> None:
        """Points every alert of the scope at the digest email, in one UPDATE.

        ``expected`` is how many alerts the digest was composed from (streamed in this transaction).
        Any other row count means another process composed some of them meanwhile: raises
        ``StoreError(reason="outbox_race")`` so that the caller's transaction, which inserted the
        email, rolls back and no alert is in two emails.
        """
        with self._db.joined(session) as session:
            result = session.execute(
                update(Alert)
                .where(*_scope_filter(scope))
                .values(email_id=email_id)
                .execution_options(synchronize_session=False)
            )
            if rowcount(result) != expected:
                raise StoreError(
                    "alerts were composed by another process at the same time", reason="outbox_race"
                )

    def attach_alerts(
        self, alert_ids: Sequence[int], email_id: int, *, session: Session | None = None
    ) -> None:
        """Points the alerts at their email, unless another process composed any of them first.

        Raises ``StoreError(reason="outbox_race")`` then, so the caller's transaction (which also
        inserted the email) rolls back and nothing is sent twice.
        """
        with self._db.joined(session) as session:
            ids = sorted(set(alert_ids))
            if not ids:
                return
            result = session.execute(
                update(Alert)
                .where(Alert.id.in_(ids), Alert.email_id.is_(None))
                .values(email_id=email_id)
                .execution_options(synchronize_session=False)
            )
            if rowcount(result) != len(ids):
                raise StoreError(
                    "alerts were composed by another process at the same time", reason="outbox_race"
                )

    def count_uncomposed(self, *, session: Session | None = None) -> tuple[int, datetime | None]:
        with self._db.joined(session) as session:
            count, oldest = session.execute(
                select(func.count(Alert.id), func.min(Alert.created_at)).where(
                    Alert.email_id.is_(None)
                )
            ).one()
            return int(count), aggregate_utc(oldest)

    def insert_email(
        self,
        *,
        message_id: str,
        kind: str,
        recipients: Sequence[str],
        subject: str,
        text_body: str,
        html_body: str,
        now: datetime,
        note: str | None = None,
        session: Session | None = None,
    ) -> int:
        """A pending email, due at once; ``note`` fills ``last_error`` ("no SMTP configured")."""
        with self._db.joined(session) as session:
            if kind not in EMAIL_KINDS:
                raise ValueError(f"email kind must be one of {EMAIL_KINDS}, got {kind!r}")
            email = Email(
                message_id=message_id,
                kind=kind,
                recipients=list(recipients),
                subject=subject[:300],
                text_body=text_body,
                html_body=html_body,
                status=EMAIL_PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                last_error=note,
            )
            session.add(email)
            session.flush()
            return email.id

    def get_email(self, email_id: int, *, session: Session | None = None) -> EmailRecord | None:
        with self._db.joined(session) as session:
            email = session.get(Email, email_id)
            return email_record(email) if email is not None else None

    def due_email_ids(
        self, now: datetime, *, limit: int, session: Session | None = None
    ) -> list[int]:
        with self._db.joined(session) as session:
            return list(
                session.execute(
                    select(Email.id)
                    .where(Email.status == EMAIL_PENDING, Email.next_attempt_at <= now)
                    .order_by(Email.next_attempt_at, Email.id)
                    .limit(limit)
                ).scalars()
            )

    def claim_email(
        self, email_id: int, *, now: datetime, until: datetime, session: Session | None = None
    ) -> bool:
        """Takes the email for one send attempt; False when another process took it first.

        The claim moves ``next_attempt_at`` to ``until``: should this process die mid-send, the
        email becomes due again then, so it is never lost; ``until`` must outlast the SMTP timeout.
        """
        with self._db.joined(session) as session:
            result = session.execute(
                update(Email)
                .where(
                    Email.id == email_id,
                    Email.status == EMAIL_PENDING,
                    Email.next_attempt_at <= now,
                )
                .values(
                    next_attempt_at=until,
                    attempts=Email.attempts + 1,
                    last_attempt_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            return rowcount(result) == 1

    def mark_sent(
        self,
        email_id: int,
        *,
        now: datetime,
        note: str | None = None,
        session: Session | None = None,
    ) -> None:
        with self._db.joined(session) as session:
            session.execute(
                update(Email)
                .where(Email.id == email_id, Email.status == EMAIL_PENDING)
                .values(status=EMAIL_SENT, sent_at=now, last_error=note)
                .execution_options(synchronize_session=False)
            )

    def mark_failed(
        self,
        email_id: int,
        *,
        next_attempt_at: datetime,
        error: str,
        session: Session | None = None,
    ) -> None:
        with self._db.joined(session) as session:
            session.execute(
                update(Email)
                .where(Email.id == email_id, Email.status == EMAIL_PENDING)
                .values(next_attempt_at=next_attempt_at, last_error=error[:2000])
                .execution_options(synchronize_session=False)
            )

    def postpone_due(
        self, now: datetime, *, until: datetime, session: Session | None = None
    ) -> int:
        """Moves every email due at ``now`` to ``until`` without counting an attempt: the SMTP
        server is away, so none of them is tried before the back-off of the one that failed."""
        with self._db.joined(session) as session:
            result = session.execute(
                update(Email)
                .where(Email.status == EMAIL_PENDING, Email.next_attempt_at <= now)
                .values(next_attempt_at=until)
                .execution_options(synchronize_session=False)
            )
            return rowcount(result)

    def note_pending(self, note: str, *, session: Session | None = None) -> int:
        """Sets ``last_error`` of every pending email to ``note`` (e.g. "no SMTP configured")."""
        with self._db.joined(session) as session:
            result = session.execute(
                update(Email)
                .where(
                    Email.status == EMAIL_PENDING,
                    or_(Email.last_error.is_(None), Email.last_error != note),
                )
                .values(last_error=note)
                .execution_options(synchronize_session=False)
            )
            return rowcount(result)

    def list_emails(
        self, *, status: str | None = None, limit: int = 50, session: Session | None = None
    ) -> list[EmailRecord]:
        """Newest first."""
        with self._db.joined(session) as session:
            query = select(Email).order_by(Email.created_at.desc(), Email.id.desc()).limit(limit)
            if status is not None:
                query = query.where(Email.status == status)
            return [email_record(e) for e in session.execute(query).scalars()]

    def pending_counts(
        self, *, overdue_before: datetime, local_note: str, session: Session | None = None
    ) -> PendingCounts:
        with self._db.joined(session) as session:
            pending, oldest = session.execute(
                select(func.count(Email.id), func.min(Email.created_at)).where(
                    Email.status == EMAIL_PENDING
                )
            ).one()
            overdue = session.execute(
                select(func.count(Email.id)).where(
                    and_(Email.status == EMAIL_PENDING, Email.created_at <= overdue_before)
                )
            ).scalar_one()
            local = session.execute(
                select(func.count(Email.id)).where(
                    and_(Email.status == EMAIL_PENDING, Email.last_error == local_note)
                )
            ).scalar_one()
            return PendingCounts(int(pending), aggregate_utc(oldest), int(overdue), int(local))
