"""Shared pieces of the use cases: clock, process identity, profile loading, Zoom clients and
the accounts to act on."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from zoomguard.config import Settings
from zoomguard.errors import PolicyError, ZoomGuardError
from zoomguard.service.connect import OAuthTokenProvider
from zoomguard.store import AccountRecord, Store
from zoomguard.store.models import ACCOUNT_ACTIVE, AUTH_OAUTH
from zoomguard.zoom import scopes
from zoomguard.zoom.client import ZoomClient
from zoomguard.zoom.tokens import S2STokenProvider

if TYPE_CHECKING:
    from zoomguard.rules import policy

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def holder_id() -> str:
    """Identifies this process in leases and claims: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def load_profile(settings: Settings) -> policy.Profile:
    # Imported here: the rules are not needed to reach Zoom, and a sweep imports them while its
    # first request is on its way.
    from zoomguard.rules import policy

    if settings.policy_path is None:
        return policy.default_profile()
    try:
        with open(settings.policy_path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise PolicyError(
            f"ZOOMGUARD_POLICY: cannot read {settings.policy_path}: {exc.strerror}"
        ) from None
    return policy.load_profile(text)


# The worker reacts to webhooks: a few calls per event, in bursts. It paces itself at a quarter
# of zoomguard's budget, so a burst of events cannot starve a running sweep for long.
WORKER_RATE_PART = 0.25


def _s2s_tokens(settings: Settings, store: Store, account: AccountRecord) -> S2STokenProvider:
    account_id, client_id, client_secret = store.accounts.s2s_credentials(account)

    def remember(token: str, expires_at: float) -> None:
        store.accounts.save_token(account.id, token, datetime.fromtimestamp(expires_at, UTC))

    tokens = S2STokenProvider(
        settings.token_url, account_id, client_id, client_secret, on_token=remember
    )
    stored = store.accounts.load_token(account.id)
    if stored is not None:
        tokens.seed(stored[0], stored[1].timestamp())
    return tokens


def client_for_account(
    settings: Settings,
    store: Store,
    account: AccountRecord,
    *,
    rate_part: float = 1.0,
    stop: threading.Event | None = None,
) -> ZoomClient:
    """The one ZoomClient factory: a client for a stored account, whichever way it was
    connected (Server-to-Server or user OAuth), its tokens persisted encrypted, paced at
    ``rate_part`` of zoomguard's share of the rate limits. Once ``stop`` is set the client
    abandons its retries (``Interrupted``) rather than waiting them out."""
    tokens: S2STokenProvider | OAuthTokenProvider
    if account.auth_type == AUTH_OAUTH:
        # Connected from the browser: user OAuth tokens, refreshed under the account's row lock.
        tokens = OAuthTokenProvider(settings, store, account.id)
    else:
        tokens = _s2s_tokens(settings, store, account)
    rate_light, rate_medium = settings.api_rates(rate_part)
    return ZoomClient(
        account.api_url or settings.zoom_api_url,
        tokens,
        rate_light=rate_light,
        rate_medium=rate_medium,
        timeout=settings.http_timeout_seconds,
        max_retries=settings.max_retries,
        pool_size=settings.concurrency * 2,
        stop=stop,
    )


def enabled_features(settings: Settings, profile: policy.Profile) -> list[str]:
    """The features of ``zoomguard/zoom/scopes.py`` this deployment uses: the sweep, recordings
    and live controls always, the baseline when the policy keeps any of its items, webhooks when
    their secret token is set."""
    features = [scopes.SWEEP]
    if profile.baseline.items:
        features.append(scopes.BASELINE)
    features += [scopes.RECORDINGS, scopes.LIVE_CONTROLS]
    if settings.zoom_webhook_secret_token:
        features.append(scopes.WEBHOOKS)
    return features


def connect_s2s(
    settings: Settings,
    store: Store,
    *,
    account_id: str,
    client_id: str,
    client_secret: str,
    name: str | None = None,
    profile: policy.Profile | None = None,
) -> AccountRecord:
    """Check Server-to-Server credentials (a token that carries every scope the enabled
    features need, and one page of users), then store them."""
    fetched: list[tuple[str, float]] = []
    tokens = S2STokenProvider(
        settings.token_url,
        account_id,
        client_id,
        client_secret,
        on_token=lambda token, expires_at: fetched.append((token, expires_at)),
    )
    rate_light, rate_medium = settings.api_rates()
    client = ZoomClient(
        settings.zoom_api_url,
        tokens,
        rate_light=rate_light,
        rate_medium=rate_medium,
        timeout=settings.http_timeout_seconds,
        max_retries=settings.max_retries,
    )
    try:
        tokens.token()
        if tokens.granted_scopes is None:
            log.warning("Zoom's token response lists no scopes; they are not checked")
        else:
            features = enabled_features(settings, profile or load_profile(settings))
            missing = scopes.missing_scopes(tokens.granted_scopes, features)
            if missing:
                raise ZoomGuardError(
                    "the Zoom app lacks scopes the enabled features need: "
                    + scopes.describe_missing(missing)
                    + "; add them in the Marketplace, then connect again",
                    reason="missing_scopes",
                )
        next(iter(client.list_users(page_size=1)), None)
    finally:
        client.close()
    account = store.accounts.save_s2s(
        account_id, client_id, client_secret, name=name, api_url=settings.zoom_api_url
    )
    if fetched:
        # The token just checked carries the scopes granted now; a cached older one may not
        # (scopes added in the Marketplace reach only tokens issued afterwards).
        token, expires_at = fetched[-1]
        store.accounts.save_token(account.id, token, datetime.fromtimestamp(expires_at, UTC))
    return account


def env_account(settings: Settings, store: Store) -> AccountRecord:
    """The account named by ZOOM_ACCOUNT_ID/ZOOM_CLIENT_ID/ZOOM_CLIENT_SECRET, registered."""
    if not settings.has_s2s_credentials:
        raise ZoomGuardError(
            "no Zoom account: run `zoomguard connect`, or set ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID "
            "and ZOOM_CLIENT_SECRET",
            reason="no_account",
        )
    assert settings.zoom_account_id
    assert settings.zoom_client_id
    assert settings.zoom_client_secret
    return store.accounts.save_s2s(
        settings.zoom_account_id,
        settings.zoom_client_id,
        settings.zoom_client_secret,
        api_url=settings.zoom_api_url,
    )


def register_env_account(settings: Settings, store: Store) -> AccountRecord | None:
    """At the start of the web, worker and clock processes: register the account the
    environment names (ZOOM_ACCOUNT_ID/ZOOM_CLIENT_ID/ZOOM_CLIENT_SECRET), so its events are
    enforced from the first second rather than after the first sweep. An account whose app was
    removed (deauthorized) stays so until someone runs ``zoomguard connect``. Never raises: a
    process must start even when the account cannot be stored (it logs why)."""
    if not settings.has_s2s_credentials:
        return None
    assert settings.zoom_account_id
    try:
        known = store.accounts.by_zoom_id(settings.zoom_account_id)
        if known is not None and known.status != ACCOUNT_ACTIVE:
            log.warning(
                "the account named by ZOOM_ACCOUNT_ID is %s: run `zoomguard connect` to "
                "enforce it again",
                known.status,
            )
            return known
        account = env_account(settings, store)
    except ZoomGuardError as exc:
        log.error("cannot register the account named by ZOOM_ACCOUNT_ID: %s", exc)
        return None
    log.info("enforcing the Zoom account named by ZOOM_ACCOUNT_ID")
    return account


def accounts_to_sweep(
    settings: Settings, store: Store, zoom_account_id: str | None = None
) -> list[AccountRecord]:
    if zoom_account_id is not None:
        found = store.accounts.by_zoom_id(zoom_account_id)
        if found is None or found.status != "active":
            raise ZoomGuardError(f"no connected account {zoom_account_id}", reason="no_account")
        return [found]
    accounts = store.accounts.list_all(active_only=True)
    if settings.has_s2s_credentials and not any(
        a.zoom_account_id == settings.zoom_account_id for a in accounts
    ):
        accounts.append(env_account(settings, store))
    if not accounts:
        env_account(settings, store)  # raises the "no Zoom account" error
    return accounts
