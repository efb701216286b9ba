"""Recording stop: from the sandbox sending recording.started to its receiving the stop request.

The real path: the sandbox's webhook dispatcher POSTs the signed event to the Procfile's web
process (gunicorn), which commits it to the inbox; `zoomguard.worker.run_worker` (a thread here,
with the service's EventHandler) claims it and sends PATCH /live_meetings/{id}/events
{"method": "recording.stop"} to the sandbox. Recordings start at random intervals (mean
``SPACING`` seconds) so they land at every phase of the worker's idle poll. The latency is split
into the webhook's acknowledgement and what follows it (inbox wait, worker, the stop call).
"""

from __future__ import annotations

import inspect
import random
import threading
import time
from typing import Any

from benchmarks.common import (
    SEED,
    Context,
    Database,
    Result,
    Row,
    databases,
    ms,
    percentile,
    wait_until,
    zoomguard_env,
)
from benchmarks.receiver import web_process
from zoomguard.config import Settings
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.service.events import EventHandler, on_dead
from zoomguard.store import Store, upgrade
from zoomguard.worker import run_worker

NAME = "recording"
EVENTS = 100
QUICK_EVENTS = 30
SPACING = 0.1
LATENCY_MS = 50.0
TARGET_P95 = 1.0
COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}


def _quantiles(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 4),
        "p95": round(percentile(values, 95), 4),
        "max": round(max(values), 4) if values else float("nan"),
    }


def measure(ctx: Context, db: Database, events: int, poll: float | None) -> dict[str, Any]:
    upgrade(db.url)
    config = SandboxConfig(latency_ms=LATENCY_MS, webhook_time_scale=0.001, seed=SEED)
    with SandboxServer(config) as sandbox:
        state = sandbox.state
        env = zoomguard_env(sandbox, db.url)
        settings = Settings.from_env(env)
        store = Store.open(settings)
        assert settings.zoom_account_id and settings.zoom_client_id
        assert settings.zoom_client_secret
        store.save_s2s_account(
            settings.zoom_account_id,
            settings.zoom_client_id,
            settings.zoom_client_secret,
            api_url=settings.zoom_api_url,
        )
        hosts = [state.add_user(f"host{i}@agency.example") for i in range(10)]
        meetings = [
            state.add_meeting(hosts[i % len(hosts)], topic=f"Case review {i}", settings=COMPLIANT)
            for i in range(events + 1)
        ]
        handler = EventHandler(settings, store)
        stop = threading.Event()
        worker_kwargs: dict[str, Any] = {"on_dead": on_dead(settings, store)}
        if poll is not None:
            worker_kwargs["poll_interval"] = poll
        worker = threading.Thread(
            target=run_worker,
            args=(store, handler),
            kwargs={"worker_id": "bench-worker", "stop": stop, **worker_kwargs},
            name="bench-worker",
            daemon=True,
        )
        try:
            with web_process(env, ctx.scratch("recording")) as url:
                sandbox.set_webhook_url(url)
                worker.start()
                # Warm-up (not counted): the worker fetches its token and opens connections.
                warm = meetings[0]["id"]
                state.start_meeting(warm)
                state.start_recording(warm)
                wait_until(lambda: len(state.recording_stops) >= 1, 30)
                rng = random.Random(SEED)
                ctx.log(f"  {db.label}: {events} recordings, mean spacing {SPACING:.2f} s")
                for meeting in meetings[1:]:
                    state.start_meeting(meeting["id"])
                    state.start_recording(meeting["id"])
                    time.sleep(rng.uniform(0, 2 * SPACING))
                wait_until(lambda: len(state.recording_stops) >= events + 1, 60)
                sandbox.wait_for_webhooks(10, include_retries=False)
        finally:
            stop.set()
            if worker.is_alive():
                worker.join(15)
            handler.close()
            store.close()
        measured = {m["id"] for m in meetings[1:]}
        latencies = {mid: s for mid, s in state.recording_stop_latencies() if mid in measured}
        acks = {
            d.meeting_id: d.finished_at - d.sent_at
            for d in state.deliveries_snapshot("recording.started")
            if d.meeting_id in measured and d.attempt == 1
        }
    total = list(latencies.values())
    after_ack = [latencies[m] - acks[m] for m in latencies if m in acks]
    return {
        "events": events,
        "stopped": len(total),
        "latency_s": _quantiles(total),
        "webhook_ack_s": _quantiles(list(acks.values())),
        "after_ack_s": _quantiles(after_ack),
        "poll_interval_s": poll,
    }


def run(ctx: Context) -> Result:
    events = QUICK_EVENTS if ctx.quick else EVENTS
    poll = ctx.options.get("worker_poll")
    default_poll = inspect.signature(run_worker).parameters["poll_interval"].default
    found, notes = databases(ctx, ctx.scratch("recording"))
    metrics: dict[str, Any] = {}
    rows: list[Row] = []
    for db in found:
        outcome = measure(ctx, db, events, poll)
        metrics[db.label] = outcome
        label = "SQLite" if db.label == "sqlite" else "PostgreSQL"
        lat = outcome["latency_s"]
        ok = outcome["stopped"] == events and lat["p95"] < TARGET_P95
        rows.append(
            Row(
                f"{label}: started → stop request",
                f"p50 {ms(lat['p50'])}, p95 {ms(lat['p95'])} "
                f"({outcome['stopped']}/{events} stopped)",
                "p95 < 1 s",
                ok,
            )
        )
        ack, rest = outcome["webhook_ack_s"], outcome["after_ack_s"]
        rows.append(
            Row(
                f"{label}: of which webhook ack / inbox + worker + stop call",
                f"p50 {ms(ack['p50'])} / {ms(rest['p50'])}; p95 {ms(ack['p95'])} / "
                f"{ms(rest['p95'])}",
            )
        )
        ctx.log(f"  {db.label}: {outcome}")
    notes.insert(
        0,
        f"sandbox latency {LATENCY_MS:.0f} ms; receiver = Procfile web process (gunicorn); worker "
        f"= run_worker thread, poll interval "
        f"{f'{default_poll} s (default)' if poll is None else f'{poll} s'}; {events} recordings started at random "
        f"intervals (mean {SPACING} s) after one unmeasured warm-up",
    )
    return Result(
        name=NAME,
        title="Recording stop",
        params={
            "events": events,
            "latency_ms": LATENCY_MS,
            "mean_spacing_s": SPACING,
            "worker_poll_interval_s": default_poll if poll is None else poll,
        },
        metrics=metrics,
        rows=rows,
        notes=notes,
    )
