"""From alerts to delivered emails: compose, then flush.

``compose_pending`` turns alerts into email rows: one email per immediate alert, one digest per
finished sweep, and one digest for the alerts that belong to no sweep (webhooks) once the oldest of
them has waited ``webhook_digest_seconds``. Each email is inserted in the same transaction that
points its alerts at it, so an alert is composed exactly once even with several processes.
Memory stays flat whatever the number of alerts: the plan comes from aggregate queries (one row
per digest), and a digest streams its alerts in pages, keeping counts and the few it details.

``flush_outbox`` sends the due emails. Each is claimed first (a conditional UPDATE: only one
process wins), sent, and marked sent only after the server's 250 to DATA. A failure leaves it
pending with exponential backoff and the server's answer in ``last_error``: an email is never
dropped and, once a server has accepted it, never sent again. Every retry carries the same
Message-ID, generated when the row was created.

Without ``ZOOMGUARD_SMTP_URL`` the emails stay pending in this local outbox, marked
``NO_SMTP_NOTE``, where ``zoomguard report`` and the demo show them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid
from functools import partial
from time import monotonic

from sqlalchemy.orm import Session

from zoomguard.config import Settings
from zoomguard.errors import DeliveryError, StoreError
from zoomguard.notify.render import (
    DIGEST_MAX_DETAILED,
    PRIVACY_OFFICER_DEFAULT,
    AlertRecord,
    DigestBuilder,
    RenderedEmail,
    SweepSummary,
    host_notices,
    host_to_notify,
    render_digest_content,
    render_host_notice,
    render_immediate,
)
from zoomguard.notify.smtp import Sender, SendResult, SmtpSender, parse_smtp_url
from zoomguard.store import EmailRecord, Store
from zoomguard.store.records import AlertRow, DigestScope, PendingDigest, PendingImmediate, SweepRow

log = logging.getLogger(__name__)

NO_SMTP_NOTE = "no SMTP configured (ZOOMGUARD_SMTP_URL is not set): kept in the local outbox"

KIND_IMMEDIATE = "immediate"
KIND_DIGEST = "digest"
KIND_HOST_NOTICE = "host_notice"

# Webhook alerts (no sweep) wait ZOOMGUARD_ALERT_DIGEST_SECONDS for company before their digest
# goes out. A sweep that has not finished after this long still gets its digest: never wait forever.
DEFAULT_STALE_SWEEP_SECONDS = 6 * 3600
# First retry after a minute, doubling up to an hour.
DEFAULT_BACKOFF_SECONDS = 60.0
DEFAULT_MAX_BACKOFF_SECONDS = 3600.0
# Longer than any SMTP conversation (timeout 30 s per step) so a live sender keeps its claim.
DEFAULT_CLAIM_SECONDS = 600.0
DEFAULT_MAX_ATTEMPTS = 100
# Rows read per query while composing: bounds memory, not what one email can hold.
IMMEDIATE_PAGE_SIZE = 1000
DIGEST_PAGE_SIZE = 500


@dataclass(frozen=True)
class FlushResult:
    sent: int
    failed: int
    pending: int  # still waiting after this flush (due later, or not tried)


@dataclass(frozen=True)
class OutboxStatus:
    pending: int
    oldest_pending_age_seconds: float | None
    overdue: int  # pending emails older than the warning threshold
    local_only: bool  # no SMTP: pending emails stay in the local outbox by design
    waiting_alerts: int = 0  # alerts not yet composed into an email (e.g. sweep still running)
    oldest_waiting_alert_age_seconds: float | None = None


# --- settings -------------------------------------------------------------------------------


def officer_recipients(settings: Settings) -> tuple[str, ...]:
    """``ZOOMGUARD_ALERT_TO``, or the privacy officer the guidance names."""
    return settings.alert_to or (PRIVACY_OFFICER_DEFAULT,)


def sender_from_settings(settings: Settings) -> SmtpSender | None:
    """The SMTP sender, or None when no SMTP server is configured (local outbox only)."""
    if not settings.smtp_url:
        return None
    return SmtpSender(parse_smtp_url(settings.smtp_url), from_addr=settings.alert_from)


def message_id_domain(from_addr: str) -> str:
    """The stable right-hand side of our Message-IDs: the From address's domain."""
    domain = from_addr.rpartition("@")[2].strip().strip(">").strip()
    return domain or "zoomguard.localhost"


# --- compose ------------------------------------------------------------------------------


