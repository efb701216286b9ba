"""The alert outbox in the database: ``alerts`` (what to tell) and ``emails`` (composed messages).

Every function takes the caller's ``Session`` and never commits: the caller's transaction decides
what is written together. That is the point of an outbox: ``record_alert`` runs in the same
transaction as the finding it reports, so either both are stored or neither is, and a crash between
"fixed the meeting" and "told the officer" cannot lose the telling.

Claiming an email for sending is one conditional UPDATE whose row count says who won, so any
number of flushing processes (the clock, ``zoomguard run``, a CLI call) never send one email twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, func, or_, select, update
from sqlalchemy.orm import Session

from zoomguard.errors import StoreError
from zoomguard.store.models import (
    ALERT_DELIVERIES,
    EMAIL_KINDS,
    Account,
    Alert,
    Email,
    Sweep,
)

EMAIL_PENDING = "pending"
EMAIL_SENT = "sent"
DELIVERY_IMMEDIATE = "immediate"
assert DELIVERY_IMMEDIATE in ALERT_DELIVERIES

SECRET_MASK = "(hidden)"  # noqa: S105 - the mask, not a password

# Any key that names a password, passcode, token or secret (h323_password, access_token, ...).
_SENSITIVE_NAME = re.compile(r"pass(word|code)|pwd|token|secret", re.IGNORECASE)
# A passcode in a join link (.../j/123?pwd=abc) or a token in any URL's query string.
_SECRET_IN_URL = re.compile(
    r"([?&](?:pwd|password|passcode|token|access_token|secret)=)[^&#\s\"'<>]+", re.IGNORECASE
)


# --- secrets never reach the outbox -------------------------------------------------------------


def is_sensitive_name(name: str) -> bool:
    return bool(_SENSITIVE_NAME.search(name))


# What callers already put in place of a secret (the service's masks, policy.MASK): kept, since
# "(none) → (set)" tells the officer more than "(hidden) → (hidden)".
_MASKS = frozenset({SECRET_MASK, "(set)", "(none)", "(not set)", "********"})


def _mask_value(value: Any) -> Any:
    # true/false and "nothing" cannot carry a secret and say something useful
    # (embed_password_in_join_link: true → false; no passcode → a passcode).
    if value is None or isinstance(value, bool) or value == "" or value in _MASKS:
        return value
    return SECRET_MASK


def scrub_text(text: str) -> str:
    return _SECRET_IN_URL.sub(lambda m: m.group(1) + SECRET_MASK, text)


def scrub(value: Any) -> Any:
    """A deep copy of ``value`` with every secret masked.

    Masked: the value of any key naming a password, passcode, token or secret; the ``before`` and
    ``after`` of a change whose ``field`` names one (``{"field": "password", ...}``); and a
    ``pwd=``/``token=`` parameter inside any URL in a string.
    """
    if isinstance(value, Mapping):
        field_name = value.get("field")
        secret_field = isinstance(field_name, str) and is_sensitive_name(field_name)
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if is_sensitive_name(name) or (secret_field and name in ("before", "after")):
                out[name] = _mask_value(item)
            else:
                out[name] = scrub(item)
        return out
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def scrub_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Scrubbed and made JSON-safe (dates and other objects become strings)."""
    plain = json.loads(json.dumps(dict(details), default=str))
    scrubbed = scrub(plain)
    assert isinstance(scrubbed, dict)
    return scrubbed


# --- alerts ---------------------------------------------------------------------------------


def record_alert(
    session: Session,
    *,
    account_pk: int | None,
    sweep_id: int | None,
    delivery: str,
    category: str,
    details: Mapping[str, Any],
    now: datetime,
) -> int:
    """Adds one alert in the caller's transaction (the one that writes its finding); its id."""
    if delivery not in ALERT_DELIVERIES:
        raise ValueError(f"alert delivery must be one of {ALERT_DELIVERIES}, got {delivery!r}")
    if not category:
        raise ValueError("alert category must not be empty")
    alert = Alert(
        account_id=account_pk,
        sweep_id=sweep_id,
        delivery=delivery,
        category=category[:64],
        details=scrub_details(details),
        created_at=now,
    )
    session.add(alert)
    session.flush()
    return alert.id


