"""The tables of zoomguard (docs/schema.md). Changing one needs a new Alembic migration."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from zoomguard.store.base import Base, UTCDateTime

# Status values, spelled once.
ACCOUNT_ACTIVE = "active"
ACCOUNT_DEAUTHORIZED = "deauthorized"
AUTH_S2S = "s2s"
AUTH_OAUTH = "oauth"

SWEEP_RUNNING = "running"
SWEEP_COMPLETED = "completed"
SWEEP_FAILED = "failed"
SWEEP_INTERRUPTED = "interrupted"
# Every meeting was looked at, but some could not be read or fixed (Zoom kept failing after the
# retries): those are counted in ``not_checked`` and looked at again by the next sweep.
SWEEP_COMPLETED_WITH_ERRORS = "completed_with_errors"
# Finished, but it could not list users or meetings, or read most meetings: not a clean bill.
SWEEP_INCOMPLETE = "incomplete"
SWEEP_STATUSES = (
    SWEEP_RUNNING,
    SWEEP_COMPLETED,
    SWEEP_COMPLETED_WITH_ERRORS,
    SWEEP_INCOMPLETE,
    SWEEP_FAILED,
    SWEEP_INTERRUPTED,
)

# An audit entry written before zoomguard asks Zoom for a change ("about to PATCH"), completed
# (state NULL, like every entry written after the fact) once the outcome is known.
AUDIT_INTENT = "intent"

FINDING_STATUSES = ("fixed", "failed", "exempt", "reported")
AUDIT_ACTORS = ("sweep", "webhook", "baseline", "cli", "dashboard")

# unknown_account: for a Zoom account zoomguard does not know (kept for the officer to see).
INBOX_STATUSES = ("pending", "processing", "done", "ignored", "unknown_account", "dead")
ALERT_DELIVERIES = ("immediate", "digest")
EMAIL_KINDS = ("immediate", "digest", "host_notice")
EMAIL_STATUSES = ("pending", "sent")

# An open finding is one not yet resolved; at most one per (account, meeting, rule).
FINDING_OPEN = text("resolved_at IS NULL")


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zoom_account_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    auth_type: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[str] = mapped_column(String(200))
    # Every *_enc column holds Fernet ciphertext from zoomguard.crypto.Vault, never plaintext.
    client_secret_enc: Mapped[str | None] = mapped_column(Text)
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    api_url: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The account's data-centre regions as the last baseline read them (Zoom's
    # in_meeting.data_center_regions), for the dashboard; None until a baseline has run.
    data_center_regions: Mapped[list[str] | None] = mapped_column(JSON)
    data_center_regions_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Sweep(Base):
    __tablename__ = "sweeps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(32))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    users: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    meetings: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    compliant: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    noncompliant: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    fixed: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    exempt: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    reported: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    patches: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    webinars: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Meetings (or users' meeting lists) Zoom would not give or change after the retries.
    not_checked: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    # Something the sweep skipped on purpose, not an error (e.g. the account has no webinars).
    note: Mapped[str | None] = mapped_column(Text)
    holder: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index(None, "account_id", "started_at"),)


class Finding(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    # The last sweep that saw it; a retention purge of old sweeps leaves the finding in place.
    sweep_id: Mapped[int | None] = mapped_column(ForeignKey("sweeps.id", ondelete="SET NULL"))
    meeting_id: Mapped[str] = mapped_column(String(64))
    host_id: Mapped[str | None] = mapped_column(String(64))
    host_email: Mapped[str | None] = mapped_column(String(320))
    topic: Mapped[str | None] = mapped_column(String(300))
    start_time: Mapped[str | None] = mapped_column(String(40))
    rule_id: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(100))
    expected: Mapped[Any] = mapped_column(JSON)
    actual: Mapped[Any] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        # Partial unique index: the database itself refuses a second open row, so a sweep and
        # a webhook recording the same meeting at once cannot both insert.
        Index(
            "uq_findings_open_account_id_meeting_id_rule_id",
            "account_id",
            "meeting_id",
            "rule_id",
            unique=True,
            sqlite_where=FINDING_OPEN,
            postgresql_where=FINDING_OPEN,
        ),
    )


class AuditEntry(Base):
    """Append-only but for one step: an intent row (``state`` "intent", written before the Zoom
    call) is completed once, in place. Nothing else updates or deletes rows (retention purge
    excepted)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    actor: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    before: Mapped[Any] = mapped_column(JSON)
    after: Mapped[Any] = mapped_column(JSON)
    confirmed: Mapped[bool | None] = mapped_column(Boolean)
    detail: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(String(16), index=True)
    # The inbox event whose handler made the change (None for a sweep's or a person's): a
    # re-run of that event finds it and does not make, audit or alert the change again.
    event_id: Mapped[int | None] = mapped_column(BigInteger, index=True)


