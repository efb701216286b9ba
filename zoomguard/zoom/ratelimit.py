"""Client-side pacing that keeps zoomguard under Zoom's per-second rate limits.

Zoom counts requests per second per *account*, per rate-limit category (light, medium, ...),
for all apps together, and counts them when they arrive. A sweep runs many threads; without a
shared limiter their request rate would be set by round-trip latency.

``PacingLimiter`` spreads the requests of a category evenly (a generic cell rate algorithm:
each request goes ``1 / rate`` after the previous one, with a small burst tolerance). A
window-based limiter that lets a whole second's worth go at once is not enough: the batch
arrives at Zoom within the latency jitter, and a little jitter pushes the next batch into the
same server-side second. Evenly spaced requests stay evenly spaced at the server.

The rate adapts to what is left of the account's budget (other apps share it):

- ``slow_down`` (a per-second 429) cuts the rate by ``decrease`` (multiplicative decrease),
  once per burst of 429s: answers to requests sent before the last cut do not cut again;
- the rate climbs back by ``increase`` requests per second every second (additive increase),
  up to the configured ceiling, so it settles just under what the other apps leave free.

A 429 does not stop the whole category: the request that got it waits its Retry-After, the
others go on at the lowered rate (holding everyone back for a full second per 429 is what made
the old limiter alternate between 30 and 16 requests per second).

Clock and sleep are injectable: the tests drive the limiter with a fake clock and never sleep.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]
Sleep = Callable[[float], None]

# Each 429 burst cuts the rate to this share of what it was.
DEFAULT_DECREASE = 0.85
# The rate climbs back by this share of the ceiling per second: from a cut of 15 % back to
# the ceiling in about 15 s, slow enough that when other apps take part of the budget, the
# 429s of probing for more stay near one in a hundred calls.
DEFAULT_INCREASE_SHARE = 0.01
# Never below this share of the ceiling, so a storm of 429s cannot stall a category.
MIN_RATE_SHARE = 0.1


class PacingLimiter:
    """Evenly spaced slots at ``rate`` per second with a burst of ``burst``; thread-safe."""

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        decrease: float = DEFAULT_DECREASE,
        increase: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        if not 0 < decrease < 1:
            raise ValueError(f"decrease must be between 0 and 1, got {decrease}")
        self.ceiling = rate
        self.burst = burst
        self.decrease = decrease
        self.increase = increase if increase is not None else rate * DEFAULT_INCREASE_SHARE
        self.floor = rate * MIN_RATE_SHARE
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # Held by the caller waiting for the next slot (see acquire).
        self._queue = threading.Lock()
        self._rate = rate
        start = clock()
        # Theoretical arrival time of the next request (GCRA): the slot after the last one.
        self._next_slot = -math.inf
        self._climbed_at = start
        self._cut_at = -math.inf
        self._waited = 0.0
        self._cuts = 0

    @property
    def rate(self) -> float:
        """The current rate in requests per second (between the floor and the ceiling)."""
        with self._lock:
            self._climb(self._clock())
            return self._rate

    @property
    def waited_seconds(self) -> float:
        """Total time callers spent waiting in ``acquire`` (for metrics)."""
        with self._lock:
            return self._waited

    @property
    def cuts(self) -> int:
        """How many times ``slow_down`` lowered the rate."""
        with self._lock:
            return self._cuts

    def acquire(self) -> float:
        """Block until this caller may send; return the clock time it was let go.

        Callers go one at a time: the one holding the queue sleeps until its slot, the others
        wait for the queue. The next slot is counted from when a caller was actually let go,
        so a caller that woke late (a busy CPU) does not let the ones behind it catch up in a
        bunch: at Zoom, a bunch is what overflows a second.
        """
        with self._queue:
            while True:
                with self._lock:
                    now = self._clock()
                    self._climb(now)
                    interval = 1.0 / self._rate
                    delay = self._next_slot - (self.burst - 1) * interval - now
                    if delay <= 0:
                        self._next_slot = max(self._next_slot, now) + interval
                        return now
                    self._waited += delay
                self._sleep(delay)

    def slow_down(self, sent_at: float) -> bool:
        """A per-second 429 answered a request sent at ``sent_at``: cut the rate, once per
        burst. Returns whether the rate was cut."""
        with self._lock:
            now = self._clock()
            self._climb(now)
            if sent_at <= self._cut_at:
                return False  # sent before the last cut: that cut already answered this burst
            self._rate = max(self.floor, self._rate * self.decrease)
            self._cut_at = now
            self._cuts += 1
            # Space the next slot at the new rate from now, so the cut takes effect at once.
            self._next_slot = max(self._next_slot, now) + 1.0 / self._rate
            return True

    def _climb(self, now: float) -> None:
        elapsed = now - self._climbed_at
        if elapsed > 0:
            self._rate = min(self.ceiling, self._rate + self.increase * elapsed)
            self._climbed_at = now


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