@dataclass(frozen=True)
class AlertRow:
    id: int
    account_id: int | None
    sweep_id: int | None
    delivery: str
    category: str
    details: dict[str, Any]
    created_at: datetime
    email_id: int | None
    # From the sweeps row, when the alert belongs to one that still exists.
    sweep_finished_at: datetime | None = None


# --- composing: plan from light queries, then stream one batch at a time ---------------------
#
# Composing never loads every uncomposed alert: a first sweep of a large account leaves tens of
# thousands of them. Immediate alerts are listed (ids only) a page at a time and each is read in
# full in the transaction that composes it; digest alerts are planned with one aggregate row per
# sweep (or per account, for webhook alerts), then each digest streams its own alerts in pages.

_ALERT_COLUMNS = (
    Alert.id,
    Alert.account_id,
    Alert.sweep_id,
    Alert.delivery,
    Alert.category,
    Alert.details,
    Alert.created_at,
    Alert.email_id,
)


def _alert_row(row: Any, finished: datetime | None = None) -> AlertRow:
    return AlertRow(
        id=row.id,
        account_id=row.account_id,
        sweep_id=row.sweep_id,
        delivery=row.delivery,
        category=row.category,
        details=dict(row.details or {}),
        created_at=row.created_at,
        email_id=row.email_id,
        sweep_finished_at=finished,
    )


@dataclass(frozen=True)
class PendingImmediate:
    id: int
    account_id: int | None
    sweep_id: int | None
    created_at: datetime


def uncomposed_immediates(
    session: Session, *, after_id: int = 0, limit: int = 1000
) -> list[PendingImmediate]:
    """Immediate alerts not yet in any email with an id above ``after_id``, by id (keyset pages:
    pass the last id seen), without their details."""
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


def get_uncomposed_alert(session: Session, alert_id: int) -> AlertRow | None:
    """The alert with its details, or None once it is in an email (or gone)."""
    row = session.execute(
        select(*_ALERT_COLUMNS).where(Alert.id == alert_id, Alert.email_id.is_(None))
    ).one_or_none()
    return _alert_row(row) if row is not None else None


@dataclass(frozen=True)
class DigestScope:
    """The uncomposed digest alerts one digest email takes: those of one sweep, or (``sweep_id``
    None) the webhook alerts of one account (``account_id`` None: of no account), up to
    ``max_id``, the highest id seen when the digest was planned."""

    sweep_id: int | None
    account_id: int | None
    max_id: int


@dataclass(frozen=True)
class PendingDigest:
    scope: DigestScope
    count: int
    oldest_created_at: datetime
    # From the sweeps row: None while the sweep runs (or for webhook alerts).
    sweep_finished_at: datetime | None = None


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


def pending_digests(session: Session) -> list[PendingDigest]:
    """One row per digest that uncomposed digest alerts are waiting for: sweeps first, then the
    webhook alerts of each account, each in the order of its first alert."""
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
            Alert.account_id, func.count(Alert.id), func.min(Alert.created_at), func.max(Alert.id)
        )
        .where(uncomposed, Alert.sweep_id.is_(None))
        .group_by(Alert.account_id)
        .order_by(func.min(Alert.id))
    ).all()
    plans = [
        PendingDigest(
            scope=DigestScope(sweep_id=sweep_id, account_id=None, max_id=int(max_id)),
            count=int(count),
            oldest_created_at=_required(_aware(oldest)),
            sweep_finished_at=_aware(finished),
        )
        for sweep_id, count, oldest, max_id, finished in by_sweep
    ]
    plans.extend(
        PendingDigest(
            scope=DigestScope(sweep_id=None, account_id=account_id, max_id=int(max_id)),
            count=int(count),
            oldest_created_at=_required(_aware(oldest)),
        )
        for account_id, count, oldest, max_id in by_account
    )
    return plans


