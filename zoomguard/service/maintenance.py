"""Keeping stored state in order: retention purge and token renewal (run by the clock).

Retention (``purge_expired``), from ``Settings``:

- inbox events that are settled (done, ignored, dead) and older than ``retention_days`` are
  deleted; pending and processing events are never touched, however old;
- the bodies of done and dead events are emptied after ``body_retention`` (a week by default):
  a webhook body carries names, emails and topics, and once the event is settled only its
  metadata row is needed for reports;
- resolved findings older than ``retention_days`` are deleted; open findings stay;
- sent emails older than ``retention_days`` are deleted with their alerts (they repeat the
  findings' personal data); pending emails and uncomposed alerts stay;
- the audit log is kept ``audit_retention_years`` years, then deleted (the one exception to its
  append-only rule);
- housekeeping: daily update counters older than a week, expired OAuth connect states.

Sweeps rows hold counts only and are kept (they are the history /metrics and reports show).

Token renewal (``renew_s2s_token``): a stored Server-to-Server access token that expires within
``renew_before`` is replaced by a new one, stored encrypted. The account row is locked while the
token is fetched and stored (``SELECT ... FOR UPDATE``; on SQLite every transaction is ``BEGIN
IMMEDIATE``), and re-read under the lock, so two clocks renewing at once fetch one token, not
two. User-OAuth accounts are renewed through ``TokenRenewer`` hooks the caller passes (the
dashboard's ``OAuthTokenProvider`` refreshes and rotates under the same row lock).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from zoomguard.config import Settings
from zoomguard.errors import StoreError, ZoomGuardError
from zoomguard.service.clients import Clock, utcnow
from zoomguard.store import AccountRecord, Store
from zoomguard.store.models import (
    ACCOUNT_ACTIVE,
    AUTH_S2S,
)
from zoomguard.store.retention import PurgeResult
from zoomguard.zoom.tokens import S2STokenProvider

log = logging.getLogger(__name__)

# Long enough to look into a just-processed or just-dead event; short enough to minimise.
DEFAULT_BODY_RETENTION = timedelta(days=7)
# Zoom counts updates per UTC day; yesterday's counter is history after a day or two.
UPDATE_COUNTER_RETENTION = timedelta(days=7)
# Renew this long before expiry: the clock runs every few minutes, so a token is renewed on one
# of its runs well before any request could leave with an expired one.
DEFAULT_RENEW_BEFORE = timedelta(minutes=10)


def years_before(moment: datetime, years: int) -> datetime:
    """``moment`` minus whole calendar years (29 February becomes the 28th)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def purge_expired(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    body_retention: timedelta = DEFAULT_BODY_RETENTION,
) -> PurgeResult:
    """Delete what is past its retention period (see the module docstring). Idempotent.

    Each kind of data is purged in its own transaction, so a failure leaves the earlier kinds
    purged; running it again finishes the job.
    """
    cutoff = now - timedelta(days=settings.retention_days)
    audit_cutoff = years_before(now, settings.audit_retention_years)
    bodies_cutoff = now - min(body_retention, timedelta(days=settings.retention_days))

    result = store.retention.purge(
        cutoff=cutoff,
        bodies_cutoff=bodies_cutoff,
        audit_cutoff=audit_cutoff,
        counters_before=(now - UPDATE_COUNTER_RETENTION).date(),
        now=now,
    )
    if result.total:
        log.info(
            "retention purge: %d inbox events, %d event bodies, %d resolved findings, %d sent "
            "emails (%d alerts), %d audit entries, %d update counters, %d OAuth states",
            result.inbox_events,
            result.inbox_bodies,
            result.findings,
            result.emails,
            result.alerts,
            result.audit_entries,
            result.update_counters,
            result.oauth_states,
        )
    return result


# --- token renewal ---------------------------------------------------------------------------


# Renews one account's token if it still needs it; True when a new token was stored. Raises a
# ZoomGuardError when the token endpoint or the stored credentials fail.
TokenRenewer = Callable[[AccountRecord], bool]


@dataclass(frozen=True)
class RenewalResult:
    renewed: int = 0
    fresh: int = 0  # not yet due, or renewed by another process while we waited for the lock
    failed: int = 0
    skipped: int = 0  # no token stored, or no renewer for the account's kind


S2SFetcher = Callable[[str, str, str], tuple[str, datetime]]


def fetch_s2s_token(settings: Settings) -> S2SFetcher:
    """(Zoom account id, client id, client secret) -> (access token, expiry): one token request."""

    def fetch(account_id: str, client_id: str, client_secret: str) -> tuple[str, datetime]:
        issued: list[tuple[str, float]] = []
        provider = S2STokenProvider(
            settings.token_url,
            account_id,
            client_id,
            client_secret,
            timeout=settings.http_timeout_seconds,
            on_token=lambda token, expires_at: issued.append((token, expires_at)),
        )
        token = provider.token()
        expires_at = issued[-1][1] if issued else 0.0
        return token, datetime.fromtimestamp(expires_at, UTC)

    return fetch


def renew_s2s_token(
    settings: Settings,
    store: Store,
    account_pk: int,
    *,
    renew_before: timedelta = DEFAULT_RENEW_BEFORE,
    fetch: S2SFetcher | None = None,
    clock: Clock = utcnow,
    force: bool = False,
) -> bool:
    """Renew a Server-to-Server account's stored token under its row lock; True if renewed.

    Under the lock the row is read again: when another process renewed the token while we
    waited, it is fresh now and nothing is fetched. ``force`` renews a token that is not due.
    """
    fetch = fetch if fetch is not None else fetch_s2s_token(settings)
    with store.transaction() as session:
        account = store.accounts.lock(account_pk, session=session)
        if account is None or account.status != ACCOUNT_ACTIVE or account.auth_type != AUTH_S2S:
            return False
        now = clock()
        expires = account.access_token_expires_at
        if not force and expires is not None and expires > now + renew_before:
            return False
        if not account.has_client_secret:
            raise StoreError(
                f"account {account.zoom_account_id} has no stored client secret",
                reason="no_credentials",
            )
        token, expires_at = fetch(*store.accounts.s2s_credentials(account, session=session))
        store.accounts.save_token(account_pk, token, expires_at, session=session, now=now)
        log.info(
            "renewed the access token of Zoom account %s (valid until %s)",
            account.zoom_account_id,
            expires_at.isoformat(timespec="seconds"),
        )
        return True


def renew_expiring_tokens(
    store: Store,
    renewers: Mapping[str, TokenRenewer],
    *,
    renew_before: timedelta = DEFAULT_RENEW_BEFORE,
    clock: Clock = utcnow,
) -> RenewalResult:
    """Renew every active account's stored token that expires within ``renew_before``.

    ``renewers`` maps an account's ``auth_type`` (``s2s``, ``oauth``) to its renewer. Accounts
    without a stored token are left alone: their first API call fetches one. One account's
    failure is logged and counted; the others are still renewed.
    """
    renewed = fresh = failed = skipped = 0
    due_before = clock() + renew_before
    for account in store.accounts.list_all(active_only=True):
        renewer = renewers.get(account.auth_type)
        if renewer is None or not account.has_access_token:
            skipped += 1
            continue
        expires = account.access_token_expires_at
        if expires is not None and expires > due_before:
            fresh += 1
            continue
        try:
            if renewer(account):
                renewed += 1
            else:
                fresh += 1
        except ZoomGuardError as exc:
            failed += 1
            log.warning(
                "could not renew the token of Zoom account %s: %s", account.zoom_account_id, exc
            )
    return RenewalResult(renewed=renewed, fresh=fresh, failed=failed, skipped=skipped)
