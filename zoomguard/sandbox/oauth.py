"""Zoom's OAuth endpoints: /oauth/token (account_credentials, authorization_code with PKCE,
refresh_token with rotation) and /oauth/authorize (approves at once and redirects back)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from zoomguard.sandbox.config import SandboxConfig

CODE_TTL_SECONDS = 600.0


@dataclass(frozen=True)
class AccessToken:
    kind: str  # "account" (Server-to-Server) or "user" (authorization_code / refresh_token)
    client_id: str
    user_id: str | None
    scope: str
    expires_at: float


@dataclass(frozen=True)
class _RefreshGrant:
    client_id: str
    user_id: str
    scope: str


@dataclass(frozen=True)
class _AuthCode:
    client_id: str
    user_id: str
    redirect_uri: str | None
    code_challenge: str | None
    scope: str
    expires_at: float


class TokenStore:
    """Access tokens, rotating refresh tokens and one-time authorization codes."""

    def __init__(self, ttl: Callable[[], float], clock: Callable[[], float] = time.time) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, _RefreshGrant] = {}
        self._codes: dict[str, _AuthCode] = {}

    def issue_access(
        self, kind: str, client_id: str, user_id: str | None, scope: str
    ) -> tuple[str, AccessToken]:
        token = "sbx." + secrets.token_urlsafe(32)
        info = AccessToken(kind, client_id, user_id, scope, self._clock() + self._ttl())
        with self._lock:
            self._access[token] = info
        return token, info

    def lookup(self, token: str) -> AccessToken | None:
        with self._lock:
            return self._access.get(token)

    def is_expired(self, info: AccessToken) -> bool:
        return self._clock() >= info.expires_at

    def issue_refresh(self, client_id: str, user_id: str, scope: str) -> str:
        token = "sbxr." + secrets.token_urlsafe(32)
        with self._lock:
            self._refresh[token] = _RefreshGrant(client_id, user_id, scope)
        return token

    def use_refresh(self, client_id: str, token: str) -> _RefreshGrant | None:
        """Consume a refresh token: it is rejected from then on (Zoom rotates them)."""
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None or grant.client_id != client_id:
                return None
            del self._refresh[token]
            return grant

    def issue_code(
        self,
        client_id: str,
        user_id: str,
        redirect_uri: str | None,
        code_challenge: str | None,
        scope: str,
    ) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _AuthCode(
                client_id, user_id, redirect_uri, code_challenge, scope,
                self._clock() + CODE_TTL_SECONDS,
            )  # fmt: skip
        return code

    def use_code(self, code: str) -> _AuthCode | None:
        with self._lock:
            grant = self._codes.pop(code, None)
        if grant is None or self._clock() >= grant.expires_at:
            return None
        return grant

    def expire_all(self) -> None:
        """Make every access token issued so far expired (refresh tokens stay usable)."""
        now = self._clock()
        with self._lock:
            for token, info in list(self._access.items()):
                self._access[token] = AccessToken(
                    info.kind, info.client_id, info.user_id, info.scope, now - 1
                )

    def count(self) -> int:
        with self._lock:
            return len(self._access)


def _error(status: int, reason: str, error: str) -> tuple[int, dict[str, Any]]:
    return status, {"reason": reason, "error": error}


def pkce_challenge(verifier: str) -> str:
    """S256: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


