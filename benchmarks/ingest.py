"""Webhook ingest: the Procfile's web process under a rising open-loop load of signed events.

Each offered rate runs for a fixed number of seconds; every event is a distinct, correctly signed
meeting.updated delivery (so each one is verified, parsed and INSERTed into the inbox, and the
200 means it is committed). Reported per rate: the rate the generator really achieved, the
sustained acknowledged rate, and acknowledgement latency (p50/p99) from the moment each request
was sent. Afterwards the inbox must hold exactly one row per 200.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.common import (
    Context,
    Database,
    Result,
    Row,
    base_env,
    databases,
    durability,
    reset_postgres,
)
from benchmarks.loadgen import StepStats, run_steps
from benchmarks.receiver import signed_headers, web_process
from zoomguard.store import upgrade
from zoomguard.store.base import make_engine

NAME = "ingest"
RATES = [100, 250, 500, 1000]
STEP_SECONDS = 10.0
QUICK_STEP_SECONDS = 3.0
TARGET_RATE = 500
TARGET_P99_MS = 50.0
WEB_WORKERS = 2
# gthread workers let one process overlap a commit's fsync with the next request's CPU.
PROPOSED_THREADS = 4


class EventMaker:
    """Distinct signed meeting.updated bodies, shaped like Zoom's (about 700 bytes)."""

    def __init__(self, secret: str, account_id: str) -> None:
        self.secret = secret
        self.account_id = account_id
        self.nonce = secrets.token_hex(4)

    def __call__(self, index: int) -> tuple[str, dict[str, str], bytes]:
        meeting_id = 81_000_000_000 + index
        body = json.dumps(
            {
                "event": "meeting.updated",
                "event_ts": int(time.time() * 1000),
                "payload": {
                    "account_id": self.account_id,
                    "operator": "host@example.org",
                    "operator_id": "z8yAAAAA8bbbQ",
                    "object": {
                        "id": meeting_id,
                        "uuid": f"{self.nonce}-{index}==",
                        "topic": "Weekly huddle",
                        "type": 2,
                        "start_time": "2031-05-18T15:00:00Z",
                        "duration": 60,
                        "timezone": "America/Vancouver",
                        "settings": {"join_before_host": True, "waiting_room": False},
                    },
                    "old_object": {
                        "id": meeting_id,
                        "uuid": f"{self.nonce}-{index}==",
                        "settings": {"join_before_host": False, "waiting_room": True},
                    },
                    "time_stamp": int(time.time() * 1000),
                },
            },
            separators=(",", ":"),
        ).encode()
        return "/webhooks/zoom", signed_headers(body, self.secret), body


def inbox_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM inbox_events")).scalar_one())
    finally:
        engine.dispose()


