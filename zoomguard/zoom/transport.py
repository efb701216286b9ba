"""How a request reaches Zoom: tokens, the per-category rate limit, retries, metrics.

``ZoomTransport`` is the base of ``ZoomClient`` (client.py, the endpoints) and is shared by all
threads of a sweep. Every request:

1. gets a bearer token from the ``TokenProvider`` (renewed ahead of expiry, under its lock);
2. waits for a slot in its rate-limit category (light or medium, shared by all threads);
3. is sent; then, by answer:
   - 2xx: done;
   - 401 with Zoom code 124: the token is invalidated and the request retried once;
   - 429: a far Retry-After or a daily ``X-RateLimit-Type`` raises ``ZoomRateLimited``
     (reason ``daily_limit``; ``daily_update_limit`` on a meeting update) instead of sleeping
     for hours; a meeting update (PATCH /meetings/..) still refused with 429 after one back-off
     is the per-user daily update cap (``daily_update_limit``): Zoom says which only in words,
     and in the account's language. Otherwise it is a per-second 429: the category's pacing
     rate is cut (``PacingLimiter.slow_down``; it climbs back slowly) and the request is retried
     after its Retry-After (within ``max_retry_after`` seconds) or, without one, after a backoff
     with full jitter. The other threads keep going at the lower rate: no 429 stalls the whole
     category;
   - 5xx, connection errors and timeouts: bounded retries with backoff, then ``ZoomUnavailable``
     (``Interrupted`` instead of the next retry once the ``stop`` event given is set);
   - any other 4xx: ``ZoomAPIError`` (``ZoomNotFound`` for 404, ``ZoomScopeMissing`` for code
     4711) with Zoom's code and message.

Decisions are taken on statuses, Zoom's codes and headers only, never on a message's words:
Zoom translates them into the account's language. Messages are kept only to show people.

Request bodies (which may carry meeting passcodes) and tokens are never logged.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import json
import logging
import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, Self
from urllib.parse import urlencode

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import requote_uri

from zoomguard.errors import (
    Interrupted,
    ZoomAPIError,
    ZoomAuthError,
    ZoomNotFound,
    ZoomRateLimited,
    ZoomScopeMissing,
    ZoomUnavailable,
)
from zoomguard.zoom.pool import PoolKeyCachingAdapter
from zoomguard.zoom.ratelimit import PacingLimiter
from zoomguard.zoom.tokens import TokenProvider

log = logging.getLogger(__name__)

LIGHT = "light"
MEDIUM = "medium"

INVALID_TOKEN = 124
MISSING_SCOPE = 4711
# Zoom's answer to a next_page_token that expired (15 minutes) or is unknown: HTTP 400, code 300.
INVALID_FIELD = 300
# How often one listing starts again from its first page after its page token expired.
MAX_LISTING_RESTARTS = 3
_MEETING_PATH = re.compile(r"^/meetings/[^/]+$")
# Requests are paced at this share of the rate they are given (see ZoomTransport.__init__):
# evenly sent requests whose arrival at Zoom varies by up to ARRIVAL_JITTER_SECONDS arrive, in
# any one-second window, from a sending window of 1 + jitter seconds, so pacing at
# rate / (1 + jitter) keeps every window Zoom counts within the rate. 20 ms is the jitter the
# sandbox adds at 100 ms latency; more than that is met by the limiter's decrease on a 429.
ARRIVAL_JITTER_SECONDS = 0.02
JITTER_HEADROOM = 1 / (1 + ARRIVAL_JITTER_SECONDS)

ResponseObserver = Callable[[str, str, int, float], None]


class _PageTokenExpired(Exception):
    """Zoom refused a listing's next_page_token: the listing starts again."""


class _Uniform(Protocol):
    def uniform(self, a: float, b: float, /) -> float: ...