def _record(row: AlertRow) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        category=row.category,
        details=row.details,
        created_at=row.created_at,
        delivery=row.delivery,
        account_id=row.account_id,
        sweep_id=row.sweep_id,
    )


def _summary(sweep: SweepRow, name: str | None) -> SweepSummary:
    return SweepSummary(
        id=sweep.id,
        started_at=sweep.started_at,
        finished_at=sweep.finished_at,
        status=sweep.status,
        dry_run=sweep.dry_run,
        account_name=name,
        users=sweep.users,
        meetings=sweep.meetings,
        compliant=sweep.compliant,
        noncompliant=sweep.noncompliant,
        fixed=sweep.fixed,
        failed=sweep.failed,
        exempt=sweep.exempt,
        reported=sweep.reported,
        error=sweep.error,
    )


def _digest_due(
    digest: PendingDigest, now: datetime, *, webhook_wait: timedelta, stale: timedelta
) -> bool:
    if digest.scope.sweep_id is not None:
        return digest.sweep_finished_at is not None or digest.oldest_created_at <= now - stale
    return digest.oldest_created_at <= now - webhook_wait


def compose_pending(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    webhook_digest_seconds: float | None = None,
    stale_sweep_seconds: float = DEFAULT_STALE_SWEEP_SECONDS,
    redact: Callable[[str], str] | None = None,
) -> int:
    """Creates the emails that are due; returns how many officer emails it created.

    Host notices (``settings.notify_hosts``) are created with the digest or immediate email of
    the same alerts, in the same transaction, and are not counted.
    """
    created = 0
    for alert in _uncomposed_immediates(store):
        created += _compose_once(
            store,
            f"immediate alert {alert.id}",
            partial(
                _compose_immediate,
                store,
                alert_id=alert.id,
                settings=settings,
                now=now,
                redact=redact,
            ),
        )
    webhook_wait = timedelta(
        seconds=settings.alert_digest_seconds
        if webhook_digest_seconds is None
        else webhook_digest_seconds
    )
    stale = timedelta(seconds=stale_sweep_seconds)
    with store.transaction() as session:
        digests = store.outbox.pending_digests(session=session)
    for digest in digests:
        if not _digest_due(digest, now, webhook_wait=webhook_wait, stale=stale):
            continue
        created += _compose_once(
            store,
            f"digest {digest.scope}",
            partial(
                _compose_digest,
                store,
                scope=digest.scope,
                settings=settings,
                now=now,
                redact=redact,
            ),
        )
    return created


def _uncomposed_immediates(store: Store) -> Iterator[PendingImmediate]:
    """Every uncomposed immediate alert, listed a page at a time (ids only, no details)."""
    after = 0
    while True:
        with store.transaction() as session:
            page = store.outbox.uncomposed_immediates(
                after_id=after, limit=IMMEDIATE_PAGE_SIZE, session=session
            )
        yield from page
        if len(page) < IMMEDIATE_PAGE_SIZE:
            return
        after = page[-1].id


def _compose_once(store: Store, what: str, compose: Callable[[Session], bool]) -> int:
    """1 if ``compose`` created an email in its own transaction, 0 if it found nothing left to
    compose or lost a race (its transaction rolled back: the other process's email stands)."""
    try:
        with store.transaction() as session:
            return 1 if compose(session) else 0
    except StoreError as error:
        if error.reason != "outbox_race":
            raise
        log.info("%s: already composed elsewhere", what)
        return 0


def _compose_immediate(
    store: Store,
    session: Session,
    alert_id: int,
    settings: Settings,
    now: datetime,
    redact: Callable[[str], str] | None,
) -> bool:
    row = store.outbox.get_uncomposed_alert(alert_id, session=session)
    if row is None:
        return False  # composed by another process since it was listed
    record = _record(row)
    officer = officer_recipients(settings)
    rendered = render_immediate(
        record,
        account_name=store.accounts.name(row.account_id, session=session),
        officer=officer[0],
        redact=redact,
    )
    email_id = _insert_email(store, session, settings, now, KIND_IMMEDIATE, officer, rendered)
    store.outbox.attach_alerts([alert_id], email_id, session=session)
    if settings.notify_hosts:
        _insert_host_notices(store, session, settings, now, [record], redact)
    return True


