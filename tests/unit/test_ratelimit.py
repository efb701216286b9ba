"""The pacing limiter spreads a category's requests evenly, never more than its rate in any
window, and adapts its rate to 429s (multiplicative decrease, additive increase)."""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Sequence

import pytest

from zoomguard.zoom.ratelimit import ManualClock, PacingLimiter


def busiest_window(times: Sequence[float], window: float = 1.0) -> int:
    """The most sends in any half-open window [t, t + window)."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window + 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_busiest_window_helper_counts_half_open_windows() -> None:
    assert busiest_window([0.0, 0.5, 0.999, 1.0, 1.5]) == 3
    assert busiest_window([0.0, 1.0, 2.0]) == 1


def test_a_busy_caller_gets_evenly_spaced_slots_at_the_rate() -> None:
    clock = ManualClock(100.0)
    limiter = PacingLimiter(10.0, clock=clock.now, sleep=clock.sleep)
    slots = [limiter.acquire() for _ in range(30)]
    assert slots == pytest.approx([100.0 + i * 0.1 for i in range(30)])
    assert busiest_window(slots) == 10
    assert limiter.waited_seconds == pytest.approx(
        sum(i * 0.1 - (i - 1) * 0.1 for i in range(1, 30))
    )


def test_spaced_requests_do_not_wait() -> None:
    clock = ManualClock()
    limiter = PacingLimiter(2.0, clock=clock.now, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
        clock.advance(0.5)
    assert clock.sleeps == []


def test_a_small_burst_goes_at_once_then_the_pace_holds() -> None:
    clock = ManualClock()
    limiter = PacingLimiter(10.0, burst=3, clock=clock.now, sleep=clock.sleep)
    slots = [limiter.acquire() for _ in range(6)]
    assert slots[:3] == [0.0, 0.0, 0.0]
    assert slots[3:] == pytest.approx([0.1, 0.2, 0.3])


def test_many_threads_never_exceed_the_rate_in_any_window() -> None:
    clock = ManualClock(1000.0)
    limiter = PacingLimiter(5.0, clock=clock.now, sleep=clock.sleep)
    start = threading.Barrier(16)
    times: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        for _ in range(20):
            granted = limiter.acquire()
            with lock:
                times.append(granted)

    # Switch threads as often as possible, so an unlocked read-then-reserve would interleave.
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
    ordered = sorted(times)
    assert min(b - a for a, b in itertools.pairwise(ordered)) >= 0.2 - 1e-9
    assert busiest_window(times) == 5


def test_a_429_cuts_the_rate_once_per_burst() -> None:
    clock = ManualClock()
    limiter = PacingLimiter(20.0, decrease=0.5, increase=0.0, clock=clock.now, sleep=clock.sleep)
    sent = [limiter.acquire() for _ in range(3)]
    assert limiter.slow_down(sent[0]) is True
    # The other requests of the same burst were sent before the cut: no second cut.
    assert limiter.slow_down(sent[1]) is False
    assert limiter.slow_down(sent[2]) is False
    assert limiter.rate == pytest.approx(10.0)
    assert limiter.cuts == 1
    after = limiter.acquire()
    assert limiter.slow_down(after) is True  # sent after the cut, so a new burst
    assert limiter.rate == pytest.approx(5.0)


def test_the_cut_applies_to_the_next_slots() -> None:
    clock = ManualClock()
    limiter = PacingLimiter(10.0, decrease=0.5, increase=0.0001, clock=clock.now, sleep=clock.sleep)
    first = limiter.acquire()
    limiter.slow_down(first)
    slots = [limiter.acquire() for _ in range(3)]
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert gaps == pytest.approx([0.2, 0.2], abs=1e-3)


def test_the_rate_climbs_back_additively_up_to_the_ceiling() -> None:
    clock = ManualClock()
    limiter = PacingLimiter(30.0, decrease=0.5, increase=1.0, clock=clock.now, sleep=clock.sleep)
    limiter.slow_down(limiter.acquire())
    assert limiter.rate == pytest.approx(15.0)
    clock.advance(5.0)
    assert limiter.rate == pytest.approx(20.0)
    clock.advance(60.0)
    assert limiter.rate == pytest.approx(30.0)


def test_a_storm_of_429s_never_takes_the_rate_below_its_floor() -> None:
    clock = ManualClock()
    limiter = PacingLimiter(10.0, decrease=0.5, increase=0.0, clock=clock.now, sleep=clock.sleep)
    for _ in range(20):
        limiter.slow_down(limiter.acquire())
    assert limiter.rate == pytest.approx(1.0)


def test_invalid_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="rate"):
        PacingLimiter(0)
    with pytest.raises(ValueError, match="burst"):
        PacingLimiter(1, burst=0)
    with pytest.raises(ValueError, match="decrease"):
        PacingLimiter(1, decrease=1.0)
