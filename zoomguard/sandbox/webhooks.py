"""Webhook delivery as Zoom does it: signed, on background threads, with Zoom's retries.

Zoom signs ``v0:{x-zm-request-timestamp}:{raw body}`` with HMAC-SHA256 and the app's secret
token, retries a delivery that got a 5xx, a connection error or a timeout 5, 20 and 60 minutes
later (scaled by ``webhook_time_scale`` here so tests need not wait), and does not retry 3xx or
4xx. A retry carries the same body and the same ``x-zm-request-id`` with a new
``x-zm-request-timestamp`` and signature (as in a retry captured from Zoom 304 s after the first
attempt). Every attempt is recorded with its outcome.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from zoomguard.sandbox.config import SandboxConfig

log = logging.getLogger(__name__)

RETRY_DELAYS_SECONDS = (5 * 60.0, 20 * 60.0, 60 * 60.0)
USER_AGENT = "Zoom Marketplace/1.0a"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The x-zm-signature value for ``body`` sent at ``timestamp`` (unix seconds)."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encrypt_plain_token(secret: str, plain_token: str) -> str:
    """The encryptedToken an endpoint must return for endpoint.url_validation."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one event."""

    event: str
    event_ts: int
    attempt: int
    url: str
    status: int | None
    error: str | None
    sent_at: float
    finished_at: float
    meeting_id: int | str | None
    will_retry: bool
    request_id: str = ""
    timestamp: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "event_ts": self.event_ts,
            "attempt": self.attempt,
            "url": self.url,
            "status": self.status,
            "error": self.error,
            "sent_at": self.sent_at,
            "finished_at": self.finished_at,
            "meeting_id": self.meeting_id,
            "will_retry": self.will_retry,
            "request_id": self.request_id,
            "timestamp": self.timestamp,
        }


@dataclass(frozen=True)
class UrlValidation:
    ok: bool
    status: int | None
    error: str | None


@dataclass
class _Job:
    event: str
    event_ts: int
    body: bytes
    url: str
    meeting_id: int | str | None
    attempt: int = 1
    # One id per event, kept by every retry of it (Zoom's x-zm-request-id).
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def event_meeting_id(event: dict[str, Any]) -> int | str | None:
    obj = event.get("payload", {}).get("object", {})
    value = obj.get("id") if isinstance(obj, dict) else None
    return value if isinstance(value, int | str) else None


class WebhookDispatcher:
    """Delivers events to ``config.webhook_url`` from a queue on ``config.webhook_workers``
    daemon threads; ``record`` receives every attempt."""

    def __init__(self, config: SandboxConfig, record: Callable[[Delivery], None]) -> None:
        self._config = config
        self._record = record
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Job]] = []
        self._seq = 0
        self._busy = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        with self._cond:
            self._stopping = False
        for index in range(max(1, self._config.webhook_workers)):
            thread = threading.Thread(
                target=self._run, name=f"sandbox-webhooks-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def wait_idle(self, timeout: float = 10.0, *, include_retries: bool = True) -> bool:
        """Block until nothing is in flight (and, with include_retries, nothing is scheduled)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = time.monotonic()
                pending = [due for due, _, _ in self._heap if include_retries or due <= now]
                if not pending and self._busy == 0:
                    return True
                remaining = deadline - now
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))

    # -- submitting --------------------------------------------------------------------------

    def submit(self, event: dict[str, Any]) -> bool:
        """Queue ``event`` for delivery now; False when no webhook URL is configured."""
        url = self._config.webhook_url
        if not url:
            return False
        body = json.dumps(event, separators=(",", ":")).encode()
        job = _Job(
            event=str(event.get("event", "")),
            event_ts=int(event.get("event_ts", 0)),
            body=body,
            url=url,
            meeting_id=event_meeting_id(event),
        )
        self._schedule(job, delay=0.0)
        return True

    def validate_url(self, url: str | None = None) -> UrlValidation:
        """Zoom's endpoint.url_validation check, synchronously."""
        target = url or self._config.webhook_url
        if not target:
            return UrlValidation(ok=False, status=None, error="no webhook URL configured")
        plain = secrets.token_urlsafe(16)
        event_ts = int(time.time() * 1000)
        body = json.dumps(
            {
                "payload": {"plainToken": plain},
                "event_ts": event_ts,
                "event": "endpoint.url_validation",
            },
            separators=(",", ":"),
        ).encode()
        sent_at = time.time()
        status: int | None = None
        error: str | None = None
        try:
            response = self._post(target, body, str(uuid.uuid4()), str(int(time.time())))
            status = response.status_code
            answer = response.json() if response.content else {}
            expected = encrypt_plain_token(self._config.webhook_secret, plain)
            if status != 200:
                error = f"HTTP {status}"
            elif not isinstance(answer, dict) or answer.get("plainToken") != plain:
                error = "plainToken missing or different"
            elif not hmac.compare_digest(str(answer.get("encryptedToken", "")), expected):
                error = "encryptedToken does not match"
        except (requests.RequestException, ValueError) as exc:
            error = type(exc).__name__
        self._record(
            Delivery(
                event="endpoint.url_validation",
                event_ts=event_ts,
                attempt=1,
                url=target,
                status=status,
                error=error,
                sent_at=sent_at,
                finished_at=time.time(),
                meeting_id=None,
                will_retry=False,
            )
        )
        return UrlValidation(ok=error is None, status=status, error=error)

    # -- internals ---------------------------------------------------------------------------

    def _schedule(self, job: _Job, delay: float) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._heap, (time.monotonic() + delay, self._seq, job))
            self._cond.notify()

    def _next_job(self) -> _Job | None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    _, _, job = heapq.heappop(self._heap)
                    self._busy += 1
                    return job
                timeout = self._heap[0][0] - now if self._heap else None
                self._cond.wait(timeout)
            return None

    def _run(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                return
            try:
                self._attempt(job)
            except Exception:  # a bug here must not kill the worker
                log.exception("webhook delivery failed unexpectedly")
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _post(self, url: str, body: bytes, request_id: str, timestamp: str) -> requests.Response:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": sign(self._config.webhook_secret, timestamp, body),
            "x-zm-request-id": request_id,
            "x-zm-trackingid": f"v=2.0;clid=sandbox;rid={uuid.uuid4().hex}",
        }
        with requests.Session() as session:
            return session.post(
                url,
                data=body,
                headers=headers,
                timeout=self._config.webhook_timeout_seconds,
                allow_redirects=False,
            )

    def _attempt(self, job: _Job) -> None:
        sent_at = time.time()
        timestamp = str(int(sent_at))  # each attempt is signed anew with its own timestamp
        status: int | None = None
        error: str | None = None
        try:
            response = self._post(job.url, job.body, job.request_id, timestamp)
            status = response.status_code
            response.close()
        except requests.RequestException as exc:
            error = type(exc).__name__
        retryable = status is None or status >= 500
        will_retry = retryable and job.attempt <= len(RETRY_DELAYS_SECONDS) and not self._stopping
        self._record(
            Delivery(
                event=job.event,
                event_ts=job.event_ts,
                attempt=job.attempt,
                url=job.url,
                status=status,
                error=error,
                sent_at=sent_at,
                finished_at=time.time(),
                meeting_id=job.meeting_id,
                will_retry=will_retry,
                request_id=job.request_id,
                timestamp=timestamp,
            )
        )
        if will_retry:
            delay = RETRY_DELAYS_SECONDS[job.attempt - 1] * self._config.webhook_time_scale
            job.attempt += 1
            self._schedule(job, delay)
