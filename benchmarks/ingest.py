"""Webhook ingest: the Procfile's web process driven by wrk (a C load generator) with pre-signed,
distinct meeting.updated deliveries, beside a Flask hello-world under the same command line.

Per database and run: the hello-world's and the receiver's throughput (wrk, closed loop), the
server's CPU per request (utime + stime of its process group), and the receiver's latency at a
fixed 500/s and 1,000/s (wrk's delay hook paces every connection). Afterwards the inbox must hold
a row for every 200 (nothing acknowledged and lost). Three runs each, reported as min/median/max.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
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
from benchmarks.receiver import HELLO_APP, RECEIVER_APP, procfile_command, web_process
from zoomguard.store import upgrade
from zoomguard.store.base import make_engine
from zoomguard.webhooks.receiver.signature import sign

NAME = "ingest"
RUNS = 3
QUICK_RUNS = 1
THROUGHPUT_SECONDS = 10
QUICK_THROUGHPUT_SECONDS = 3
PACED_RATES = [500, 1000]
PACED_SECONDS = 10
QUICK_PACED_SECONDS = 3
WRK = "/usr/bin/wrk"
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "signed.lua"
WRK_THREADS = 2
THROUGHPUT_CONNECTIONS = 16
PACED_CONNECTIONS = 50
# Enough distinct deliveries for the fastest closed-loop rate seen on this machine, with room.
MAX_THROUGHPUT_RATE = 5000
TARGET_RATIO = 0.6
TARGET_P99_MS = 50.0
TARGET_RATE = 500


class EventMaker:
    """Distinct signed meeting.updated bodies, shaped like Zoom's (about 700 bytes)."""

    def __init__(self, secret: str, account_id: str) -> None:
        self.secret = secret
        self.account_id = account_id
        self.nonce = secrets.token_hex(4)

    def body(self, index: int, now: float) -> bytes:
        meeting_id = 81_000_000_000 + index
        stamp_ms = int(now * 1000)
        return json.dumps(
            {
                "event": "meeting.updated",
                "event_ts": stamp_ms,
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
                    "time_stamp": stamp_ms,
                },
            },
            separators=(",", ":"),
        ).encode()

    def write(self, path: Path, start: int, count: int) -> None:
        """``count`` deliveries signed now (well inside the 300 s window), one a line."""
        now = time.time()
        stamp = str(int(now))
        with path.open("wb") as out:
            for index in range(start, start + count):
                body = self.body(index, now)
                signature = sign(body, secret=self.secret, timestamp=stamp)
                out.write(f"{stamp}\t{signature}\t".encode() + body + b"\n")


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def answered_2xx(self) -> int:
        return self.requests - self.non_2xx


def run_wrk(
    url: str,
    requests_file: Path,
    *,
    seconds: float,
    connections: int,
    pace_delay_ms: float = 0.0,
    threads: int = WRK_THREADS,
) -> WrkResult:
    env = {
        **os.environ,
        "REQUESTS_FILE": str(requests_file),
        "WRK_THREADS": str(threads),
        "PACE_DELAY_MS": f"{pace_delay_ms:.3f}",
    }
    command = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:.0f}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        url,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK_JSON "))
    data = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non_2xx=data["non_2xx"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )


