"""An open-loop HTTP load generator on asyncio: requests leave on a fixed schedule whether or
not earlier ones were answered, so a slow server shows up as latency instead of quietly lowering
the load (no coordinated omission).

Each request opens its own connection and says ``Connection: close`` (gunicorn's sync workers
close after every response anyway). Latency is measured twice: from when the request was
actually sent, and from when it was due; the gap between the two is the generator's own lag,
reported so that a generator that cannot keep up is seen, not hidden.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import percentile

# A request: (path, headers, body); built when it is sent, so timestamps are fresh.
RequestFactory = Callable[[int], tuple[str, dict[str, str], bytes]]


@dataclass
class StepStats:
    offered_rate: float
    seconds: float
    sent: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # from send, ok answers only
    from_due: list[float] = field(default_factory=list)  # from the due time, ok answers only
    lags: list[float] = field(default_factory=list)  # send time - due time
    first_send: float = 0.0
    last_send: float = 0.0
    last_done: float = 0.0
    started: float = 0.0
    max_in_flight: int = 0

    @property
    def send_rate(self) -> float:
        """Requests actually sent per second over the step's schedule."""
        # On schedule, the last of n requests leaves (n - 1) / rate after the first was due.
        span = self.last_send - self.started
        return (self.sent - 1) / span if span > 0 and self.sent > 1 else float(self.sent)

    @property
    def sustained_rate(self) -> float:
        """Acknowledged (2xx) per second, from the first due time to the last answer."""
        span = self.last_done - self.started
        return self.ok / span if span > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "offered_rate": self.offered_rate,
            "seconds": self.seconds,
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "send_rate": round(self.send_rate, 1),
            "sustained_rate": round(self.sustained_rate, 1),
            "latency_ms": _quantiles(self.latencies),
            "latency_from_due_ms": _quantiles(self.from_due),
            "generator_lag_ms": _quantiles(self.lags),
            "max_in_flight": self.max_in_flight,
        }


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    return {
        "p50": round(percentile(values, 50) * 1000, 2),
        "p90": round(percentile(values, 90) * 1000, 2),
        "p99": round(percentile(values, 99) * 1000, 2),
        "max": round(max(values) * 1000, 2),
    }


def _raw_request(host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _one(
    host: str,
    port: int,
    raw: bytes,
    due: float,
    stats: StepStats,
    slots: asyncio.Semaphore,
    in_flight: list[int],
    timeout: float,
) -> None:
    async with slots:
        sent = time.monotonic()
        stats.lags.append(sent - due)
        stats.last_send = max(stats.last_send, sent)
        in_flight[0] += 1
        stats.max_in_flight = max(stats.max_in_flight, in_flight[0])
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            try:
                writer.write(raw)
                answer = await asyncio.wait_for(reader.read(), timeout)
            finally:
                writer.close()
            done = time.monotonic()
            status = answer[9:12].decode("latin-1", "replace") if answer else "empty"
            if status.startswith("2"):
                stats.ok += 1
                stats.latencies.append(done - sent)
                stats.from_due.append(done - due)
                stats.last_done = max(stats.last_done, done)
            else:
                stats.errors[status] = stats.errors.get(status, 0) + 1
        except (OSError, TimeoutError) as exc:
            name = type(exc).__name__
            stats.errors[name] = stats.errors.get(name, 0) + 1
        finally:
            in_flight[0] -= 1


async def run_step(
    host: str,
    port: int,
    rate: float,
    seconds: float,
    make_request: RequestFactory,
    *,
    first_index: int = 0,
    max_in_flight: int = 1000,
    timeout: float = 30.0,
) -> StepStats:
    """Send ``rate`` requests per second for ``seconds``; wait for every answer."""
    total = max(1, round(rate * seconds))
    stats = StepStats(offered_rate=rate, seconds=seconds)
    slots = asyncio.Semaphore(max_in_flight)
    in_flight = [0]
    tasks: set[asyncio.Task[None]] = set()
    stats.started = start = time.monotonic()
    stats.first_send = start
    index = 0
    while index < total:
        now = time.monotonic()
        # Everything due by now leaves now: a late wake-up sends a burst, never skips requests.
        while index < total and start + index / rate <= now:
            path, headers, body = make_request(first_index + index)
            raw = _raw_request(host, port, path, headers, body)
            task = asyncio.create_task(
                _one(host, port, raw, start + index / rate, stats, slots, in_flight, timeout)
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            stats.sent += 1
            index += 1
        if index < total:
            await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
    if tasks:
        await asyncio.wait(set(tasks))
    return stats


def run_steps(
    host: str,
    port: int,
    rates: list[float],
    seconds: float,
    make_request: RequestFactory,
    *,
    pause: float = 1.0,
    warmup: tuple[float, float] | None = (50.0, 1.0),
) -> tuple[list[StepStats], int]:
    """Each rate for ``seconds`` after an unrecorded warm-up; (steps, requests made in all)."""

    async def main() -> tuple[list[StepStats], int]:
        made = 0
        if warmup is not None:
            warm = await run_step(host, port, warmup[0], warmup[1], make_request)
            made += warm.sent
        results = []
        for rate in rates:
            step = await run_step(host, port, rate, seconds, make_request, first_index=made)
            made += step.sent
            results.append(step)
            await asyncio.sleep(pause)
        return results, made

    return asyncio.run(main())
