"""The benchmark harness's own arithmetic and plumbing (the benchmarks themselves take minutes
and run with `python -m benchmarks`, not here)."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

# benchmarks/ is a top-level package of the repository (not installed); pytest's pythonpath
# setting in pyproject.toml puts the repository root on sys.path.
from benchmarks import ingest, memory, report, sweep
from benchmarks.common import (
    Result,
    Row,
    count_by,
    percentile,
    sqlite_url,
    zoomguard_env,
)
from benchmarks.naive_loop import HandWrittenSweep
from benchmarks.receiver import procfile_command
from zoomguard.config import Settings
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.sandbox.scripting import RequestRecord
from zoomguard.service import Sweeper, client_for_account, env_account, load_profile
from zoomguard.store import Store, upgrade
from zoomguard.webhooks.receiver.signature import verify

# --- percentiles and the lower bound -----------------------------------------------------------


def test_percentile_interpolates_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(list(range(101)), 99) == pytest.approx(99.0)
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile(values, 101)


def _record(index: int, status: int, category: str | None) -> RequestRecord:
    return RequestRecord(
        index=index,
        method="GET",
        path="/v2/meetings/1",
        query="",
        body=None,
        status=status,
        category=category,
        received_at=0.0,
        responded_at=0.0,
    )


def test_lower_bound_is_the_busiest_category_at_its_limit() -> None:
    log = [_record(0, 200, "light")] * 90 + [_record(1, 429, "light")] * 5
    log += [_record(2, 200, "medium")] * 30 + [_record(3, 200, None)] * 7  # OAuth: no category
    calls = count_by(sweep.api_calls(log), lambda r: r.category)
    assert calls == {"light": 90, "medium": 30}
    seconds, category = sweep.lower_bound(calls, {"light": 30.0, "medium": 20.0})
    assert (seconds, category) == (3.0, "light")
    seconds, category = sweep.lower_bound(calls, {"light": 60.0, "medium": 5.0})
    assert (seconds, category) == (6.0, "medium")


# --- the hand-written loop does zoomguard's work -----------------------------------------------


def test_hand_written_loop_makes_the_same_calls_as_the_sweep(tmp_path: Path) -> None:
    def config() -> SandboxConfig:
        return SandboxConfig(users=2, meetings=12, noncompliant_share=0.5, seed=7)

    with SandboxServer(config()) as sandbox:
        settings = Settings.from_env(zoomguard_env(sandbox, sqlite_url(tmp_path)))
        upgrade(settings.database_url)
        store = Store.open(settings)
        try:
            account = env_account(settings, store)
            client = client_for_account(settings, store, account)
            result = Sweeper(settings, store, client, account, profile=load_profile(settings)).run()
            client.close()
        finally:
            store.close()
        swept = count_by(sweep.api_calls(sandbox.state.request_log()), lambda r: r.method)
    with SandboxServer(config()) as sandbox:
        cfg = sandbox.config
        loop = HandWrittenSweep(
            sandbox.api_url, sandbox.oauth_url, cfg.account_id, cfg.client_id, cfg.client_secret
        )
        outcome = loop.run()
        looped = count_by(sweep.api_calls(sandbox.state.request_log()), lambda r: r.method)
    assert result.status == "completed"
    assert outcome.meetings == result.counts.meetings == 12
    assert outcome.patched == result.counts.patches > 0
    assert looped == swept
    assert not outcome.stopped_early


def test_hand_written_loop_can_be_cut_short() -> None:
    with SandboxServer(SandboxConfig(users=4, meetings=8, seed=3)) as sandbox:
        cfg = sandbox.config
        loop = HandWrittenSweep(
            sandbox.api_url, sandbox.oauth_url, cfg.account_id, cfg.client_id, cfg.client_secret
        )
        outcome = loop.run(lambda done, total, seconds: done >= 1)
    assert outcome.stopped_early
    assert (outcome.users_done, outcome.users_total) == (1, 4)


# --- the wrk driver --------------------------------------------------------------------------


@pytest.fixture
def slow_server() -> Iterator[tuple[int, list[tuple[str, str, bytes]]]]:
    """A loopback HTTP/1.1 server that answers every POST with 200 after 20 ms and records
    (timestamp header, signature header, body) of each."""
    received: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append(
                (
                    self.headers.get("x-zm-request-timestamp", ""),
                    self.headers.get("x-zm-signature", ""),
                    body,
                )
            )
            time.sleep(0.02)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.skipif(not Path(ingest.WRK).exists(), reason="wrk is not installed")
def test_wrk_sends_each_pre_signed_delivery_once_and_paces_when_asked(
    slow_server: tuple[int, list[tuple[str, str, bytes]]], tmp_path: Path
) -> None:
    port, received = slow_server
    maker = ingest.EventMaker("bench secret", "benchAccount")
    maker.write(tmp_path / "requests.tsv", 0, 2000)
    result = ingest.run_wrk(
        f"http://127.0.0.1:{port}/hook",
        tmp_path / "requests.tsv",
        seconds=2,
        connections=4,
        pace_delay_ms=100.0,
    )
    # Paced: each of 4 connections waits 100 ms + 20 ms per request, about 33/s, not 200/s.
    assert 20 <= result.rate <= 45
    assert result.non_2xx == 0
    assert len(received) >= result.requests
    bodies = [body for _, _, body in received]
    assert len(set(bodies)) == len(bodies)  # no delivery twice
    for stamp, signature, body in received:
        assert (
            verify(
                body,
                secret="bench secret",
                timestamp=stamp,
                signature=signature,
                now=time.time(),
                window_seconds=300,
            )
            is None
        )


# --- result files --------------------------------------------------------------------------


def _result(name: str, value: str, ok: bool | None = None) -> Result:
    return Result(
        name=name,
        title=name.title(),
        params={},
        metrics={"value": value},
        rows=[Row("metric", value, "target" if ok is not None else "", ok)],
        notes=[f"note for {name}"],
    )


def test_results_merge_by_name_and_render_a_table(tmp_path: Path) -> None:
    machine = report.machine_info()
    assert machine["cores"] >= 1
    assert machine["python"].count(".") == 2
    order = ["sweep", "ingest"]
    first = [report.entry(_result("ingest", "1"), "full", machine, ["--only", "ingest"])]
    report.write(tmp_path, "latest", first, order)
    second = [
        report.entry(_result("sweep", "2", ok=True), "full", machine, []),
        report.entry(_result("ingest", "3", ok=False), "quick", machine, ["--quick"]),
    ]
    json_path, md_path = report.write(tmp_path, "latest", second, order)
    document = json.loads(json_path.read_text())
    assert [e["name"] for e in document["results"]] == ["sweep", "ingest"]
    assert document["results"][1]["metrics"] == {"value": "3"}
    assert document["results"][1]["command"] == "python -m benchmarks --quick"
    table = md_path.read_text()
    assert "| Sweep (full) | metric | 2 | target ✅ |" in table
    assert "| Ingest (quick) | metric | 3 | target ❌ |" in table
    assert "- Ingest: note for ingest" in table


# --- small parsers ---------------------------------------------------------------------------


def test_procfile_web_command_is_waitress_serving_the_receiver() -> None:
    command = procfile_command("web")
    assert command.startswith("waitress-serve ")
    assert "--call zoomguard.webhooks:create_app" in command
    assert "--channel-timeout=" in command
    with pytest.raises(LookupError):
        procfile_command("no-such-process")


def test_memory_phases_and_summary() -> None:
    samples = [(0.0, 0, 50.0), (0.25, 30, 60.0), (0.5, 100, 70.0), (0.75, 100, 90.0)]
    phases = memory.split_phases(samples, 100)
    assert phases["rss_mib_at_25pct_calls"] == 60.0
    assert phases["rss_mib_at_all_calls"] == 70.0
    assert phases["peak_rss_mib_while_sweeping"] == 60.0
    assert phases["peak_rss_mib_after_last_call"] == 90.0
    output = "sweep     value\n-----  -----\naccount   abc\nmeetings checked   10000\n"
    assert memory._summary_lines(output) == {"sweep": "value", "meetings checked": "10000"}