def measure(
    ctx: Context, db: Database, rates: list[int], seconds: float, threads: int | None
) -> dict[str, Any]:
    if db.label == "postgresql":
        reset_postgres(db.url)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(db.url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    upgrade(db.url)
    secret = secrets.token_urlsafe(16)
    env = base_env(db.url, ZOOM_WEBHOOK_SECRET_TOKEN=secret)
    if threads:
        # gunicorn reads extra options from this variable: the Procfile line stays as it is.
        env["GUNICORN_CMD_ARGS"] = f"--threads {threads}"
    ctx.log(
        f"  {db.label}, {_variant(threads)}: {len(rates)} steps of {seconds:.0f} s at {rates}/s"
    )
    with web_process(env, ctx.scratch("ingest"), workers=WEB_WORKERS) as url:
        port = int(url.split(":")[2].split("/")[0])
        maker = EventMaker(secret, "benchAccount")
        load_before = os.getloadavg()[0]
        steps, made = run_steps("127.0.0.1", port, [float(r) for r in rates], seconds, maker)
    for step in steps:
        s = step.summary()
        ctx.log(
            f"    {s['offered_rate']:.0f}/s: sent {s['send_rate']}/s, sustained "
            f"{s['sustained_rate']}/s, p50 {s['latency_ms']['p50']} ms, "
            f"p99 {s['latency_ms']['p99']} ms, errors {s['errors'] or 0}"
        )
    return {
        "gunicorn_threads": threads or 1,
        "durability": durability(db.url),
        "steps": [step.summary() for step in steps],
        "requests": made,
        "inbox_rows": inbox_rows(db.url),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "_steps": steps,
    }


def _variant(threads: int | None) -> str:
    return "Procfile as is" if not threads else f"+ --threads {threads}"


def _rows(label: str, steps: list[StepStats]) -> list[Row]:
    sustained = " / ".join(f"{step.sustained_rate:.0f}" for step in steps)
    offered = "/".join(f"{step.offered_rate:.0f}" for step in steps)
    rows = [Row(f"{label}: sustained events/s at {offered} offered", sustained)]
    for step in steps:
        if int(step.offered_rate) != TARGET_RATE:
            continue
        lat = step.summary()["latency_ms"]
        p99 = lat["p99"]
        ok = p99 is not None and p99 < TARGET_P99_MS and not step.errors
        value = f"{lat['p50']} / {p99} ms"
        if step.errors:
            value += f"; errors {step.errors}"
        rows.append(Row(f"{label}: ack p50 / p99 at {TARGET_RATE}/s", value, "p99 < 50 ms", ok))
    return rows


def run(ctx: Context) -> Result:
    rates = ctx.options.get("ingest_rates") or RATES
    seconds = ctx.options.get("ingest_step_seconds") or (
        QUICK_STEP_SECONDS if ctx.quick else STEP_SECONDS
    )
    asked = ctx.options.get("web_threads")
    variants: list[int | None] = [None, PROPOSED_THREADS] if asked is None else [asked or None]
    found, notes = databases(ctx, ctx.scratch("ingest"))
    metrics: dict[str, Any] = {}
    rows: list[Row] = []
    send_rates: list[float] = []
    for db in found:
        for threads in variants:
            outcome = measure(ctx, db, rates, seconds, threads)
            steps: list[StepStats] = outcome.pop("_steps")
            key = db.label if not threads else f"{db.label}, threads {threads}"
            metrics[key] = outcome
            label = "SQLite" if db.label == "sqlite" else "PostgreSQL"
            rows.extend(_rows(f"{label}, {_variant(threads)}", steps))
            send_rates.append(steps[-1].send_rate)
            acknowledged = sum(step.ok for step in steps)
            if outcome["inbox_rows"] < acknowledged:
                notes.append(
                    f"{key}: {acknowledged} events acknowledged but only "
                    f"{outcome['inbox_rows']} rows in the inbox"
                )
        d = metrics[db.label if variants[0] is None else f"{db.label}, threads {variants[0]}"]
        notes.append(
            f"{db.label} durability: " + ", ".join(f"{k}={v}" for k, v in d["durability"].items())
        )
    notes.insert(
        0,
        f"Procfile web process (gunicorn, {WEB_WORKERS} workers, access log on) on loopback, as "
        f"is and with --threads {PROPOSED_THREADS} (GUNICORN_CMD_ARGS); open-loop asyncio "
        f"generator in the benchmark process, one connection per event, {seconds:.0f} s per "
        f"step; latency from send to the complete 200; at the {rates[-1]}/s step the generator "
        f"achieved {min(send_rates):.0f}-{max(send_rates):.0f}/s",
    )
    return Result(
        name=NAME,
        title="Webhook ingest",
        params={
            "rates": rates,
            "step_seconds": seconds,
            "web_workers": WEB_WORKERS,
            "gunicorn_threads": [v or 1 for v in variants],
            "event": "meeting.updated (~700 bytes, signed)",
        },
        metrics=metrics,
        rows=rows,
        notes=notes,
    )