class OAuthEndpoints:
    """The decisions behind /oauth/token and /oauth/authorize, free of HTTP plumbing."""

    def __init__(
        self,
        config: SandboxConfig,
        tokens: TokenStore,
        resolve_user: Callable[[str | None], str | None],
        api_url: Callable[[], str],
    ) -> None:
        self._config = config
        self._tokens = tokens
        self._resolve_user = resolve_user
        self._api_url = api_url

    def _client(self, params: Mapping[str, str], auth_header: str | None) -> str | None:
        """The authenticated client's kind ("s2s" or "oauth"), or None."""
        creds = _basic_credentials(auth_header)
        if creds is None and params.get("client_id") and params.get("client_secret"):
            creds = (params["client_id"], params["client_secret"])
        if creds is None:
            return None
        client_id, secret = creds
        c = self._config
        if hmac.compare_digest(client_id, c.client_id) and hmac.compare_digest(
            secret, c.client_secret
        ):
            return "s2s"
        if hmac.compare_digest(client_id, c.oauth_client_id) and hmac.compare_digest(
            secret, c.oauth_client_secret
        ):
            return "oauth"
        return None

    def token(
        self, params: Mapping[str, str], auth_header: str | None
    ) -> tuple[int, dict[str, Any]]:
        client = self._client(params, auth_header)
        if client is None:
            return _error(401, "Invalid client_id or client_secret", "invalid_client")
        grant_type = params.get("grant_type")
        if not grant_type:
            return _error(400, "Missing grant type", "invalid_request")
        if grant_type == "account_credentials":
            return self._account_credentials(client, params)
        if grant_type == "authorization_code":
            return self._authorization_code(client, params)
        if grant_type == "refresh_token":
            return self._refresh_token(client, params)
        return _error(400, "Unsupported grant type", "unsupported_grant_type")

    def _token_body(
        self, kind: str, client_id: str, user_id: str | None, scope: str, *, refresh: bool
    ) -> dict[str, Any]:
        token, info = self._tokens.issue_access(kind, client_id, user_id, scope)
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": max(0, round(info.expires_at - time.time())),
            "scope": scope,
            "api_url": self._api_url(),
        }
        if refresh and user_id is not None:
            refresh_token = self._tokens.issue_refresh(client_id, user_id, scope)
            body = {**body, "refresh_token": refresh_token}
        return body

    def _account_credentials(
        self, client: str, params: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if client != "s2s":
            return _error(400, "Unsupported grant type", "unsupported_grant_type")
        account_id = params.get("account_id", "")
        if not hmac.compare_digest(account_id, self._config.account_id):
            return _error(400, "Invalid account_id", "invalid_request")
        body = self._token_body(
            "account", self._config.client_id, None, self._config.scopes, refresh=False
        )
        return 200, body

    def _authorization_code(
        self, client: str, params: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if client != "oauth":
            return _error(400, "Unsupported grant type", "unsupported_grant_type")
        grant = self._tokens.use_code(params.get("code", ""))
        if grant is None or grant.client_id != self._config.oauth_client_id:
            return _error(400, "Invalid authorization code", "invalid_grant")
        if grant.redirect_uri is not None and params.get("redirect_uri") != grant.redirect_uri:
            return _error(400, "Redirect URI mismatch.", "invalid_request")
        if grant.code_challenge is not None:
            verifier = params.get("code_verifier", "")
            if not verifier or not hmac.compare_digest(
                pkce_challenge(verifier), grant.code_challenge
            ):
                return _error(400, "Invalid code_verifier", "invalid_grant")
        body = self._token_body("user", grant.client_id, grant.user_id, grant.scope, refresh=True)
        return 200, body

    def _refresh_token(self, client: str, params: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        if client != "oauth":
            return _error(400, "Unsupported grant type", "unsupported_grant_type")
        grant = self._tokens.use_refresh(
            self._config.oauth_client_id, params.get("refresh_token", "")
        )
        if grant is None:
            return _error(400, "Invalid Token!", "invalid_grant")
        body = self._token_body("user", grant.client_id, grant.user_id, grant.scope, refresh=True)
        return 200, body

    def authorize(self, params: Mapping[str, str]) -> tuple[int, dict[str, Any] | None, str | None]:
        """(status, error body, redirect location) for GET /oauth/authorize."""
        if params.get("client_id") != self._config.oauth_client_id:
            return 400, {"reason": "Invalid client_id", "error": "invalid_client"}, None
        redirect_uri = params.get("redirect_uri")
        allowed = self._config.oauth_redirect_uris
        if not redirect_uri or (allowed and redirect_uri not in allowed):
            return 400, {"reason": "Redirect URI mismatch.", "error": "invalid_request"}, None
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return 400, {"reason": "Redirect URI mismatch.", "error": "invalid_request"}, None
        state = params.get("state")
        if params.get("response_type") != "code":
            return (
                302,
                None,
                _with_query(redirect_uri, {"error": "unsupported_response_type", "state": state}),
            )
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or ("plain" if challenge else None)
        if challenge is not None and method != "S256":
            return (
                302,
                None,
                _with_query(redirect_uri, {"error": "invalid_request", "state": state}),
            )
        user_id = self._resolve_user(params.get("sandbox_user"))
        if user_id is None:
            return 302, None, _with_query(redirect_uri, {"error": "access_denied", "state": state})
        code = self._tokens.issue_code(
            self._config.oauth_client_id, user_id, redirect_uri, challenge, self._config.scopes
        )
        return 302, None, _with_query(redirect_uri, {"code": code, "state": state})


def _with_query(url: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}{query}"
