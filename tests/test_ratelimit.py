"""The shared limiter never lets more than `capacity` requests out in any window, yet keeps up."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

import pytest

from zoomguard.zoom.ratelimit import ManualClock, SlidingWindowLimiter


def busiest_window(times: Sequence[float], window: float = 1.0) -> int:
    """The most sends in any half-open window [t, t + window)."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_busiest_window_helper_counts_half_open_windows() -> None:
    assert busiest_window([0.0, 0.5, 0.999, 1.0, 1.5]) == 3
    assert busiest_window([0.0, 1.0, 2.0]) == 1


def test_single_caller_sustains_the_rate_without_exceeding_it() -> None:
    clock = ManualClock(100.0)
    limiter = SlidingWindowLimiter(3, 1.0, clock=clock.now, sleep=clock.sleep)

    times = [limiter.acquire() for _ in range(10)]

    assert times == [100.0] * 3 + [101.0] * 3 + [102.0] * 3 + [103.0]
    assert busiest_window(times) == 3
    assert clock.sleeps == [1.0, 1.0, 1.0]
    assert limiter.waited_seconds == pytest.approx(3.0)


def test_spaced_requests_do_not_wait() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(2, 1.0, clock=clock.now, sleep=clock.sleep)
    for _ in range(5):
        limiter.acquire()
        clock.advance(0.6)
    assert clock.sleeps == []


def test_a_slot_frees_exactly_one_window_after_its_send() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(2, 1.0, clock=clock.now, sleep=clock.sleep)
    limiter.acquire()  # t=0
    clock.advance(0.25)
    limiter.acquire()  # t=0.25
    assert limiter.acquire() == 1.0  # waits for the t=0 send to leave the window
    assert limiter.acquire() == 1.25
    assert clock.sleeps == [0.75, 0.25]


def test_many_threads_never_exceed_the_rate_in_any_window() -> None:
    clock = ManualClock(1000.0)

    limiter = SlidingWindowLimiter(5, 1.0, clock=clock.now, sleep=clock.sleep)
    start = threading.Barrier(16)
    times: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        for _ in range(20):
            granted = limiter.acquire()
            with lock:
                times.append(granted)

    # Switch threads as often as possible, so an unlocked check-then-take would be interleaved.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        sys.setswitchinterval(interval)

    assert len(times) == 320
    assert busiest_window(times) == 5


def test_defer_holds_back_every_caller_of_the_category() -> None:
    clock = ManualClock(50.0)
    limiter = SlidingWindowLimiter(10, 1.0, clock=clock.now, sleep=clock.sleep)
    limiter.defer(7.0)
    limiter.defer(2.0)  # a shorter deferral does not shorten the longer one
    assert limiter.acquire() == 57.0
    assert limiter.acquire() == 57.0


@pytest.mark.parametrize(
    ("rate", "capacity", "window"), [(30.0, 30, 1.0), (20.5, 20, 1.0), (0.5, 1, 2.0)]
)
def test_per_second_never_rounds_up(rate: float, capacity: int, window: float) -> None:
    limiter = SlidingWindowLimiter.per_second(rate)
    assert (limiter.capacity, limiter.window) == (capacity, window)


def test_invalid_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="capacity"):
        SlidingWindowLimiter(0)
    with pytest.raises(ValueError, match="window"):
        SlidingWindowLimiter(1, 0)
    with pytest.raises(ValueError, match="rate"):
        SlidingWindowLimiter.per_second(0)
