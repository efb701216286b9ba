"""Memory: peak resident memory of `zoomguard sweep` at two account sizes, ten times apart.

The sandbox runs in this process with no latency and no rate limits (and the client's limits set
far above anything reachable), so the sweep runs as fast as the machine allows. The sweep is the
real command, `python -m zoomguard sweep`, in a child process; its peak RSS is the kernel's
high-water mark of that process (``VmHWM`` in /proc/<pid>/status, read every 0.25 s until it
exits). Not ``ru_maxrss`` from ``wait4``: on Linux a forked child keeps its parent's figure
through exec, so it would report the size of this process and its 100,000-meeting sandbox
(measured: a child running ``python -c pass`` reports 312 MiB under a 300 MiB parent). Users
scale with meetings (100 meetings per user), so both sizes have the same shape and only the
count differs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import SEED, Context, Result, Row, duration, sqlite_url, zoomguard_env
from zoomguard.sandbox import SandboxConfig, SandboxServer, SandboxState

NAME = "memory"
SIZES = (10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
MEETINGS_PER_USER = 100
UNLIMITED_RATE = "1000000"
# Flat means: ten times the meetings costs less than this much more peak memory.
FLAT_GROWTH = 1.25


def sweep_child(ctx: Context, meetings: int) -> dict[str, Any]:
    users = max(1, meetings // MEETINGS_PER_USER)
    ctx.log(f"  generating {meetings:,} meetings for {users:,} users")
    config = SandboxConfig(
        users=users,
        meetings=meetings,
        noncompliant_share=0.3,
        latency_ms=0.0,
        enforce_rate_limits=False,
        seed=SEED,
    )
    started = time.monotonic()
    state = SandboxState(config)
    generated = time.monotonic() - started
    with SandboxServer(config, state) as sandbox:
        env = zoomguard_env(
            sandbox,
            sqlite_url(ctx.scratch(f"memory-{meetings}")),
            ZOOMGUARD_RATE_LIGHT=UNLIMITED_RATE,
            ZOOMGUARD_RATE_MEDIUM=UNLIMITED_RATE,
        )
        ctx.log(f"  python -m zoomguard sweep ({meetings:,} meetings)")
        log_path = ctx.scratch("memory") / f"sweep-{meetings}.log"
        with log_path.open("wb") as out:
            began = time.monotonic()
            child = subprocess.Popen(
                [sys.executable, "-m", "zoomguard", "sweep"], env=env, stdout=out, stderr=out
            )
            samples, high_water = sample_rss(child, lambda: len(sandbox.state.request_log()))
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            seconds = time.monotonic() - began
        requests = len(sandbox.state.request_log())
    phases = split_phases(samples, requests)
    output = log_path.read_text(errors="replace")
    if child.returncode != 0:
        raise RuntimeError(f"zoomguard sweep exited {child.returncode}:\n{output[-2000:]}")
    return {
        "meetings": meetings,
        "users": users,
        "peak_rss_mib": round(high_water, 1),
        # Includes this (parent) process's peak: see the module docstring. Kept for comparison.
        "ru_maxrss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "sweep_seconds": round(seconds, 1),
        "meetings_per_second": round(meetings / seconds, 1),
        "requests": requests,
        "cpu_user_seconds": round(usage.ru_utime, 1),
        "cpu_system_seconds": round(usage.ru_stime, 1),
        "sandbox_setup_seconds": round(generated, 1),
        **phases,
        "summary": _summary_lines(output),
    }


def sample_rss(
    child: subprocess.Popen[bytes], progress: Callable[[], int], interval: float = 0.25
) -> tuple[list[tuple[float, int, float]], float]:
    """(seconds, API requests served so far, RSS MiB) every ``interval`` until the child exits,
    and the child's own peak RSS (VmHWM, MiB) as last read; leaves the child unreaped so
    ``wait4`` can still read its usage."""
    samples: list[tuple[float, int, float]] = []
    high_water = 0.0
    start = time.monotonic()
    status_file = Path(f"/proc/{child.pid}/status")
    while True:
        try:
            text = status_file.read_text()
        except OSError:
            break
        if "State:\tZ" in text:  # exited, waiting to be reaped
            break
        fields = {
            line.split(":")[0]: line.split()[1]
            for line in text.splitlines()
            if line.startswith(("VmRSS", "VmHWM"))
        }
        high_water = max(high_water, int(fields.get("VmHWM", "0")) / 1024)
        samples.append((time.monotonic() - start, progress(), int(fields.get("VmRSS", "0")) / 1024))
        time.sleep(interval)
    return samples, high_water


def split_phases(samples: list[tuple[float, int, float]], requests: int) -> dict[str, Any]:
    """Peak RSS while the sweep was calling the API, and after its last call (alert emails are
    composed then), and the RSS when a quarter and all of the calls were made."""
    sweeping = [rss for _, done, rss in samples if done < requests]
    after = [rss for _, done, rss in samples if done >= requests]

    def at(share: float) -> float | None:
        found = [rss for _, done, rss in samples if done >= requests * share]
        return round(found[0], 1) if found else None

    return {
        "rss_mib_at_25pct_calls": at(0.25),
        "rss_mib_at_all_calls": at(1.0),
        "peak_rss_mib_while_sweeping": round(max(sweeping), 1) if sweeping else None,
        "peak_rss_mib_after_last_call": round(max(after), 1) if after else None,
        "rss_samples": len(samples),
    }


def _summary_lines(output: str) -> dict[str, str]:
    """The sweep's own summary table (``meetings checked   10000`` rows), as a dict."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 2 and not set(cells[0]) <= {"-"}:
            found[cells[0]] = cells[1]
    found.pop("account", None)
    return found