def group_cpu_seconds(group_id: int) -> float:
    """User + system CPU of every live process in process group ``group_id`` (the server and,
    for a pre-forking server, its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # After the command: state, ppid, pgrp, ... utime is field 14, stime 15 (1-based).
        if int(fields[2]) == group_id:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def inbox_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM inbox_events")).scalar_one())
    finally:
        engine.dispose()


def _fresh_database(db: Database) -> None:
    if db.label == "postgresql":
        reset_postgres(db.url)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(db.url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    upgrade(db.url)


def _throughput(
    ctx: Context, env: dict[str, str], app: str, seconds: float, maker: EventMaker, label: str
) -> tuple[WrkResult, float]:
    """Closed-loop throughput of one app, and its server CPU ms per request."""
    requests_file = ctx.scratch("ingest") / f"throughput-{label}.tsv"
    started: list[subprocess.Popen[bytes]] = []
    with web_process(env, ctx.scratch("ingest"), app=app, started=started) as url:
        maker.write(requests_file, 0, int(MAX_THROUGHPUT_RATE * seconds))
        before = group_cpu_seconds(started[0].pid)
        result = run_wrk(url, requests_file, seconds=seconds, connections=THROUGHPUT_CONNECTIONS)
        cpu = group_cpu_seconds(started[0].pid) - before
    return result, (cpu * 1000 / result.requests if result.requests else 0.0)


def one_run(ctx: Context, db: Database, throughput_seconds: float, paced_seconds: float) -> Any:
    secret = secrets.token_urlsafe(16)
    # The deployed log level: the per-webhook INFO line is part of the cost measured.
    env = base_env(db.url, ZOOM_WEBHOOK_SECRET_TOKEN=secret, ZOOMGUARD_LOG_LEVEL="INFO")
    if ctx.options.get("web_threads"):
        env["WEB_THREADS"] = str(ctx.options["web_threads"])
    maker = EventMaker(secret, "benchAccount")
    _fresh_database(db)
    hello, hello_cpu = _throughput(ctx, env, HELLO_APP, throughput_seconds, maker, "hello")
    _fresh_database(db)
    receiver, receiver_cpu = _throughput(
        ctx, env, RECEIVER_APP, throughput_seconds, maker, "receiver"
    )
    answered = receiver.answered_2xx
    in_flight_allowance = THROUGHPUT_CONNECTIONS
    paced: dict[str, Any] = {}
    with web_process(env, ctx.scratch("ingest")) as url:
        # The throughput run's rows are still there: the paced runs add theirs.
        offset = int(MAX_THROUGHPUT_RATE * throughput_seconds)
        for rate in PACED_RATES:
            requests_file = ctx.scratch("ingest") / f"paced-{rate}.tsv"
            count = int(rate * paced_seconds * 1.5) + 1000
            maker.write(requests_file, offset, count)
            offset += count
            delay_ms = PACED_CONNECTIONS / rate * 1000
            step = run_wrk(
                url,
                requests_file,
                seconds=paced_seconds,
                connections=PACED_CONNECTIONS,
                pace_delay_ms=delay_ms,
            )
            answered += step.answered_2xx
            in_flight_allowance += PACED_CONNECTIONS
            paced[str(rate)] = step
    rows = inbox_rows(db.url)
    return {
        "hello_rps": hello.rate,
        "hello_cpu_ms": hello_cpu,
        "receiver_rps": receiver.rate,
        "receiver_cpu_ms": receiver_cpu,
        "ratio": receiver.rate / hello.rate if hello.rate else 0.0,
        "receiver_errors": receiver.non_2xx + receiver.socket_errors,
        "paced": {
            rate: {
                "achieved_rps": round(step.rate, 1),
                "p50_ms": step.p50_ms,
                "p99_ms": step.p99_ms,
                "max_ms": step.max_ms,
                "errors": step.non_2xx + step.socket_errors,
            }
            for rate, step in paced.items()
        },
        "answered_200": answered,
        "inbox_rows": rows,
        # wrk stops with requests in flight: the server may commit rows whose answer wrk never
        # counted, at most one per connection. Fewer rows than answers would be a loss.
        "lost": max(0, answered - rows),
        "unanswered_rows_allowance": in_flight_allowance,
    }


def _spread(values: list[float], digits: int = 2) -> str:
    return (
        f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} / "
        f"{max(values):.{digits}f}"
    )


def summarise(label: str, runs: list[Any]) -> list[Row]:
    ratios = [r["ratio"] for r in runs]
    rows = [
        Row(
            f"{label}: hello-world requests/s (min / median / max)",
            _spread([r["hello_rps"] for r in runs], 0),
        ),
        Row(f"{label}: receiver requests/s", _spread([r["receiver_rps"] for r in runs], 0)),
        Row(
            f"{label}: receiver / hello-world throughput",
            _spread(ratios),
            f">= {TARGET_RATIO}",
            min(ratios) >= TARGET_RATIO,
        ),
        Row(
            f"{label}: server CPU ms per request, hello-world / receiver (median)",
            f"{statistics.median(r['hello_cpu_ms'] for r in runs):.2f} / "
            f"{statistics.median(r['receiver_cpu_ms'] for r in runs):.2f}",
        ),
    ]
    for rate in PACED_RATES:
        steps = [r["paced"][str(rate)] for r in runs]
        p99s = [s["p99_ms"] for s in steps]
        errors = sum(s["errors"] for s in steps)
        target = f"p99 < {TARGET_P99_MS:.0f} ms" if rate == TARGET_RATE else ""
        ok = (max(p99s) < TARGET_P99_MS and not errors) if rate == TARGET_RATE else None
        value = (
            f"p50 {_spread([s['p50_ms'] for s in steps])} ms; p99 {_spread(p99s)} ms; "
            f"achieved {_spread([s['achieved_rps'] for s in steps], 0)}/s"
        )
        if errors:
            value += f"; errors {errors}"
        rows.append(Row(f"{label}: latency at {rate}/s", value, target, ok))
    lost = sum(r["lost"] for r in runs)
    rows.append(
        Row(
            f"{label}: 200 answers without an inbox row",
            f"{lost} of {sum(r['answered_200'] for r in runs)}",
            "0",
            lost == 0,
        )
    )
    return rows


def run(ctx: Context) -> Result:
    if shutil.which(WRK) is None:
        raise RuntimeError(f"{WRK} is missing: apt-get install wrk")
    runs_wanted = ctx.options.get("ingest_runs") or (QUICK_RUNS if ctx.quick else RUNS)
    throughput_seconds = ctx.options.get("ingest_seconds") or (
        QUICK_THROUGHPUT_SECONDS if ctx.quick else THROUGHPUT_SECONDS
    )
    paced_seconds = QUICK_PACED_SECONDS if ctx.quick else PACED_SECONDS
    found, notes = databases(ctx, ctx.scratch("ingest"))
    metrics: dict[str, Any] = {}
    rows: list[Row] = []
    for db in found:
        runs = []
        for index in range(runs_wanted):
            load_before = os.getloadavg()[0]
            outcome = one_run(ctx, db, throughput_seconds, paced_seconds)
            outcome["load_average_before"] = round(load_before, 2)
            outcome["load_average_after"] = round(os.getloadavg()[0], 2)
            ctx.log(
                f"  {db.label} run {index + 1}: hello {outcome['hello_rps']:.0f}/s "
                f"({outcome['hello_cpu_ms']:.2f} ms CPU), receiver "
                f"{outcome['receiver_rps']:.0f}/s ({outcome['receiver_cpu_ms']:.2f} ms CPU), "
                f"ratio {outcome['ratio']:.2f}; paced {outcome['paced']}; rows "
                f"{outcome['inbox_rows']} for {outcome['answered_200']} answers; load "
                f"{outcome['load_average_before']}"
            )
            runs.append(outcome)
        metrics[db.label] = {"durability": durability(db.url), "runs": runs}
        label = "SQLite" if db.label == "sqlite" else "PostgreSQL"
        rows.extend(summarise(label, runs))
        notes.append(
            f"{db.label} durability: "
            + ", ".join(f"{k}={v}" for k, v in metrics[db.label]["durability"].items())
        )
    notes.insert(
        0,
        f"Procfile web process ({procfile_command('web')}) on loopback; wrk -t{WRK_THREADS} "
        f"-c{THROUGHPUT_CONNECTIONS} for {throughput_seconds:.0f} s closed loop against the "
        f"hello-world ({HELLO_APP}) and the receiver under the same command line; fixed rates "
        f"with -c{PACED_CONNECTIONS} and wrk's delay hook for {paced_seconds:.0f} s each; "
        f"latency is wrk's, from request written to answer read; {runs_wanted} run(s) per "
        "database, min / median / max",
    )
    return Result(
        name=NAME,
        title="Webhook ingest",
        params={
            "runs": runs_wanted,
            "throughput_seconds": throughput_seconds,
            "paced_rates": PACED_RATES,
            "paced_seconds": paced_seconds,
            "event": "meeting.updated (~700 bytes, signed)",
        },
        metrics=metrics,
        rows=rows,
        notes=notes,
    )