def stream_digest_alerts(
    session: Session, scope: DigestScope, *, page_size: int = 500
) -> Iterator[AlertRow]:
    """The scope's uncomposed alerts with their details, by id, read ``page_size`` at a time so
    that memory does not grow with the size of the digest."""
    after = 0
    while True:
        rows = session.execute(
            select(*_ALERT_COLUMNS)
            .where(*_scope_filter(scope), Alert.id > after)
            .order_by(Alert.id)
            .limit(page_size)
        ).all()
        for row in rows:
            yield _alert_row(row)
        if len(rows) < page_size:
            return
        after = rows[-1].id


def attach_digest(session: Session, scope: DigestScope, email_id: int, *, expected: int) -> None:
    """Points every alert of the scope at the digest email, in one UPDATE.

    ``expected`` is how many alerts the digest was composed from (streamed in this transaction).
    Any other row count means another process composed some of them meanwhile: raises
    ``StoreError(reason="outbox_race")`` so that the caller's transaction, which inserted the
    email, rolls back and no alert is in two emails.
    """
    result = session.execute(
        update(Alert)
        .where(*_scope_filter(scope))
        .values(email_id=email_id)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != expected:
        raise StoreError(
            "alerts were composed by another process at the same time", reason="outbox_race"
        )


def attach_alerts(session: Session, alert_ids: Sequence[int], email_id: int) -> None:
    """Points the alerts at their email, unless another process composed any of them first.

    Raises ``StoreError(reason="outbox_race")`` then, so the caller's transaction (which also
    inserted the email) rolls back and nothing is sent twice.
    """
    ids = sorted(set(alert_ids))
    if not ids:
        return
    result = session.execute(
        update(Alert)
        .where(Alert.id.in_(ids), Alert.email_id.is_(None))
        .values(email_id=email_id)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != len(ids):
        raise StoreError(
            "alerts were composed by another process at the same time", reason="outbox_race"
        )


def count_uncomposed(session: Session) -> tuple[int, datetime | None]:
    count, oldest = session.execute(
        select(func.count(Alert.id), func.min(Alert.created_at)).where(Alert.email_id.is_(None))
    ).one()
    return int(count), _aware(oldest)


@dataclass(frozen=True)
class SweepRow:
    id: int
    account_id: int | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    dry_run: bool
    users: int
    meetings: int
    compliant: int
    noncompliant: int
    fixed: int
    failed: int
    exempt: int
    reported: int
    error: str | None


def get_sweep(session: Session, sweep_id: int) -> SweepRow | None:
    s = session.get(Sweep, sweep_id)
    if s is None:
        return None
    return SweepRow(
        id=s.id,
        account_id=s.account_id,
        started_at=s.started_at,
        finished_at=s.finished_at,
        status=s.status,
        dry_run=bool(s.dry_run),
        users=s.users or 0,
        meetings=s.meetings or 0,
        compliant=s.compliant or 0,
        noncompliant=s.noncompliant or 0,
        fixed=s.fixed or 0,
        failed=s.failed or 0,
        exempt=s.exempt or 0,
        reported=s.reported or 0,
        error=s.error,
    )


def account_name(session: Session, account_pk: int | None) -> str | None:
    if account_pk is None:
        return None
    return session.execute(select(Account.name).where(Account.id == account_pk)).scalar()


# --- emails ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailRecord:
    id: int
    message_id: str
    kind: str
    recipients: list[str]
    subject: str
    text_body: str
    html_body: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


def _email_record(e: Email) -> EmailRecord:
    return EmailRecord(
        id=e.id,
        message_id=e.message_id,
        kind=e.kind,
        recipients=list(e.recipients or []),
        subject=e.subject,
        text_body=e.text_body,
        html_body=e.html_body,
        status=e.status,
        attempts=e.attempts or 0,
        next_attempt_at=e.next_attempt_at,
        created_at=e.created_at,
        last_attempt_at=e.last_attempt_at,
        sent_at=e.sent_at,
        last_error=e.last_error,
    )


def insert_email(
    session: Session,
    *,
    message_id: str,
    kind: str,
    recipients: Sequence[str],
    subject: str,
    text_body: str,
    html_body: str,
    now: datetime,
    note: str | None = None,
) -> int:
    """A pending email, due at once. ``note`` fills ``last_error`` (e.g. "no SMTP configured")."""
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


def get_email(session: Session, email_id: int) -> EmailRecord | None:
    email = session.get(Email, email_id)
    return _email_record(email) if email is not None else None


def due_email_ids(session: Session, now: datetime, *, limit: int) -> list[int]:
    return list(
        session.execute(
            select(Email.id)
            .where(Email.status == EMAIL_PENDING, Email.next_attempt_at <= now)
            .order_by(Email.next_attempt_at, Email.id)
            .limit(limit)
        ).scalars()
    )


def claim_email(session: Session, email_id: int, *, now: datetime, until: datetime) -> bool:
    """Takes the email for one send attempt; False when another process took it first.

    The claim moves ``next_attempt_at`` to ``until``: should this process die mid-send, the email
    becomes due again then, so it is never lost; ``until`` must outlast the SMTP timeout.
    """
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
    return _rowcount(result) == 1


def mark_sent(session: Session, email_id: int, *, now: datetime, note: str | None = None) -> None:
    session.execute(
        update(Email)
        .where(Email.id == email_id, Email.status == EMAIL_PENDING)
        .values(status=EMAIL_SENT, sent_at=now, last_error=note)
        .execution_options(synchronize_session=False)
    )


def mark_failed(session: Session, email_id: int, *, next_attempt_at: datetime, error: str) -> None:
    session.execute(
        update(Email)
        .where(Email.id == email_id, Email.status == EMAIL_PENDING)
        .values(next_attempt_at=next_attempt_at, last_error=error[:2000])
        .execution_options(synchronize_session=False)
    )


def note_pending(session: Session, note: str) -> int:
    """Sets ``last_error`` of every pending email to ``note`` (e.g. "no SMTP configured")."""
    result = session.execute(
        update(Email)
        .where(
            Email.status == EMAIL_PENDING,
            or_(Email.last_error.is_(None), Email.last_error != note),
        )
        .values(last_error=note)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def list_emails(
    session: Session, *, status: str | None = None, limit: int = 50
) -> list[EmailRecord]:
    """Newest first."""
    query = select(Email).order_by(Email.created_at.desc(), Email.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Email.status == status)
    return [_email_record(e) for e in session.execute(query).scalars()]


@dataclass(frozen=True)
class PendingCounts:
    pending: int
    oldest_created_at: datetime | None
    overdue: int
    local_only: int  # pending emails carrying ``local_note`` as their state


def pending_counts(session: Session, *, overdue_before: datetime, local_note: str) -> PendingCounts:
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
    return PendingCounts(int(pending), _aware(oldest), int(overdue), int(local))


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def _required(value: datetime | None) -> datetime:
    assert value is not None  # min() over a non-empty group
    return value


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates (min) bypass the column type, so SQLite hands back a naive UTC datetime or a
    # string; normalise here.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


__all__ = [
    "DELIVERY_IMMEDIATE",
    "EMAIL_PENDING",
    "EMAIL_SENT",
    "AlertRow",
    "DigestScope",
    "EmailRecord",
    "PendingCounts",
    "PendingDigest",
    "PendingImmediate",
    "SweepRow",
    "account_name",
    "attach_alerts",
    "attach_digest",
    "claim_email",
    "count_uncomposed",
    "due_email_ids",
    "get_email",
    "get_sweep",
    "get_uncomposed_alert",
    "insert_email",
    "list_emails",
    "mark_failed",
    "mark_sent",
    "note_pending",
    "pending_counts",
    "pending_digests",
    "record_alert",
    "scrub",
    "scrub_details",
    "stream_digest_alerts",
    "uncomposed_immediates",
]
