"""Sweep benchmark: zoomguard's concurrent sweep under Pro rate limits with 50 ms per request,
against the lower bound the limits allow, and against a hand-written sequential loop.

The bound is max over categories of (calls answered without 429 / the category's limit), with
the calls counted from the sandbox's request log. The loop runs against a fresh sandbox
generated from the same seed; when the full loop would take longer than ``loop_limit`` it is
stopped after at least a tenth of the users and extrapolated linearly by calls.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.common import (
    SEED,
    Context,
    Result,
    Row,
    count_by,
    duration,
    rounded,
    sqlite_url,
    zoomguard_env,
)
from benchmarks.naive_loop import HandWrittenSweep, LoopResult
from zoomguard.config import Settings
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.sandbox.scripting import RequestRecord
from zoomguard.service import Sweeper, client_for_account, env_account, load_profile
from zoomguard.store import Store, upgrade

NAME = "sweep"
LATENCY_MS = 50.0
NONCOMPLIANT_SHARE = 0.3
FULL = (100, 100)  # users, meetings per user
QUICK = (10, 100)
LOOP_LIMIT_SECONDS = 20 * 60.0
MIN_LOOP_FRACTION = 0.1


def sandbox_config(users: int, per_user: int) -> SandboxConfig:
    return SandboxConfig(
        users=users,
        meetings=users * per_user,
        noncompliant_share=NONCOMPLIANT_SHARE,
        latency_ms=LATENCY_MS,
        plan="pro",
        seed=SEED,
    )


def api_calls(log: list[RequestRecord]) -> list[RequestRecord]:
    """The /v2 calls that did work: rate-limited attempts are counted separately."""
    return [r for r in log if r.category is not None and r.status != 429]


def lower_bound(calls: dict[str, int], limits: dict[str, float]) -> tuple[float, str]:
    """(seconds, category): the time the busiest category needs at its limit."""
    best, which = 0.0, ""
    for category, count in calls.items():
        seconds = count / limits[category]
        if seconds > best:
            best, which = seconds, category
    return best, which


def run_zoomguard(ctx: Context, users: int, per_user: int) -> dict[str, Any]:
    scratch = ctx.scratch("sweep")
    with SandboxServer(sandbox_config(users, per_user)) as sandbox:
        state = sandbox.state
        truth = len(state.noncompliance)
        # The whole budget: this benchmark measures the sweep against the full limits.
        env = zoomguard_env(sandbox, sqlite_url(scratch), ZOOMGUARD_RATE_SHARE="1")
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        store = Store.open(settings)
        try:
            account = env_account(settings, store)
            client = client_for_account(settings, store, account)
            sweeper = Sweeper(settings, store, client, account, profile=load_profile(settings))
            ctx.log(
                f"  zoomguard sweep: {users} users x {per_user} meetings, "
                f"concurrency {settings.concurrency}"
            )
            started = time.monotonic()
            result = sweeper.run()
            wall = time.monotonic() - started
            stats = client.stats.snapshot()
            client.close()
        finally:
            store.close()
        log = state.request_log()
        limits = {c: sandbox.config.rate(c) for c in ("light", "medium")}
    calls = count_by(api_calls(log), lambda r: r.category)
    bound, busiest = lower_bound(calls, limits)
    return {
        "status": result.status,
        "error": result.error,
        "wall_seconds": wall,
        "sweep_seconds": result.seconds,
        "counts": result.counts.__dict__,
        "skipped": result.skipped,
        "noncompliant_generated": truth,
        "calls": calls,
        "calls_by_method": count_by(api_calls(log), lambda r: r.method),
        "rate_limited_429": sum(1 for r in log if r.status == 429),
        "limits": limits,
        "bound_seconds": bound,
        "bound_category": busiest,
        "client_stats": stats,
    }


def run_loop(ctx: Context, users: int, per_user: int, expected_calls: int) -> dict[str, Any]:
    limit = float(ctx.options.get("loop_limit_seconds", LOOP_LIMIT_SECONDS))
    with SandboxServer(sandbox_config(users, per_user)) as sandbox:
        cfg = sandbox.config
        loop = HandWrittenSweep(
            sandbox.api_url, sandbox.oauth_url, cfg.account_id, cfg.client_id, cfg.client_secret
        )

        def should_stop(done: int, total: int, seconds: float) -> bool:
            projected = seconds / max(1, loop.calls) * expected_calls
            return done >= total * MIN_LOOP_FRACTION and projected > limit

        ctx.log(f"  sequential loop: same account (seed {SEED}), fresh sandbox")
        outcome: LoopResult = loop.run(should_stop)
        log = sandbox.state.request_log()
    calls = count_by(api_calls(log), lambda r: r.category)
    done_calls = sum(calls.values())
    extrapolated = outcome.seconds * expected_calls / max(1, done_calls)
    return {
        "measured_seconds": outcome.seconds,
        "seconds": extrapolated if outcome.stopped_early else outcome.seconds,
        "extrapolated": outcome.stopped_early,
        "users_done": outcome.users_done,
        "users_total": outcome.users_total,
        "meetings": outcome.meetings,
        "patched": outcome.patched,
        "calls": calls,
        "calls_done_fraction": done_calls / max(1, expected_calls),
        "rate_limited_429": outcome.rate_limited,
    }


def run(ctx: Context) -> Result:
    users, per_user = ctx.options.get("sweep_size") or (QUICK if ctx.quick else FULL)
    zg = run_zoomguard(ctx, users, per_user)
    ratio = zg["bound_seconds"] / zg["wall_seconds"]
    ctx.log(
        f"  zoomguard: {zg['wall_seconds']:.1f} s, bound {zg['bound_seconds']:.1f} s "
        f"({zg['bound_category']}), ratio {ratio:.3f}, 429s {zg['rate_limited_429']}"
    )
    expected_calls = sum(zg["calls"].values())
    loop: dict[str, Any] | None = None
    if not ctx.options.get("skip_loop"):
        loop = run_loop(ctx, users, per_user, expected_calls)
        ctx.log(
            f"  loop: {loop['seconds']:.1f} s" + (" (extrapolated)" if loop["extrapolated"] else "")
        )
    counts = zg["counts"]
    failed_meetings = counts["failed"] + zg["skipped"]
    rows = [
        Row("meetings swept", f"{counts['meetings']:,} ({counts['noncompliant']:,} noncompliant)"),
        Row("wall time", duration(zg["wall_seconds"])),
        Row(
            "rate-limit lower bound",
            f"{duration(zg['bound_seconds'])} ({zg['calls'][zg['bound_category']]:,} "
            f"{zg['bound_category']} calls / {zg['limits'][zg['bound_category']]:.0f} per s)",
        ),
        Row("bound / wall", f"{ratio:.3f}", ">= 0.9", ratio >= 0.9),
        Row(
            "HTTP 429 answers (all retried)",
            str(zg["rate_limited_429"]),
            "no failed meeting",
            zg["status"] == "completed" and failed_meetings == 0,
        ),
        Row("failed or skipped meetings", str(failed_meetings), "0", failed_meetings == 0),
    ]
    notes = [
        f"sandbox latency {LATENCY_MS:.0f} ms per request, Pro limits "
        f"(light {zg['limits']['light']:.0f}/s, medium {zg['limits']['medium']:.0f}/s), "
        f"{NONCOMPLIANT_SHARE:.0%} of meetings generated noncompliant, seed {SEED}; "
        "zoomguard runs Sweeper in-process with its defaults (16 threads) and SQLite",
    ]
    if loop is not None:
        speedup = loop["seconds"] / zg["wall_seconds"]
        label = "sequential requests loop" + (" (extrapolated)" if loop["extrapolated"] else "")
        rows.append(Row(label, duration(loop["seconds"])))
        rows.append(Row("speed-up over the loop", f"{speedup:.1f}x"))
        if loop["extrapolated"]:
            notes.append(
                f"the sequential loop was stopped after {loop['users_done']} of "
                f"{loop['users_total']} users ({loop['calls_done_fraction']:.0%} of the calls) "
                f"at {loop['measured_seconds']:.0f} s and extrapolated linearly by calls"
            )
        if loop["extrapolated"] is False and loop["calls"] != zg["calls"]:
            notes.append(f"loop calls {loop['calls']} differ from zoomguard's {zg['calls']}")
    metrics: dict[str, Any] = {
        "zoomguard": zg,
        "ratio": round(ratio, 4),
        "loop": loop,
        "speedup": round(loop["seconds"] / zg["wall_seconds"], 2) if loop else None,
    }
    metrics["zoomguard"]["wall_seconds"] = round(zg["wall_seconds"], 2)
    metrics["zoomguard"]["limits"] = rounded(zg["limits"], 1)
    return Result(
        name=NAME,
        title="Sweep (Pro limits, 50 ms latency)",
        params={
            "users": users,
            "meetings_per_user": per_user,
            "meetings": users * per_user,
            "latency_ms": LATENCY_MS,
            "plan": "pro",
            "noncompliant_share": NONCOMPLIANT_SHARE,
            "seed": SEED,
        },
        metrics=metrics,
        rows=rows,
        notes=notes,
    )
