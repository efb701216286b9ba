"""Zoom's per-account per-second limits (a sliding one-second window per category, counted when
a request arrives) and the per-user daily cap on meeting create/update requests."""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

# Lets a send at exactly one window ago count as outside it despite float rounding.
_SLACK = 1e-9


class RateLimiter:
    """Per category, at most ``rate`` requests in any one-second window, counted on arrival.

    Zoom does not document how it counts its per-second window; a sliding window is the
    strictest reading (no one-second span, wherever it starts, holds more than the rate), so a
    client that passes here passes a fixed-window counter too. Requests answered 429 are not
    counted. ``rate_of`` is read on every call so a test can change the plan or the limits while
    the server runs. Rates below 1 allow one request per ``1 / rate`` seconds.
    """

    def __init__(
        self, rate_of: Callable[[str], float], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate_of = rate_of
        self._clock = clock
        self._lock = threading.Lock()
        # Per category, the counted arrivals of the last window, in time order.
        self._arrivals: dict[str, list[float]] = {}

    def acquire(self, category: str, at: float | None = None) -> float:
        """Count one request arriving at ``at`` (this limiter's clock; now if not given);
        return 0 if allowed, else the seconds until one would be.

        Requests may be counted a little out of order (``at`` is when the modelled network
        delivered a request, and the threads that count them run in whatever order they get
        the CPU). A request is then judged against every counted arrival after ``at`` minus
        one second, later ones included: the stricter reading."""
        rate = self._rate_of(category)
        if rate <= 0:
            return math.inf
        capacity, window = (math.floor(rate), 1.0) if rate >= 1 else (1, 1.0 / rate)
        now = self._clock() if at is None else at
        with self._lock:
            arrivals = self._arrivals.setdefault(category, [])
            expired = bisect.bisect_right(arrivals, now - window + _SLACK)
            if expired:
                del arrivals[:expired]
            if len(arrivals) < capacity:
                bisect.insort(arrivals, now)
                return 0.0
            return max(0.0, arrivals[-capacity] + window - now)

    def reset(self) -> None:
        with self._lock:
            self._arrivals.clear()


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
