"""Zoom's per-account per-second limits (a token bucket per category) and the per-user daily cap
on meeting create/update requests."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


@dataclass
class _Bucket:
    tokens: float
    updated: float
    rate: float


class RateLimiter:
    """One bucket per category holding at most one second's worth of requests.

    A client that paces itself at the published rate never sees a 429; one that bursts past it
    does, with the seconds to wait. ``rate_of`` is read on every call so a test can change the
    plan or the limits while the server runs.
    """

    def __init__(
        self, rate_of: Callable[[str], float], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate_of = rate_of
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, category: str) -> float:
        """Take one request's token; return 0 if allowed, else the seconds until one is free."""
        rate = self._rate_of(category)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(category)
            if bucket is None or bucket.rate != rate:
                bucket = _Bucket(tokens=rate, updated=now, rate=rate)
                self._buckets[category] = bucket
            bucket.tokens = min(rate, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate if rate > 0 else math.inf

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


def next_utc_midnight(now: datetime) -> datetime:
    tomorrow = (now.astimezone(UTC) + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)


class DailyUpdateCounter:
    """Meeting create/update requests per host per UTC day (Zoom resets at 00:00 UTC)."""

    def __init__(self, today: Callable[[], date] = lambda: datetime.now(UTC).date()) -> None:
        self._today = today
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, date], int] = {}

    def try_count(self, host_id: str, limit: int) -> bool:
        """Count one update for ``host_id``; False (and not counted) once the cap is reached."""
        key = (host_id, self._today())
        with self._lock:
            used = self._counts.get(key, 0)
            if used >= limit:
                return False
            self._counts[key] = used + 1
            return True

    def used(self, host_id: str) -> int:
        with self._lock:
            return self._counts.get((host_id, self._today()), 0)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