def _mib(run: dict[str, Any], key: str) -> str:
    value = run.get(key)
    return "n/a" if value is None else f"{value:.0f} MiB"


def _ratio(large: dict[str, Any], small: dict[str, Any], key: str) -> float:
    if large.get(key) is None or not small.get(key):
        return float("nan")
    return float(large[key]) / float(small[key])


def run(ctx: Context) -> Result:
    small, large = QUICK_SIZES if ctx.quick else SIZES
    runs = [sweep_child(ctx, small), sweep_child(ctx, large)]
    for r in runs:
        ctx.log(
            f"  {r['meetings']:,} meetings: peak RSS {r['peak_rss_mib']} MiB, "
            f"{r['sweep_seconds']} s ({r['meetings_per_second']}/s)"
        )
    growth = runs[1]["peak_rss_mib"] / runs[0]["peak_rss_mib"]
    small_run, large_run = runs
    sweeping = _ratio(large_run, small_run, "peak_rss_mib_while_sweeping")
    rows = [
        Row(
            f"peak RSS, {r['meetings']:,} meetings",
            f"{r['peak_rss_mib']:.0f} MiB (sweep {duration(r['sweep_seconds'])}, "
            f"{r['meetings_per_second']:.0f} meetings/s)",
        )
        for r in runs
    ]
    rows.append(
        Row(
            f"peak RSS growth for {large // small}x the meetings",
            f"{growth:.2f}x",
            f"< {FLAT_GROWTH}x (flat)",
            growth < FLAT_GROWTH,
        )
    )
    rows.append(
        Row(
            "of which: while calling the API / after the last call",
            f"{_mib(small_run, 'peak_rss_mib_while_sweeping')} → "
            f"{_mib(large_run, 'peak_rss_mib_while_sweeping')} "
            f"({sweeping:.2f}x) / {_mib(small_run, 'peak_rss_mib_after_last_call')} → "
            f"{_mib(large_run, 'peak_rss_mib_after_last_call')}",
        )
    )
    return Result(
        name=NAME,
        title="Sweep memory",
        params={
            "sizes": [small, large],
            "meetings_per_user": MEETINGS_PER_USER,
            "latency_ms": 0,
            "rate_limits": "off (sandbox) / 1,000,000 per s (client)",
            "database": "SQLite",
        },
        metrics={
            "runs": runs,
            "growth": round(growth, 3),
            "growth_while_sweeping": round(sweeping, 3),
        },
        rows=rows,
        notes=[
            "`python -m zoomguard sweep` in a child process (peak RSS: the child's VmHWM); "
            "sandbox in the benchmark process with no latency and no rate limits; "
            "100 meetings per user at both sizes; after its last API call the command composes "
            "the alert e-mails (one digest listing every finding of the sweep)",
        ],
    )