def _compose_digest(
    store: Store,
    session: Session,
    scope: DigestScope,
    settings: Settings,
    now: datetime,
    redact: Callable[[str], str] | None,
    *,
    max_detailed: int = DIGEST_MAX_DETAILED,
) -> bool:
    builder = DigestBuilder(max_detailed)
    account_id = scope.account_id
    # Host notices need every changed meeting of each host in full, so memory grows with the
    # number of fixed alerts (not with all alerts) when they are on; they are off by default.
    host_news: list[AlertRecord] = []
    for row in store.outbox.stream_digest_alerts(
        scope, page_size=DIGEST_PAGE_SIZE, session=session
    ):
        record = _record(row)
        if builder.total == 0:
            account_id = row.account_id  # a sweep's alerts carry its account
        builder.add(record)
        if settings.notify_hosts and host_to_notify(record) is not None:
            host_news.append(record)
    if builder.total == 0:
        return False  # composed by another process since it was planned
    officer = officer_recipients(settings)
    name = store.accounts.name(account_id, session=session)
    sweep = (
        store.sweeps.summary(scope.sweep_id, session=session)
        if scope.sweep_id is not None
        else None
    )
    rendered = render_digest_content(
        builder.content(),
        sweep=_summary(sweep, name) if sweep is not None else None,
        account_name=name,
        officer=officer[0],
        redact=redact,
    )
    email_id = _insert_email(store, session, settings, now, KIND_DIGEST, officer, rendered)
    store.outbox.attach_digest(scope, email_id, expected=builder.total, session=session)
    if host_news:
        _insert_host_notices(store, session, settings, now, host_news, redact)
    return True


def _insert_email(
    store: Store,
    session: Session,
    settings: Settings,
    now: datetime,
    kind: str,
    recipients: Sequence[str],
    rendered: RenderedEmail,
) -> int:
    return store.outbox.insert_email(
        message_id=make_msgid(domain=message_id_domain(settings.alert_from)),
        kind=kind,
        recipients=recipients,
        subject=rendered.subject,
        text_body=rendered.text,
        html_body=rendered.html,
        now=now,
        note=None if settings.smtp_url else NO_SMTP_NOTE,
        session=session,
    )


def _insert_host_notices(
    store: Store,
    session: Session,
    settings: Settings,
    now: datetime,
    records: list[AlertRecord],
    redact: Callable[[str], str] | None,
) -> None:
    officer = officer_recipients(settings)[0]
    for plan in host_notices(records):
        notice = render_host_notice(plan.host_email, plan.alerts, officer=officer, redact=redact)
        _insert_email(store, session, settings, now, KIND_HOST_NOTICE, [plan.host_email], notice)


# --- flush ----------------------------------------------------------------------------------


# RFC 5322 allows 998-character lines; folding at 78 makes the email package put a subject that
# contains a colon on a continuation line of its own, which some readers show with a leading space.
_MESSAGE_POLICY = SMTP_POLICY.clone(max_line_length=998)


def build_message(email: EmailRecord, from_addr: str) -> EmailMessage:
    """The MIME message for an outbox row: text and HTML alternatives, stable Message-ID."""
    message = EmailMessage(policy=_MESSAGE_POLICY)
    message["Subject"] = email.subject
    message["From"] = from_addr
    message["To"] = ", ".join(email.recipients)
    message["Date"] = format_datetime(email.created_at)
    message["Message-ID"] = email.message_id
    # RFC 3834: no vacation auto-replies to an automated alert.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Zoomguard-Kind"] = email.kind
    message.set_content(email.text_body)
    message.add_alternative(email.html_body, subtype="html")
    return message


# "421 Service not available, closing transmission channel" (RFC 5321), at any stage of the
# session: the server, not the message, is the problem.
SERVER_UNAVAILABLE_CODES = frozenset({421})


def backoff_delay(attempts: int, *, base: float, cap: float) -> timedelta:
    """base, 2 * base, 4 * base, ... after the 1st, 2nd, 3rd failure, never more than ``cap``."""
    exponent = max(0, attempts - 1)
    seconds = cap if exponent >= 32 else min(cap, base * (2**exponent))
    return timedelta(seconds=seconds)


def _send_one(sender: Sender, email: EmailRecord) -> SendResult:
    try:
        return sender.send(build_message(email, sender.from_addr))
    except DeliveryError:
        raise
    except Exception as error:
        # A bug or an unencodable message must not wedge the outbox: it is retried with backoff
        # like any failed delivery, and the other emails keep going.
        log.exception("email %s: unexpected error while sending", email.id)
        raise DeliveryError(f"{type(error).__name__}: {error}") from error


