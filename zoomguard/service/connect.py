"""Connect a Zoom account from the browser (OAuth authorization code with PKCE, through Authlib)
and keep its user tokens fresh (rotating refresh tokens, spent under a row lock).

The flow: ``begin_connect`` makes a random ``state`` and PKCE verifier, stores them (the state
only as a hash, the verifier encrypted) with a hash of a nonce kept in the browser's session, and
returns Zoom's authorization URL. Zoom sends the browser back with ``code`` and ``state``;
``complete_connect`` consumes the stored state (deleted on first use, whatever happens next),
checks it belongs to this browser and is younger than ``STATE_TTL``, exchanges the code with the
verifier, asks Zoom which account the token belongs to, and stores the tokens encrypted.

Refresh tokens rotate: each use returns a new one and the old one stops working. Two processes
refreshing at once would both present the same refresh token and the loser would be locked out
of the account, so ``OAuthTokenProvider`` refreshes inside a transaction that locks the account
row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite every transaction starts with ``BEGIN
IMMEDIATE``, which serialises writers the same way) and re-reads the row first: whoever waited
finds the token the winner stored and uses it instead of refreshing again.

Tokens, codes, verifiers and secrets are never logged or put in exception messages.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests

from zoomguard.config import Settings
from zoomguard.crypto import Vault
from zoomguard.errors import ConfigError, OAuthConnectError, ZoomAuthError, ZoomUnavailable
from zoomguard.store import AccountRecord, Store
from zoomguard.store.models import ACCOUNT_ACTIVE, AUTH_OAUTH
from zoomguard.zoom import scopes

if TYPE_CHECKING:
    from authlib.integrations.requests_client import OAuth2Session

log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
RENEW_BEFORE_SECONDS = 300.0
AUTHORIZE_PATH = "/oauth/authorize"
RECONNECT_HINT = "connect the account again from the dashboard"


@dataclass(frozen=True)
class OAuthApp:
    """Zoom's general (user-authorised) OAuth app, from ZOOM_OAUTH_CLIENT_ID/_SECRET."""

    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> OAuthApp | None:
        """None when the OAuth app is not configured (Server-to-Server connects still work)."""
        if not (settings.zoom_oauth_client_id and settings.zoom_oauth_client_secret):
            return None
        return cls(
            client_id=settings.zoom_oauth_client_id,
            client_secret=settings.zoom_oauth_client_secret,
            authorize_url=settings.zoom_oauth_url.rstrip("/") + AUTHORIZE_PATH,
            token_url=settings.token_url,
        )

    def session(self, redirect_uri: str | None = None) -> OAuth2Session:
        # Imported here: Authlib takes a quarter of a second to import, and only connecting
        # from the browser and refreshing user OAuth tokens need it (a sweep of a
        # Server-to-Server account does not).
        from authlib.integrations.requests_client import OAuth2Session

        session = OAuth2Session(
            client_id=self.client_id,
            client_secret=self.client_secret,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name)
        )
        session.register_compliance_hook("access_token_response", _raise_for_token_error)
        session.register_compliance_hook("refresh_token_response", _raise_for_token_error)
        return session


def _require_app(settings: Settings) -> OAuthApp:
    app = OAuthApp.from_settings(settings)
    if app is None:
        raise ConfigError(
            "ZOOM_OAUTH_CLIENT_ID and ZOOM_OAUTH_CLIENT_SECRET are not set: connecting from the "
            "browser needs Zoom's general OAuth app"
        )
    return app


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the authorization-code flow ----------------------------------------------------------------


def begin_connect(
    settings: Settings,
    store: Store,
    *,
    redirect_uri: str,
    binding: str,
    user_id: int | None,
    now: datetime | None = None,
) -> str:
    """Zoom's authorization URL for a new connect; the browser is sent there.

    ``binding`` is a random value kept in the browser's session: only the same browser can
    complete this connect. Expired connects of anyone are purged on the way.
    """
    app = _require_app(settings)
    vault = Vault(settings.secret_key)
    moment = now or datetime.now(UTC)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters; RFC 7636 allows 43 to 128
    with app.session(redirect_uri) as session:
        url, _ = session.create_authorization_url(
            app.authorize_url, state=state, code_verifier=verifier
        )
    store.oauth_states.add(
        state_hash=_sha256(state),
        binding_hash=_sha256(binding),
        code_verifier_enc=vault.encrypt(verifier),
        user_id=user_id,
        now=moment,
        expires_at=moment + STATE_TTL,
    )
    return str(url)


