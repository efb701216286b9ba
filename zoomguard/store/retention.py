"""Retention: deleting what is past its keeping period, one kind of data per transaction, so
a failure leaves the earlier kinds purged and running it again finishes the job. What to keep
and for how long is decided by ``zoomguard.service.maintenance``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, or_, select, update

from zoomguard.store.database import Database, rowcount
from zoomguard.store.models import (
    Alert,
    AuditEntry,
    Email,
    Finding,
    InboxEvent,
    OAuthState,
    UpdateCounter,
)

SETTLED_EVENTS = ("done", "ignored", "dead")
BODY_PURGED_EVENTS = ("done", "dead")
EMAIL_SENT = "sent"


@dataclass(frozen=True)
class PurgeResult:
    inbox_events: int = 0
    inbox_bodies: int = 0
    findings: int = 0
    emails: int = 0
    alerts: int = 0
    audit_entries: int = 0
    update_counters: int = 0
    oauth_states: int = 0

    @property
    def total(self) -> int:
        return (
            self.inbox_events
            + self.inbox_bodies
            + self.findings
            + self.emails
            + self.alerts
            + self.audit_entries
            + self.update_counters
            + self.oauth_states
        )


class Retention:
    def __init__(self, db: Database) -> None:
        self._db = db

    def purge(
        self,
        *,
        cutoff: datetime,
        bodies_cutoff: datetime,
        audit_cutoff: datetime,
        counters_before: date,
        now: datetime,
    ) -> PurgeResult:
        """Settled inbox events received and resolved findings and sent emails (with their
        alerts) older than ``cutoff``; event bodies settled before ``bodies_cutoff``; audit
        entries before ``audit_cutoff``; update counters of days before ``counters_before``;
        OAuth connects expired by ``now``."""
        with self._db.transaction() as session:
            inbox_events = rowcount(
                session.execute(
                    delete(InboxEvent)
                    .where(InboxEvent.status.in_(SETTLED_EVENTS), InboxEvent.received_at < cutoff)
                    .execution_options(synchronize_session=False)
                )
            )
        with self._db.transaction() as session:
            inbox_bodies = rowcount(
                session.execute(
                    update(InboxEvent)
                    .where(
                        InboxEvent.status.in_(BODY_PURGED_EVENTS),
                        or_(
                            InboxEvent.processed_at < bodies_cutoff,
                            InboxEvent.processed_at.is_(None)
                            & (InboxEvent.received_at < bodies_cutoff),
                        ),
                        InboxEvent.body != "",
                    )
                    .values(body="")
                    .execution_options(synchronize_session=False)
                )
            )
        with self._db.transaction() as session:
            findings = rowcount(
                session.execute(
                    delete(Finding)
                    .where(Finding.resolved_at.is_not(None), Finding.resolved_at < cutoff)
                    .execution_options(synchronize_session=False)
                )
            )
        with self._db.transaction() as session:
            old_emails = select(Email.id).where(Email.status == EMAIL_SENT, Email.sent_at < cutoff)
            alerts = rowcount(
                session.execute(
                    delete(Alert)
                    .where(Alert.email_id.in_(old_emails))
                    .execution_options(synchronize_session=False)
                )
            )
            emails = rowcount(
                session.execute(
                    delete(Email)
                    .where(Email.status == EMAIL_SENT, Email.sent_at < cutoff)
                    .execution_options(synchronize_session=False)
                )
            )
        with self._db.transaction() as session:
            audit_entries = rowcount(
                session.execute(
                    delete(AuditEntry)
                    .where(AuditEntry.at < audit_cutoff)
                    .execution_options(synchronize_session=False)
                )
            )
        with self._db.transaction() as session:
            update_counters = rowcount(
                session.execute(
                    delete(UpdateCounter)
                    .where(UpdateCounter.day < counters_before)
                    .execution_options(synchronize_session=False)
                )
            )
            oauth_states = rowcount(
                session.execute(
                    delete(OAuthState)
                    .where(OAuthState.expires_at < now)
                    .execution_options(synchronize_session=False)
                )
            )
        return PurgeResult(
            inbox_events=inbox_events,
            inbox_bodies=inbox_bodies,
            findings=findings,
            emails=emails,
            alerts=alerts,
            audit_entries=audit_entries,
            update_counters=update_counters,
            oauth_states=oauth_states,
        )