def flush_outbox(
    store: Store,
    sender: Sender | None,
    now: datetime,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
    max_backoff_seconds: float = DEFAULT_MAX_BACKOFF_SECONDS,
    claim_seconds: float = DEFAULT_CLAIM_SECONDS,
) -> FlushResult:
    """Sends the due emails, at most ``max_attempts`` of them in this call.

    ``sender`` None means no SMTP is configured: nothing is sent and the pending emails are
    marked with ``NO_SMTP_NOTE``. When the server cannot be reached at all or answers 421, the
    rest of this flush is skipped and the due emails wait out the failed one's back-off, rather
    than one connection (or time-out) per email.
    """
    if sender is None:
        with store.transaction() as session:
            store.outbox.note_pending(NO_SMTP_NOTE, session=session)
            pending = store.outbox.pending_counts(
                overdue_before=now, local_note=NO_SMTP_NOTE, session=session
            ).pending
        return FlushResult(sent=0, failed=0, pending=pending)
    with store.transaction() as session:
        due = store.outbox.due_email_ids(now, limit=max_attempts, session=session)
    sent = failed = 0
    # Claims run out at now + claim_seconds, with ``now`` fixed for the whole flush; a flush that
    # went on longer could claim an email whose claim had already expired for everyone else.
    # Stopping at half of it leaves a wide margin; the rest stays due for the next flush.
    deadline = monotonic() + claim_seconds / 2
    for email_id in due:
        if monotonic() > deadline:
            break
        with store.transaction() as session:
            if not store.outbox.claim_email(
                email_id, now=now, until=now + timedelta(seconds=claim_seconds), session=session
            ):
                continue  # another flusher has it
            email = store.outbox.get_email(email_id, session=session)
        assert email is not None
        try:
            result = _send_one(sender, email)
        except DeliveryError as error:
            failed += 1
            delay = backoff_delay(email.attempts, base=backoff_seconds, cap=max_backoff_seconds)
            with store.transaction() as session:
                store.outbox.mark_failed(
                    email_id, next_attempt_at=now + delay, error=error.message, session=session
                )
            log.warning(
                "email %s (%s) not sent, attempt %d, retry in %ds: %s",
                email_id,
                email.kind,
                email.attempts,
                int(delay.total_seconds()),
                error.message,
            )
            if error.connection or error.code in SERVER_UNAVAILABLE_CODES:
                # The server is away or shedding load (421): every other email would meet the
                # same answer. End this flush, and keep the rest back until this one's back-off
                # has passed, so an outage costs one connection per back-off, not one per email.
                with store.transaction() as session:
                    store.outbox.postpone_due(now, until=now + delay, session=session)
                break
            continue
        note = None
        if result.refused:
            # Accepted for some recipients: sending again would duplicate it for them.
            note = "accepted, but the server refused " + "; ".join(
                f"{addr} ({code} {text})" for addr, (code, text) in sorted(result.refused.items())
            )
            log.warning("email %s: %s", email_id, note)
        with store.transaction() as session:
            store.outbox.mark_sent(email_id, now=now, note=note, session=session)
        sent += 1
        log.info("email %s (%s) sent via %s", email_id, email.kind, sender.description)
    with store.transaction() as session:
        pending = store.outbox.pending_counts(
            overdue_before=now, local_note=NO_SMTP_NOTE, session=session
        ).pending
    return FlushResult(sent=sent, failed=failed, pending=pending)


# --- status ---------------------------------------------------------------------------------


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


def outbox_status(
    store: Store,
    now: datetime,
    warn_seconds: float,
    *,
    smtp_configured: bool | None = None,
) -> OutboxStatus:
    """What ``zoomguard report`` and the health check show about unsent alerts.

    ``local_only`` is ``not smtp_configured`` when given; otherwise it is true when pending
    emails carry the "no SMTP configured" state.
    """
    with store.transaction() as session:
        counts = store.outbox.pending_counts(
            overdue_before=now - timedelta(seconds=warn_seconds),
            local_note=NO_SMTP_NOTE,
            session=session,
        )
        waiting, oldest_waiting = store.outbox.count_uncomposed(session=session)
    local_only = (not smtp_configured) if smtp_configured is not None else counts.local_only > 0
    return OutboxStatus(
        pending=counts.pending,
        oldest_pending_age_seconds=_age(now, counts.oldest_created_at),
        overdue=counts.overdue,
        local_only=local_only,
        waiting_alerts=waiting,
        oldest_waiting_alert_age_seconds=_age(now, oldest_waiting),
    )