def complete_connect(
    settings: Settings,
    store: Store,
    *,
    redirect_uri: str,
    state: str | None,
    code: str | None,
    error: str | None,
    binding: str | None,
    connected_by: str,
    now: datetime | None = None,
    features: Iterable[str] = (),
) -> AccountRecord:
    """Finish a connect from Zoom's redirect; raises ``OAuthConnectError`` with a safe message.

    ``features`` (``zoomguard/zoom/scopes.py``) are what this deployment uses: an authorisation
    whose token lacks a scope one of them needs is refused, naming every missing scope, before
    anything is stored (as ``zoomguard connect`` refuses a Server-to-Server app)."""
    app = _require_app(settings)
    vault = Vault(settings.secret_key)
    moment = now or datetime.now(UTC)
    if not state:
        raise OAuthConnectError("Zoom's answer carries no state: start the connection again")
    pending = store.oauth_states.consume(_sha256(state))
    if pending is None:
        raise OAuthConnectError(
            "this connection link is unknown or was already used: start the connection again"
        )
    if not binding or not hmac.compare_digest(pending.binding_hash, _sha256(binding)):
        raise OAuthConnectError(
            "this connection was started in another browser session: start it again here"
        )
    if moment >= pending.expires_at:
        raise OAuthConnectError(
            "the connection took longer than 10 minutes and expired: start it again"
        )
    if error:
        reason = "access was denied" if error == "access_denied" else f"Zoom said {error[:64]!r}"
        raise OAuthConnectError(f"Zoom did not authorise zoomguard ({reason})")
    if not code:
        raise OAuthConnectError("Zoom's answer carries no authorization code")
    verifier = vault.decrypt(pending.code_verifier_enc)
    with app.session(redirect_uri) as session:
        try:
            token: Mapping[str, Any] = session.fetch_token(
                app.token_url,
                grant_type="authorization_code",
                code=code,
                code_verifier=verifier,
                timeout=settings.http_timeout_seconds,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ZoomUnavailable(
                f"cannot reach the Zoom token endpoint: {type(exc).__name__}"
            ) from None
    access_token, expires_at, refresh_token = _token_parts(token, moment)
    if refresh_token is None:
        raise ZoomAuthError("Zoom's token response has no refresh_token", status=200)
    granted = token.get("scope")
    if isinstance(granted, str):
        missing = scopes.missing_scopes(granted.split(), features)
        if missing:
            raise OAuthConnectError(
                "the Zoom app lacks scopes this deployment needs: "
                + scopes.describe_missing(missing)
                + "; add them to the app in the Marketplace, then connect again"
            )
    else:
        log.warning("Zoom's token response lists no scopes; they are not checked")
    me = _whoami(settings, access_token)
    zoom_account_id = me.get("account_id")
    if not isinstance(zoom_account_id, str) or not zoom_account_id:
        raise ZoomAuthError("Zoom did not say which account the token belongs to", status=200)
    company = me.get("company")
    account = store.accounts.save_oauth(
        zoom_account_id,
        app.client_id,
        access_token,
        expires_at,
        refresh_token,
        name=company if isinstance(company, str) and company.strip() else None,
        api_url=settings.zoom_api_url,
        now=moment,
    )
    store.audit.append(
        account_pk=account.id,
        actor="dashboard",
        action="account.connect",
        target=f"account:{zoom_account_id}",
        before=None,
        after={"auth_type": AUTH_OAUTH},
        confirmed=True,
        detail=f"connected through Zoom OAuth by {connected_by}",
        now=moment,
    )
    log.info("connected Zoom account %s through OAuth", zoom_account_id)
    return account


def _token_parts(token: Mapping[str, Any], now: datetime) -> tuple[str, datetime, str | None]:
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ZoomAuthError("Zoom's token response has no access_token", status=200)
    try:
        expires_in = float(token.get("expires_in") or 3600)
    except (TypeError, ValueError):
        expires_in = 3600.0
    refresh = token.get("refresh_token")
    return (
        access_token,
        now + timedelta(seconds=expires_in),
        refresh if isinstance(refresh, str) and refresh else None,
    )


def _whoami(settings: Settings, access_token: str) -> dict[str, Any]:
    """GET /users/me: the authorising user, whose ``account_id`` names the Zoom account."""
    url = settings.zoom_api_url.rstrip("/") + "/users/me"
    try:
        response = requests.get(
            url,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=settings.http_timeout_seconds,
        )
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ZoomUnavailable(f"cannot reach the Zoom API: {type(exc).__name__}") from None
    if response.status_code >= 500:
        raise ZoomUnavailable(f"GET /users/me answered HTTP {response.status_code}")
    if response.status_code >= 400:
        raise ZoomAuthError(
            "Zoom refused the new token for GET /users/me",
            status=response.status_code,
            method="GET",
            path="/users/me",
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ZoomAuthError("GET /users/me did not answer a JSON object", status=200)
    return body


def _raise_for_token_error(response: requests.Response) -> requests.Response:
    """Authlib compliance hook: Zoom's token errors as zoomguard errors (no token in them)."""
    status = response.status_code
    if status >= 500:
        raise ZoomUnavailable(f"the Zoom token endpoint answered HTTP {status}")
    if status >= 400:
        error, detail = _token_error_details(response)
        raise ZoomAuthError(
            f"Zoom refused the OAuth token request ({error}: {detail})",
            status=status,
            method="POST",
            path="/oauth/token",
            reason="oauth_invalid_grant" if error == "invalid_grant" else None,
        )
    return response


def _token_error_details(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}", "no JSON body"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}", "unexpected body"
    error = str(body.get("error") or f"HTTP {response.status_code}")[:64]
    detail = str(body.get("reason") or body.get("error_description") or "no reason given")
    return error, " ".join(detail.split())[:200]


# --- tokens of a connected account ---------------------------------------------------------------


class OAuthTokenProvider:
    """User OAuth tokens of one stored account, refreshed (and rotated) under the row lock.

    Thread-safe within a process (a lock) and across processes (the account row's lock): a
    refresh token is only ever presented once. ``clock`` is Unix seconds.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        account_pk: int,
        *,
        clock: Callable[[], float] = time.time,
        renew_before: float = RENEW_BEFORE_SECONDS,
    ) -> None:
        self._app = _require_app(settings)
        self._vault = Vault(settings.secret_key)
        self._store = store
        self._account_pk = account_pk
        self._clock = clock
        self._renew_before = renew_before
        self._timeout = settings.http_timeout_seconds
        self._lock = threading.Lock()
        self._access_token: str | None = None
        self._expires_at = 0.0
        self._rejected: str | None = None  # a token Zoom refused: never hand it out again
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"OAuthTokenProvider(account={self._account_pk})"

    def token(self) -> str:
        with self._lock:
            if self._access_token is None or self._clock() >= (
                self._expires_at - self._renew_before
            ):
                self._access_token, self._expires_at = self._current_or_refreshed()
            return self._access_token

    def invalidate(self, stale: str) -> None:
        with self._lock:
            self._rejected = stale
            if self._access_token == stale:
                self._access_token = None

    def _current_or_refreshed(self) -> tuple[str, float]:
        """The stored token if another process already renewed it, else a refreshed one."""
        failure: ZoomAuthError | None = None
        accounts = self._store.accounts
        with self._store.transaction() as session:
            account = accounts.lock(self._account_pk, session=session)
            if account is None or account.status != ACCOUNT_ACTIVE:
                raise ZoomAuthError(
                    f"account {self._account_pk} is not connected; {RECONNECT_HINT}", status=0
                )
            stored = accounts.load_token(account.id, session=session)
            if stored is not None:
                access_token, expires, _ = stored
                if access_token != self._rejected and self._clock() < (
                    expires.timestamp() - self._renew_before
                ):
                    return access_token, expires.timestamp()
            refresh_token = accounts.refresh_token(account.id, session=session)
            if refresh_token is None:
                raise ZoomAuthError(
                    f"Zoom account {account.zoom_account_id} has no refresh token; "
                    f"{RECONNECT_HINT}",
                    status=0,
                )
            requested_at = self._clock()
            try:
                token = self._refresh(refresh_token)
            except ZoomAuthError as exc:
                if exc.reason != "oauth_invalid_grant":
                    raise
                # Revoked, expired or already spent: it will never work again. Forget it (in
                # this transaction, which commits) so the dashboard shows "reconnect".
                accounts.forget_tokens(account.id, session=session)
                failure = exc
            else:
                now = datetime.fromtimestamp(requested_at, UTC)
                access_token, expires, new_refresh = _token_parts(token, now)
                accounts.save_token(account.id, access_token, expires, new_refresh, session=session)
                self.refresh_count += 1
                log.info("refreshed the OAuth token of Zoom account %s", account.zoom_account_id)
                return access_token, expires.timestamp()
        assert failure is not None
        raise ZoomAuthError(
            f"Zoom no longer accepts this account's refresh token; {RECONNECT_HINT}",
            status=failure.status,
            method="POST",
            path="/oauth/token",
            reason="oauth_invalid_grant",
        )

    def _refresh(self, refresh_token: str) -> Mapping[str, Any]:
        with self._app.session() as session:
            try:
                token: Mapping[str, Any] = session.refresh_token(
                    self._app.token_url, refresh_token=refresh_token, timeout=self._timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise ZoomUnavailable(
                    f"cannot reach the Zoom token endpoint: {type(exc).__name__}"
                ) from None
        return token
