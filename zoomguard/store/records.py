"""What the store hands out: frozen dataclasses, never ORM rows, never a decrypted secret.

Each ``*_record`` function turns one ORM row into its record; the repositories call them before
their transaction ends.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zoomguard.store.database import as_utc, as_utc_or_none
from zoomguard.store.models import (
    ACCOUNT_ACTIVE,
    USER_ROLES,
    Account,
    AuditEntry,
    DashboardUser,
    Email,
    Finding,
    InboxEvent,
    Sweep,
)

# --- accounts, sweeps, findings, audit --------------------------------------------------


@dataclass(frozen=True)
class AccountRecord:
    id: int
    zoom_account_id: str
    name: str | None
    auth_type: str
    client_id: str
    api_url: str | None
    status: str
    has_client_secret: bool
    has_access_token: bool
    has_refresh_token: bool
    access_token_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def active(self) -> bool:
        return self.status == ACCOUNT_ACTIVE


@dataclass(frozen=True)
class SweepCounts:
    users: int = 0
    meetings: int = 0
    compliant: int = 0
    noncompliant: int = 0
    fixed: int = 0
    failed: int = 0
    exempt: int = 0
    reported: int = 0
    patches: int = 0


@dataclass(frozen=True)
class SweepRecord:
    id: int
    account_id: int | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    dry_run: bool
    counts: SweepCounts
    error: str | None
    holder: str | None


@dataclass(frozen=True)
class FindingRecord:
    id: int
    account_id: int | None
    sweep_id: int | None
    meeting_id: str
    host_id: str | None
    host_email: str | None
    topic: str | None
    start_time: str | None
    rule_id: str
    field: str
    expected: Any
    actual: Any
    after: Any
    status: str
    detail: str | None
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    account_id: int | None
    actor: str
    action: str
    target: str
    before: Any
    after: Any
    confirmed: bool | None
    detail: str | None


def account_record(row: Account) -> AccountRecord:
    return AccountRecord(
        id=row.id,
        zoom_account_id=row.zoom_account_id,
        name=row.name,
        auth_type=row.auth_type,
        client_id=row.client_id,
        api_url=row.api_url,
        status=row.status,
        has_client_secret=row.client_secret_enc is not None,
        has_access_token=row.access_token_enc is not None,
        has_refresh_token=row.refresh_token_enc is not None,
        access_token_expires_at=as_utc_or_none(row.access_token_expires_at),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def sweep_record(row: Sweep) -> SweepRecord:
    return SweepRecord(
        id=row.id,
        account_id=row.account_id,
        started_at=as_utc(row.started_at),
        finished_at=as_utc_or_none(row.finished_at),
        status=row.status,
        dry_run=row.dry_run,
        counts=SweepCounts(
            users=row.users,
            meetings=row.meetings,
            compliant=row.compliant,
            noncompliant=row.noncompliant,
            fixed=row.fixed,
            failed=row.failed,
            exempt=row.exempt,
            reported=row.reported,
            patches=row.patches,
        ),
        error=row.error,
        holder=row.holder,
    )


def finding_record(row: Finding) -> FindingRecord:
    return FindingRecord(
        id=row.id,
        account_id=row.account_id,
        sweep_id=row.sweep_id,
        meeting_id=row.meeting_id,
        host_id=row.host_id,
        host_email=row.host_email,
        topic=row.topic,
        start_time=row.start_time,
        rule_id=row.rule_id,
        field=row.field,
        expected=row.expected,
        actual=row.actual,
        after=row.after,
        status=row.status,
        detail=row.detail,
        first_seen=as_utc(row.first_seen),
        last_seen=as_utc(row.last_seen),
        resolved_at=as_utc_or_none(row.resolved_at),
    )


def audit_record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        at=as_utc(row.at),
        account_id=row.account_id,
        actor=row.actor,
        action=row.action,
        target=row.target,
        before=row.before,
        after=row.after,
        confirmed=row.confirmed,
        detail=row.detail,
    )


# --- webhook inbox ----------------------------------------------------------------------


@dataclass(frozen=True)
class InboxItem:
    """A claimed event, handed to the worker's handler."""

    id: int
    event: str
    body: str
    attempts: int  # this claim included: 1 on the first try
    zoom_account_id: str | None
    event_ts: int | None


@dataclass(frozen=True)
class InboxRecord:
    """An inbox row for reports and health checks (no body: it may hold personal data)."""

    id: int
    event: str
    status: str
    attempts: int
    zoom_account_id: str | None
    event_ts: int | None
    received_at: datetime
    next_attempt_at: datetime
    processed_at: datetime | None
    last_error: str | None


def inbox_record(row: InboxEvent) -> InboxRecord:
    return InboxRecord(
        id=row.id,
        event=row.event,
        status=row.status,
        attempts=row.attempts,
        zoom_account_id=row.zoom_account_id,
        event_ts=row.event_ts,
        received_at=row.received_at,
        next_attempt_at=row.next_attempt_at,
        processed_at=row.processed_at,
        last_error=row.last_error,
    )


# --- alert outbox -----------------------------------------------------------------------


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


def alert_row(row: Any, finished: datetime | None = None) -> AlertRow:
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


def email_record(e: Email) -> EmailRecord:
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


@dataclass(frozen=True)
class PendingCounts:
    pending: int
    oldest_created_at: datetime | None
    overdue: int
    local_only: int  # pending emails carrying ``local_note`` as their state


# --- dashboard users --------------------------------------------------------------------

ROLE_ADMIN = "admin"
ROLE_PRIVACY_OFFICER = "privacy_officer"
ROLES = USER_ROLES
ROLE_TITLES = {ROLE_ADMIN: "Administrator", ROLE_PRIVACY_OFFICER: "Privacy officer"}


@dataclass(frozen=True)
class UserRecord:
    id: int
    username: str
    role: str
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    # Changes whenever the password does: a session that remembers it ends with the old password.
    session_fingerprint: str

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def role_title(self) -> str:
        return ROLE_TITLES.get(self.role, self.role)


@dataclass(frozen=True)
class LoginResult:
    user: UserRecord | None  # None: refused

    @property
    def ok(self) -> bool:
        return self.user is not None


def user_record(row: DashboardUser) -> UserRecord:
    return UserRecord(
        id=row.id,
        username=row.username,
        role=row.role,
        failed_logins=row.failed_logins or 0,
        locked_until=as_utc_or_none(row.locked_until),
        last_login_at=as_utc_or_none(row.last_login_at),
        created_at=row.created_at.astimezone(UTC),
        session_fingerprint=hashlib.sha256(row.password_hash.encode()).hexdigest()[:24],
    )
