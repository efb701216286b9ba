"""Access tokens for the Zoom API.

Server-to-Server OAuth tokens last an hour and come without a refresh token: the app simply asks
for a new one (grant_type=account_credentials): one form POST with HTTP Basic client
authentication, sent with requests (Authlib, which user OAuth uses in ``service/connect.py``,
takes 0.15 s of CPU to import, on every sweep's way to its first request). ``S2STokenProvider``
renews the token under a lock: shortly before expiry, and once after Zoom rejects a token (HTTP
401, code 124).

Tokens and the client secret are never logged or put in exception messages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import requests

from zoomguard.errors import ZoomAuthError, ZoomUnavailable

log = logging.getLogger(__name__)

# Renew this long before Zoom's stated expiry, so a request never leaves with a token that
# expires in flight (and clock skew between us and Zoom does not matter).
DEFAULT_RENEW_BEFORE_SECONDS = 300.0
CREDENTIALS_HINT = (
    "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET, and that the "
    "Server-to-Server OAuth app is activated"
)


class TokenProvider(Protocol):
    """What ``ZoomClient`` needs: a current bearer token, and a way to report a rejected one."""

    def token(self) -> str:
        """A bearer token that is valid now (fetching or renewing it if needed)."""
        ...

    def invalidate(self, stale: str) -> None:
        """Zoom rejected ``stale``; the next ``token()`` must not return it."""
        ...


class StaticTokenProvider:
    """A fixed token (tests, or a user OAuth token managed elsewhere). Cannot renew."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def invalidate(self, stale: str) -> None:
        # Nothing to renew: the client's single retry gets another 401 and raises ZoomAuthError.
        return None

    def __repr__(self) -> str:
        return "StaticTokenProvider(token=***)"


class S2STokenProvider:
    """Server-to-Server OAuth tokens, fetched (one POST) and renewed before they expire.

    Thread-safe. A renewal holds the lock for the duration of the token request, so with many
    threads only one request goes to Zoom and the others wait for its result. ``invalidate``
    only drops the token if it is still the current one, so several threads that were all
    refused the same stale token cause one renewal, not one each.

    ``on_token(access_token, expires_at)`` is called after every fetch (``expires_at`` on the
    ``clock`` scale, Unix time by default), e.g. to cache the token encrypted.
    """

    def __init__(
        self,
        token_url: str,
        account_id: str,
        client_id: str,
        client_secret: str,
        *,
        clock: Callable[[], float] = time.time,
        on_token: Callable[[str, float], None] | None = None,
        renew_before: float = DEFAULT_RENEW_BEFORE_SECONDS,
        timeout: float = 30.0,
    ) -> None:
        self._token_url = token_url
        self._account_id = account_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._on_token = on_token
        self._renew_before = renew_before
        self._timeout = timeout
        self._lock = threading.Lock()
        self._access_token: str | None = None
        self._expires_at = 0.0
        self.fetch_count = 0
        self.api_url: str | None = None  # Zoom's regional API host, from the last token
        # The scopes Zoom granted the app (the token response's space-separated ``scope``);
        # None until a token is fetched, or if Zoom's answer did not say.
        self.granted_scopes: frozenset[str] | None = None

    def __repr__(self) -> str:
        return f"S2STokenProvider(token_url={self._token_url!r}, client_id={self._client_id!r})"

    def token(self) -> str:
        with self._lock:
            if self._access_token is None or self._clock() >= (
                self._expires_at - self._renew_before
            ):
                self._fetch()
            assert self._access_token is not None  # set by _fetch or it raised
            return self._access_token

    def invalidate(self, stale: str) -> None:
        with self._lock:
            if self._access_token == stale:
                self._access_token = None

    def seed(self, access_token: str, expires_at: float) -> None:
        """Start from a token fetched earlier (the clock process renews the stored one), so a
        worker or sweep does not fetch a new token each time it starts."""
        with self._lock:
            if self._access_token is None:
                self._access_token, self._expires_at = access_token, expires_at

    def _fetch(self) -> None:
        requested_at = self._clock()
        try:
            # Zoom's account_credentials grant is one form POST with HTTP Basic client
            # authentication, as Authlib's fetch_token sent it; sent directly, so a sweep does
            # not import Authlib (0.15 s of CPU) on its way to its first request.
            response = requests.post(
                self._token_url,
                data={"grant_type": "account_credentials", "account_id": self._account_id},
                auth=(self._client_id, self._client_secret),
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ZoomUnavailable(
                f"cannot reach the Zoom token endpoint {self._token_url}: {type(exc).__name__}"
            ) from None
        _raise_for_token_error(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        # Not a JSON object, or an OAuth error object: no access_token, refused below.
        token: Mapping[str, Any] = body if isinstance(body, dict) else {}
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise ZoomAuthError(
                "Zoom's token response has no access_token; " + CREDENTIALS_HINT, status=200
            )
        expires_in = float(token.get("expires_in") or 3600)
        self._access_token = access_token
        self._expires_at = requested_at + expires_in
        self.fetch_count += 1
        api_url = token.get("api_url")
        self.api_url = api_url if isinstance(api_url, str) else None
        scope = token.get("scope")
        self.granted_scopes = frozenset(scope.split()) if isinstance(scope, str) else None
        log.info("obtained a Zoom access token valid for %.0f s", expires_in)
        if self._on_token is not None:
            try:
                self._on_token(access_token, self._expires_at)
            except Exception as exc:  # a failing cache must not stop API calls
                log.warning("on_token callback failed: %s", type(exc).__name__)


def _raise_for_token_error(response: requests.Response) -> requests.Response:
    """Turn Zoom's token errors into one-line zoomguard errors."""
    status = response.status_code
    if status >= 500:
        raise ZoomUnavailable(f"the Zoom token endpoint answered HTTP {status}")
    if status >= 400:
        error, detail = _token_error_details(response)
        raise ZoomAuthError(
            f"Zoom rejected the Server-to-Server OAuth credentials ({error}: {detail}); "
            + CREDENTIALS_HINT,
            status=status,
            method="POST",
            path="/oauth/token",
        )
    return response


def _token_error_details(response: requests.Response) -> tuple[str, str]:
    # Zoom answers e.g. {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}", "no JSON body"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}", "unexpected body"
    error = str(body.get("error") or f"HTTP {response.status_code}")
    detail = str(body.get("reason") or body.get("error_description") or "no reason given")
    return error, " ".join(detail.split())