class ClientStats:
    """Thread-safe counters of what the client did, for logs, health checks and metrics.

    ``status`` 0 counts attempts that got no HTTP answer (connection error or timeout).
    """

    def __init__(self, limiters: Mapping[str, PacingLimiter]) -> None:
        self._lock = threading.Lock()
        self._limiters = limiters
        self._calls: Counter[tuple[str, int]] = Counter()
        self._rate_limited = 0
        self._retries = 0
        self._auth_retries = 0

    def record_call(self, category: str, status: int) -> None:
        with self._lock:
            self._calls[(category, status)] += 1

    def record_rate_limited(self) -> None:
        with self._lock:
            self._rate_limited += 1

    def record_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def record_auth_retry(self) -> None:
        with self._lock:
            self._auth_retries += 1

    def snapshot(self) -> dict[str, Any]:
        """``{"calls": {"light": {"200": 3}}, "rate_limited": 1, "retries": 2, ...}``."""
        with self._lock:
            calls: dict[str, dict[str, int]] = {}
            for (category, status), count in sorted(self._calls.items()):
                calls.setdefault(category, {})[str(status)] = count
            result: dict[str, Any] = {
                "calls": calls,
                "rate_limited": self._rate_limited,
                "retries": self._retries,
                "auth_retries": self._auth_retries,
            }
        result["throttle_wait_seconds"] = {
            category: limiter.waited_seconds for category, limiter in self._limiters.items()
        }
        return result


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header, or None if absent or unreadable.

    Accepts a number of seconds, an HTTP date, or an ISO 8601 datetime such as
    ``2020-05-31T00:00:00Z`` (what Zoom documents for its daily limits). ``now`` is Unix time.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    when: datetime | None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _zoom_error(response: requests.Response) -> tuple[int | None, str]:
    """Zoom's own error code and message from an error body ``{"code": .., "message": ..}``."""
    try:
        body = response.json()
    except ValueError:
        return None, response.reason or f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return None, response.reason or f"HTTP {response.status_code}"
    raw_code = body.get("code")
    code: int | None = None
    if isinstance(raw_code, int):
        code = raw_code
    elif isinstance(raw_code, str) and raw_code.isdigit():
        code = int(raw_code)
    message = str(body.get("message") or response.reason or f"HTTP {response.status_code}")
    return code, " ".join(message.split())