class UpdateCounter(Base):
    """PATCHes zoomguard sent per host per UTC day (Zoom caps them at 100)."""

    __tablename__ = "update_counters"

    account_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class Lease(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InboxEvent(Base):
    """A webhook as received, processed later by the worker."""

    __tablename__ = "inbox_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    event: Mapped[str] = mapped_column(String(100))
    zoom_account_id: Mapped[str | None] = mapped_column(String(64))
    event_ts: Mapped[int | None] = mapped_column(BigInteger)  # ms since the epoch
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "status", "next_attempt_at"),)


class Email(Base):
    """The outbox: composed messages waiting to be sent (or sent)."""

    __tablename__ = "emails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "status", "next_attempt_at"),)


class Alert(Base):
    """One thing the privacy officer must hear about; composed into an email later."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    sweep_id: Mapped[int | None] = mapped_column(ForeignKey("sweeps.id", ondelete="SET NULL"))
    delivery: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the alert is composed into an email; NULL = still to be sent.
    email_id: Mapped[int | None] = mapped_column(ForeignKey("emails.id"), index=True)


__all__ = [
    "Account",
    "Alert",
    "AuditEntry",
    "Base",
    "Email",
    "Finding",
    "InboxEvent",
    "Lease",
    "Sweep",
    "UpdateCounter",
]


# --- dashboard (migration 0002) ---------------------------------------------------------------

USER_ROLES = ("admin", "privacy_officer")


class DashboardUser(Base):
    """A person who may sign in to the dashboard. Only a slow salted hash of the password."""

    __tablename__ = "dashboard_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)  # stored lower-case
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))  # admin | privacy_officer
    # Consecutive failed sign-ins; reaching the limit sets locked_until.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OAuthState(Base):
    """One "Connect Zoom account" authorization in flight: single use, short-lived.

    Kept in the database, not the session cookie, so that it can be consumed exactly once by
    whichever web process receives the callback. Only a hash of the state is stored.
    """

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    binding_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the browser's nonce
    code_verifier_enc: Mapped[str] = mapped_column(Text)  # PKCE verifier, Fernet ciphertext
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("dashboard_users.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class DashboardSession(Base):
    """One signed-in browser. The cookie holds a random id; only its hash is stored, so a copy
    of the table opens nothing. Deleting the row ends the session at once (sign out)."""

    __tablename__ = "dashboard_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    user_id: Mapped[int] = mapped_column(
        ForeignKey("dashboard_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


# --- occurrences of recurring meetings (migration 0007) ---------------------------------------

OCCURRENCE_NOTED_BY = ("event", "sweep")


class RememberedOccurrence(Base):
    """An upcoming occurrence of a recurring meeting known to have settings of its own (a
    ``meeting.updated`` with ``scope: "single"`` named it, or a sweep read it differing from its
    series): every sweep reads it until it has ended or been deleted."""

    __tablename__ = "remembered_occurrences"

    account_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    occurrence_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    noted_by: Mapped[str] = mapped_column(String(16))  # "event" or "sweep"
    noted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OccurrenceCursor(Base):
    """Where each recurring meeting's rotation stands: the occurrence the last sweep read in
    turn, so the next sweep reads the one after it."""

    __tablename__ = "occurrence_cursors"

    account_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    occurrence_id: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
