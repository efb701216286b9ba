"""What tests script and inspect: the request log's records, injected faults, and the
next_page_token bookkeeping behind Zoom's paging."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PAGE_TOKEN_TTL_SECONDS = 15 * 60.0


@dataclass(frozen=True)
class RequestRecord:
    """One request the sandbox answered (or dropped: status 0)."""

    index: int
    method: str
    path: str  # as sent on the wire, still percent-encoded
    query: str  # raw query string (OAuth secrets masked)
    body: Any  # parsed JSON body, or None
    status: int
    category: str | None  # "light", "medium" or None (OAuth, control)
    received_at: float
    responded_at: float
    meeting_id: str | None = None  # the decoded meetingId path parameter, if any
    user_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": self.body,
            "status": self.status,
            "category": self.category,
            "received_at": self.received_at,
            "responded_at": self.responded_at,
            "meeting_id": self.meeting_id,
            "user_id": self.user_id,
        }


DEFAULT_FAULT_CODES = {429: 4001, 404: 3001, 401: 124, 400: 300}
DEFAULT_FAULT_MESSAGES = {
    429: "You have reached the maximum per-second rate limit for this API. Try again later.",
    404: "Meeting does not exist.",
    401: "Invalid access token.",
    400: "Validation Failed.",
}


@dataclass
class Fault:
    """A scripted failure for the next ``times`` requests that match."""

    method: str  # "GET", "PATCH", ... or "*"
    target: str  # a path ("/v2/meetings/1", "/oauth/token") or a meeting/user id
    status: int
    retry_after: str | None
    code: int
    message: str
    times: int = 1

    def matches(self, method: str, path: str, params: Mapping[str, str]) -> bool:
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        if self.target.startswith("/"):
            return path in (self.target, "/v2" + self.target)
        return self.target in (params.get("meeting_id"), params.get("user_id"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "target": self.target,
            "status": self.status,
            "retry_after": self.retry_after,
            "code": self.code,
            "message": self.message,
            "times": self.times,
        }


@dataclass
class _Page:
    key: str
    remaining: list[Any]
    total: int
    created: float = field(default_factory=time.monotonic)


class PageTokens:
    """next_page_token values. A token pins the result set it was issued for (for 15 minutes,
    as at Zoom), so items deleted between pages do not shift later pages, and it may be sent
    again (a retried request gets the same page)."""

    def __init__(self, ttl: Callable[[], float] = lambda: PAGE_TOKEN_TTL_SECONDS) -> None:
        self._lock = threading.Lock()
        self._pages: dict[str, _Page] = {}
        self._ttl = ttl  # read on every use: tests shorten it mid-run

    def page(
        self, key: str, items: list[Any] | None, page_size: int, token: str | None
    ) -> tuple[list[Any], str, int] | None:
        with self._lock:
            if token:
                found = self._pages.get(token)
                if (
                    found is None
                    or found.key != key
                    or time.monotonic() - found.created > self._ttl()
                ):
                    return None
                remaining, total = found.remaining, found.total
            else:
                remaining = list(items or [])
                total = len(remaining)
            chunk, rest = remaining[:page_size], remaining[page_size:]
            next_token = ""
            if rest:
                self._purge()
                next_token = secrets.token_urlsafe(24)
                self._pages[next_token] = _Page(key, rest, total)
            return chunk, next_token, total

    def _purge(self) -> None:
        cutoff = time.monotonic() - self._ttl()
        for token in [t for t, p in self._pages.items() if p.created < cutoff]:
            del self._pages[token]