class ZoomTransport:
    """Thread-safe transport to Zoom's API. See the module docstring for the retry rules."""

    def __init__(
        self,
        api_url: str,
        token_provider: TokenProvider,
        *,
        rate_light: float = 30.0,
        rate_medium: float = 20.0,
        timeout: float = 30.0,
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        pool_size: int = 32,
        wall_clock: Callable[[], float] = time.time,
        max_retry_after: float = 60.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        rng: _Uniform | None = None,
        on_response: ResponseObserver | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        # Set when the process is stopping (SIGTERM): a retry is not waited for but abandoned
        # with ``Interrupted``, so a worker can give its event back within the supervisor's
        # grace period instead of sitting out the whole retry loop against a failing Zoom.
        self._stop = stop
        self._tokens = token_provider
        self._timeout = timeout
        self._max_retries = max_retries
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._max_retry_after = max_retry_after
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._rng: _Uniform = rng if rng is not None else random.Random()
        self._rng_lock = threading.Lock()
        self._on_response = on_response
        # Paced a little under the rate: Zoom counts requests when they arrive, and latency
        # jitter can bring evenly sent requests closer together on the way.
        self.limiters: dict[str, PacingLimiter] = {
            category: PacingLimiter(rate * JITTER_HEADROOM, clock=clock, sleep=sleep)
            for category, rate in ((LIGHT, rate_light), (MEDIUM, rate_medium))
        }
        self.stats = ClientStats(self.limiters)
        # One Session shared by all threads, not one per thread: Session.request() keeps no
        # per-request state on the session, the connection pool (urllib3) is thread-safe and
        # sized to the thread pool so connections are reused instead of discarded, and the only
        # shared mutable state, the cookie jar, is switched off (Zoom's API is bearer-token
        # only). Thread-local sessions would open a pool per thread and never share connections.
        self._session = requests.Session()
        # Proxy and CA bundle variables (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE) are read
        # once here, for the API's host, instead of on every request: with trust_env, requests
        # re-reads them per call, which cost 7 % of a sweep's CPU.
        from_env = self._session.merge_environment_settings(self.api_url, {}, None, None, None)
        self._session.proxies.update(from_env["proxies"])
        self._session.verify = from_env["verify"]
        self._session.trust_env = False
        self._session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._adapter = PoolKeyCachingAdapter(
            pool_connections=4, pool_maxsize=pool_size, max_retries=0
        )
        self._session.mount("https://", self._adapter)
        self._session.mount("http://", self._adapter)
        self._session.headers.update({"Accept": "application/json"})
        self._proxies: dict[str, str] = dict(self._session.proxies)
        self._verify: bool | str = True if self._session.verify is None else self._session.verify
        # requests' defaults (User-Agent, Accept-Encoding, Connection) and ours.
        self._base_headers: dict[str, str] = {
            key: value if isinstance(value, str) else value.decode("latin-1")
            for key, value in self._session.headers.items()
        }

    def close(self) -> None:
        self._session.close()

    def warm_token(self) -> threading.Thread:
        """Have the bearer token ready before the first request: read from the cache or
        fetched, in a background thread, while the caller does its own set-up.

        The first request waits for the same token under the provider's lock, so this never
        fetches a token the caller would not have fetched (Zoom invalidates a Server-to-Server
        token when a newer one is issued); it only moves the wait earlier. A failure here is
        met again, and raised, by the first request."""

        def fetch() -> None:
            try:
                self._tokens.token()
            except Exception as exc:  # the first request raises it where it is handled
                log.debug("token warm-up failed: %s", type(exc).__name__)

        thread = threading.Thread(target=fetch, name="zg-token", daemon=True)
        thread.start()
        return thread

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------------------

    def _paginate(
        self, category: str, path: str, params: Mapping[str, str], key: str
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, following next_page_token (it is "" on the last page).

        Zoom's page tokens expire after 15 minutes. A token refused (HTTP 400, code 300) starts
        the listing again from its first page, skipping the items already given by ``id``, so a
        slow consumer costs requests, not a failed listing.
        """
        given: set[object] = set()
        restarts = 0
        while True:
            try:
                yield from self._pages(category, path, params, key, given)
                return
            except _PageTokenExpired:
                restarts += 1
                if restarts > MAX_LISTING_RESTARTS:
                    raise ZoomAPIError(
                        "Zoom refused this listing's page token again and again",
                        status=400,
                        code=INVALID_FIELD,
                        method="GET",
                        path=path,
                        reason="pagination",
                    ) from None
                log.info("GET %s: page token expired; listing again from the start", path)

    def _pages(
        self,
        category: str,
        path: str,
        params: Mapping[str, str],
        key: str,
        given: set[object],
    ) -> Iterator[dict[str, Any]]:
        seen_tokens: set[str] = set()
        page_token = ""
        while True:
            query = dict(params)
            if page_token:
                query["next_page_token"] = page_token
            try:
                page = self._json(category, "GET", path, query)
            except ZoomAPIError as exc:
                if page_token and exc.status == 400 and exc.code == INVALID_FIELD:
                    raise _PageTokenExpired from None
                raise
            for item in page.get(key) or []:
                if not isinstance(item, dict):
                    continue
                ident = item.get("id", item.get("uuid"))
                if ident is not None:
                    if ident in given:
                        continue
                    given.add(ident)
                yield item
            page_token = str(page.get("next_page_token") or "")
            if not page_token:
                return
            if page_token in seen_tokens:
                raise ZoomAPIError(
                    "Zoom repeated a next_page_token; stopping to avoid an endless listing",
                    status=200,
                    method="GET",
                    path=path,
                    reason="pagination",
                )
            seen_tokens.add(page_token)

    def _json(
        self,
        category: str,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        response = self._request(category, method, path, params=params)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ZoomAPIError(
                "Zoom's answer is not a JSON object",
                status=response.status_code,
                method=method,
                path=path,
            )
        return body

    def _request(
        self,
        category: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        url = self.api_url + path
        limiter = self.limiters[category]
        retries = 0
        auth_retried = False
        while True:
            # Token first, then the rate-limit slot: a token renewal that takes a while must
            # not leave a batch of already-granted slots to go out together afterwards.
            token = self._tokens.token()
            limiter.acquire()
            started = self._clock()
            try:
                response = self._adapter.send(
                    self._prepare(method, url, params, body, token),
                    timeout=self._timeout,
                    verify=self._verify,
                    proxies=self._proxies,
                )
                # Read the whole answer now, as Session.send does: that gives the connection
                # back to the pool (an unread 204 would hold it until garbage collection).
                _ = response.content
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._observe(category, method, 0, self._clock() - started)
                problem = type(exc).__name__
                if retries >= self._max_retries:
                    raise ZoomUnavailable(
                        f"{method} {path}: {problem} after {retries + 1} attempts"
                    ) from None
                retries += 1
                self._retry_after_backoff(method, path, problem, retries)
                continue
            status = response.status_code
            self._observe(category, method, status, self._clock() - started)
            if status < 400:
                return response

            code, message = _zoom_error(response)
            if status == 401:
                if code == INVALID_TOKEN and not auth_retried:
                    auth_retried = True
                    self.stats.record_auth_retry()
                    log.info("%s %s: access token rejected (124); renewing once", method, path)
                    self._tokens.invalidate(token)
                    continue
                raise ZoomAuthError(message, status=status, code=code, method=method, path=path)
            if status == 429:
                self.stats.record_rate_limited()
                limit_type = response.headers.get("X-RateLimit-Type", "").lower()
                if (
                    retries > 0
                    and not limit_type
                    and method == "PATCH"
                    and _MEETING_PATH.match(path)
                ):
                    # Refused again after backing off, and no header says which limit: the
                    # per-user daily update cap, which Zoom names only in (translated) words.
                    # (A per-second 429 says X-RateLimit-Type: QPS.) Retrying cannot help.
                    raise ZoomRateLimited(
                        message,
                        status=status,
                        code=code,
                        method=method,
                        path=path,
                        reason="daily_update_limit",
                    )
                delay = self._rate_limit_delay(response, method, path, code, message)
                # Here the 429 is a per-second one (daily limits raised above): the category
                # slows down, and only this request waits for Retry-After.
                if limiter.slow_down(started):
                    log.info("%s: rate limited, now %.1f requests/s", category, limiter.rate)
                if retries >= self._max_retries:
                    raise ZoomRateLimited(
                        f"{message} (still rate limited after {retries + 1} attempts)",
                        status=status,
                        code=code,
                        method=method,
                        path=path,
                    )
                retries += 1
                if delay is None:
                    self._retry_after_backoff(method, path, "HTTP 429", retries)
                else:
                    self.stats.record_retry()
                    log.info("%s %s: rate limited, retry in %.1f s", method, path, delay)
                    self._sleep(delay)
                continue
            if status >= 500:
                if retries >= self._max_retries:
                    raise ZoomUnavailable(
                        f"{method} {path}: HTTP {status} after {retries + 1} attempts: {message}"
                    )
                retries += 1
                self._retry_after_backoff(method, path, f"HTTP {status}", retries)
                continue
            error_class = ZoomAPIError
            if status == 404:
                error_class = ZoomNotFound
            elif code == MISSING_SCOPE:
                error_class = ZoomScopeMissing
            raise error_class(message, status=status, code=code, method=method, path=path)

    def _prepare(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
        token: str,
    ) -> requests.PreparedRequest:
        """The request as ``Session.request`` would prepare it, built directly.

        The session's own path (merging settings, cookies, hooks, redirects) was a third of the
        CPU each request cost a sweep and does nothing for Zoom's API: its settings were fixed
        at start (see __init__), it sets no cookies, and it does not redirect (a 3xx is not a
        JSON answer and fails as one). The adapter, its connection pool and its timeouts are
        requests' own.
        """
        prepared = requests.PreparedRequest()
        prepared.method = method
        if params:
            url = f"{url}?{urlencode(params)}"
        prepared.url = requote_uri(url)
        headers = CaseInsensitiveDict(self._base_headers)
        headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            # What requests' json= sends: compact but spaced separators, no NaN.
            data = json.dumps(body, allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
            headers["Content-Length"] = str(len(data))
            prepared.body = data
        else:
            if method in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = "0"
            prepared.body = None
        prepared.headers = headers
        prepared.hooks = {"response": []}
        return prepared

    def _rate_limit_delay(
        self,
        response: requests.Response,
        method: str,
        path: str,
        code: int | None,
        message: str,
    ) -> float | None:
        """How long to wait before retrying a 429, or raise if waiting makes no sense."""
        delay = parse_retry_after(response.headers.get("Retry-After"), self._wall_clock())
        daily = "daily" in response.headers.get("X-RateLimit-Type", "").lower()
        if (delay is not None and delay > self._max_retry_after) or (daily and delay is None):
            retry_at = (
                f"; Zoom says retry after {response.headers['Retry-After']}"
                if delay is not None
                else ""
            )
            raise ZoomRateLimited(
                message + retry_at,
                status=429,
                code=code,
                method=method,
                path=path,
                # On a meeting update, the daily limit is the per-user update cap.
                reason="daily_update_limit"
                if method == "PATCH" and _MEETING_PATH.match(path)
                else "daily_limit",
            )
        return delay

    def _retry_after_backoff(self, method: str, path: str, problem: str, attempt: int) -> None:
        # Full jitter (uniform between 0 and an exponentially growing cap) spreads the retries
        # of many threads instead of sending them back in lockstep.
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
        with self._rng_lock:
            delay = self._rng.uniform(0.0, ceiling)
        self.stats.record_retry()
        log.info("%s %s: %s, retry %d in %.2f s", method, path, problem, attempt, delay)
        if self._stop is None:
            self._sleep(delay)
        elif self._stop.wait(delay):
            raise Interrupted(f"{method} {path}: stopping; retry {attempt} abandoned ({problem})")

    def _observe(self, category: str, method: str, status: int, seconds: float) -> None:
        self.stats.record_call(category, status)
        if self._on_response is not None:
            try:
                self._on_response(category, method, status, seconds)
            except Exception as exc:  # metrics must never break an API call
                log.warning("on_response observer failed: %s", type(exc).__name__)
