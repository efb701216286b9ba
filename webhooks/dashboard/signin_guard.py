"""Bounds on sign-in work, so that a flood of ``POST /login`` cannot starve the webhook receiver
that shares the web process, and lockouts that an attacker cannot aim at someone else.

- One password hash at a time per process (``hash_slot``): scrypt needs 32 MiB and a good part
  of a core, and the receiver must keep the other core. A sign-in that finds the slot taken is
  answered 429 with Retry-After at once, holding no thread while it waits.
- Attempts are counted in this process's memory, not in a store table: the Procfile runs one web
  process (waitress, threads), so its memory sees every attempt, and a flood costs no database
  write that would compete with the inbox's INSERTs. A restart forgets the counts, which only
  gives an attacker back one window's worth of guesses. Two sliding windows: per client address
  and for everyone together; beyond either, 429 with Retry-After.
- Lockout is per (username, client address): five failures in a row from one address lock that
  name for that address only, so an attacker elsewhere cannot lock an administrator out. Unknown
  names are counted and locked exactly like real ones, and a locked attempt still runs the hash,
  so neither the answer nor its timing tells which names exist or are locked.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ATTEMPT_WINDOW_SECONDS = 60.0
ATTEMPTS_PER_ADDRESS = 10  # per window, from one client address
ATTEMPTS_OVERALL = 60  # per window, from every address together: at most ~1 hash a second
MAX_FAILED_LOGINS = 5
LOCKOUT_SECONDS = 15 * 60.0
HASH_BUSY_RETRY_AFTER_SECONDS = 1
# Bounds the memory an attacker cycling through names or addresses can make this hold; the
# oldest entries go first (an evicted address or lockout starts afresh).
MAX_TRACKED_ENTRIES = 10_000


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


@dataclass
class SignInGuard:
    """Per-process sign-in limits; thread-safe. ``clock`` is monotonic seconds."""

    clock: Callable[[], float] = time.monotonic
    attempts_per_address: int = ATTEMPTS_PER_ADDRESS
    attempts_overall: int = ATTEMPTS_OVERALL
    window_seconds: float = ATTEMPT_WINDOW_SECONDS
    _hash_slot: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(1)
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _by_address: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _overall: deque[float] = field(default_factory=deque)
    _failures: OrderedDict[tuple[str, str], _Failures] = field(default_factory=OrderedDict)

    def admit(self, address: str) -> int | None:
        """Count one attempt from ``address``; ``None`` if it may go on, else the seconds the
        client should wait (Retry-After). A refused attempt is not counted."""
        now = self.clock()
        horizon = now - self.window_seconds
        with self._lock:
            recent = self._by_address.get(address)
            if recent is None:
                recent = self._by_address[address] = deque()
            self._by_address.move_to_end(address)
            _drop_before(recent, horizon)
            _drop_before(self._overall, horizon)
            for window, limit in (
                (recent, self.attempts_per_address),
                (self._overall, self.attempts_overall),
            ):
                if len(window) >= limit:
                    return max(1, math.ceil(window[0] - horizon))
            recent.append(now)
            self._overall.append(now)
            _trim(self._by_address)
            return None

    @contextmanager
    def hash_slot(self) -> Iterator[bool]:
        """Yields True while holding the process's one password-hash slot, False (at once) when
        another sign-in holds it."""
        acquired = self._hash_slot.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                self._hash_slot.release()

    def is_locked(self, username: str, address: str) -> bool:
        with self._lock:
            entry = self._failures.get((username, address))
            return entry is not None and entry.locked_until > self.clock()

    def record_failure(self, username: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            key = (username, address)
            entry = self._failures.get(key)
            if entry is None:
                entry = self._failures[key] = _Failures()
            self._failures.move_to_end(key)
            if entry.locked_until and entry.locked_until <= now:
                entry.count, entry.locked_until = 0, 0.0  # the last lockout ran out: count afresh
            entry.count += 1
            if entry.count >= MAX_FAILED_LOGINS and entry.locked_until <= now:
                entry.locked_until = now + LOCKOUT_SECONDS
            _trim(self._failures)

    def record_success(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop((username, address), None)


def _drop_before(window: deque[float], horizon: float) -> None:
    while window and window[0] <= horizon:
        window.popleft()


def _trim(entries: OrderedDict[Any, Any]) -> None:
    while len(entries) > MAX_TRACKED_ENTRIES:
        entries.popitem(last=False)
