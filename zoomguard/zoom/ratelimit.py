"""Client-side limits that keep zoomguard under Zoom's per-second rate limits.

Zoom counts requests per second per *account*, per rate-limit category (light, medium, ...),
for all apps together. A sweep runs many threads; without a shared limiter their request rate
would be set by round-trip latency, and a fast network would earn a stream of 429s.

``SlidingWindowLimiter`` remembers the send time of the last ``capacity`` requests and lets a
request go only when fewer than ``capacity`` were sent in the trailing window. So at send time
no window of ``window`` seconds ever holds more than ``capacity`` requests, and a busy pool
still sustains ``capacity`` per window. ``defer`` holds the whole category back when Zoom says
so (a 429 with Retry-After), so the other threads stop too instead of collecting 429s.

Clock and sleep are injectable: the tests drive the limiter with a fake clock and never sleep.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]
Sleep = Callable[[float], None]

_SLACK = 1e-9


class SlidingWindowLimiter:
    """At most ``capacity`` acquisitions in any window of ``window`` seconds; thread-safe."""

    def __init__(
        self,
        capacity: int,
        window: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}")
        self.capacity = capacity
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self._deferred_until = -math.inf
        self._waited = 0.0

    @classmethod
    def per_second(
        cls, rate: float, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> SlidingWindowLimiter:
        """A limiter for ``rate`` requests per second.

        Fractional rates above 1 round down (never exceed); rates below 1 become one request
        per ``1/rate`` seconds.
        """
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if rate >= 1:
            return cls(math.floor(rate), 1.0, clock=clock, sleep=sleep)
        return cls(1, 1.0 / rate, clock=clock, sleep=sleep)

    @property
    def waited_seconds(self) -> float:
        """Total time callers spent waiting in ``acquire`` (for metrics)."""
        with self._lock:
            return self._waited

    def acquire(self) -> float:
        """Block until a request may be sent; return the clock time of the granted slot."""
        while True:
            with self._lock:
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    self._sent.append(now)
                    return now
                self._waited += delay
            # Sleep outside the lock so other threads can see the window too; after waking we
            # check again, because another thread may have taken the slot first.
            self._sleep(delay)

    def defer(self, seconds: float) -> None:
        """Send nothing in this category for ``seconds`` from now (e.g. Zoom's Retry-After)."""
        with self._lock:
            self._deferred_until = max(self._deferred_until, self._clock() + seconds)

    def _delay(self, now: float) -> float:
        # A send at exactly now - window has left the window (windows are half-open). The
        # nanosecond of slack stops float rounding from turning a wake-up into an endless
        # series of ever smaller sleeps.
        while self._sent and self._sent[0] <= now - self.window + _SLACK:
            self._sent.popleft()
        if now < self._deferred_until:
            return self._deferred_until - now
        if len(self._sent) < self.capacity:
            return 0.0
        return self._sent[0] + self.window - now


class ManualClock:
    """A clock that only moves when told to; ``sleep`` moves it. For deterministic tests.

    Pass ``clock=manual.now, sleep=manual.sleep`` to a limiter or client: waits then take no
    real time, and ``sleeps`` records every requested sleep. Thread-safe.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._now = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
