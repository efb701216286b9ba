"""zoomguard as a service: real worker, clock and web processes on PostgreSQL (issue 6).

- three `zoomguard worker` processes share 1,000 events: each is handled exactly once;
- a worker killed with SIGKILL mid-batch loses nothing: its claims are taken over when they lapse;
- two `zoomguard clock` processes sweeping one sandbox account never overlap; the loser says busy;
- `honcho start` on the Procfile brings up web, worker and clock: /healthz answers 200 and a
  webhook signed by the sandbox is processed;
- `zoomguard run` (everything in one process, SQLite) does the same and stops on SIGTERM.
"""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.net import free_port
from support.processes import (
    REPO_DIR,
    ServiceProcess,
    handled_rows,
    service_env,
    wait_until,
)
from support.sandbox import SANDBOX_HOST_DEFAULT
from support.store import MigratedDatabases, empty_all_tables

from zoomguard.crypto import Vault
from zoomguard.rules import policy
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.store import Store, make_engine
from zoomguard.store import inbox as inbox_store
from zoomguard.store.models import InboxEvent, Sweep

COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}
HANDLER = "support.processes:recording_handler"


@pytest.fixture
def pg_url(migrated_databases: MigratedDatabases) -> str:
    url = migrated_databases.postgres_url()  # skips only without PostgreSQL binaries
    empty_all_tables(url)
    return url


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    store = Store(make_engine(pg_url), Vault("nkBVt-5Rhg2ZYi5xXt3xdQSooQnnIw7CJnEhpqb8dL4="))
    yield store
    store.close()


@pytest.fixture
def handled_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "handled"
    directory.mkdir()
    return directory


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    """Processes a test starts; whatever is still running afterwards is killed."""
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.close()


def start(
    processes: list[ServiceProcess],
    tmp_path: Path,
    name: str,
    args: list[str],
    env: dict[str, str],
    *,
    command: list[str] | None = None,
) -> ServiceProcess:
    process = ServiceProcess(args, env, tmp_path / f"{name}.log", command=command)
    processes.append(process)
    return process


def add_events(store: Store, count: int, *, first: int = 0, per_transaction: int = 100) -> None:
    now = datetime.now(UTC)
    for start_at in range(first, first + count, per_transaction):
        with store.transaction() as session:
            for n in range(start_at, min(first + count, start_at + per_transaction)):
                store.inbox.add_event(
                    session=session,
                    dedupe_key=f"test-event-{n}",
                    event="meeting.deleted",
                    zoom_account_id=None,
                    event_ts=n,
                    body=json.dumps({"event": "meeting.deleted", "payload": {"n": n}}),
                    status=inbox_store.PENDING,
                    now=now,
                )


def inbox_ids(store: Store) -> list[int]:
    with store.transaction() as session:
        return list(session.scalars(select(InboxEvent.id)))


# --- workers -------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_three_worker_processes_handle_each_of_1000_events_exactly_once(
    pg_url: str,
    pg_store: Store,
    processes: list[ServiceProcess],
    tmp_path: Path,
    handled_dir: Path,
) -> None:
    env = service_env(pg_url, {"ZG_TEST_HANDLED_DIR": str(handled_dir)})
    workers = [
        start(
            processes,
            tmp_path,
            f"worker{n}",
            ["worker", "--handler", HANDLER, "--batch", "20", "--poll-interval", "0.05"],
            env,
        )
        for n in range(3)
    ]
    add_events(pg_store, 1000, per_transaction=1000)  # while the workers start
    for worker in workers:
        worker.wait_for_output("worker started")

    def all_settled() -> bool:
        return pg_store.inbox.count_by_status()[inbox_store.DONE] == 1000

    assert wait_until(all_settled, timeout=60), pg_store.inbox.count_by_status()
    assert [w.stop() for w in workers] == [0, 0, 0]

    rows = handled_rows(handled_dir)
    times_handled = Counter(event_id for event_id, _pid in rows)
    assert len(rows) == 1000
    assert set(times_handled) == set(inbox_ids(pg_store))
    assert max(times_handled.values()) == 1  # no event handled twice
    # The work was shared: every process handled some of it.
    assert {pid for _id, pid in rows} == {w.pid for w in workers}
    assert pg_store.inbox.count_by_status() == {
        "pending": 0,
        "processing": 0,
        "done": 1000,
        "ignored": 0,
        "unknown_account": 0,
        "dead": 0,
    }


@pytest.mark.postgres
def test_worker_killed_mid_batch_loses_nothing(
    pg_url: str,
    pg_store: Store,
    processes: list[ServiceProcess],
    tmp_path: Path,
    handled_dir: Path,
) -> None:
    # Two slow workers share 120 events; one is killed with SIGKILL while it holds claims.
    lease = ["--lease-seconds", "2", "--poll-interval", "0.05", "--batch", "10"]
    slow = service_env(
        pg_url, {"ZG_TEST_HANDLED_DIR": str(handled_dir), "ZG_TEST_HANDLER_SLEEP": "0.01"}
    )
    add_events(pg_store, 120)
    victim, survivor = (
        start(processes, tmp_path, name, ["worker", "--handler", HANDLER, *lease], slow)
        for name in ("victim", "survivor")
    )

    def handled_by_victim() -> set[int]:
        return {event_id for event_id, pid in handled_rows(handled_dir) if pid == victim.pid}

    def claimed_by_victim() -> set[int]:
        with pg_store.transaction() as session:
            return set(
                session.scalars(
                    select(InboxEvent.id).where(
                        InboxEvent.status == inbox_store.PROCESSING,
                        InboxEvent.claimed_by.like(f"%:{victim.pid}"),
                    )
                )
            )

    # Killed mid-batch: once it has handled some events and while it holds a claim (between
    # two batches it holds none, and a kill there would test nothing).
    assert wait_until(
        lambda: len(handled_by_victim()) >= 15 and bool(claimed_by_victim()), timeout=30
    )
    victim.signal(signal.SIGKILL)
    assert victim.proc.wait(10) == -signal.SIGKILL
    orphaned = claimed_by_victim()
    assert orphaned, "the worker was killed while holding claims"
    victim_handled = handled_by_victim()

    done = wait_until(lambda: pg_store.inbox.count_by_status()[inbox_store.DONE] == 120, timeout=30)
    assert done, pg_store.inbox.count_by_status()
    assert survivor.stop() == 0

    times_handled = Counter(event_id for event_id, _ in handled_rows(handled_dir))
    assert set(times_handled) == set(inbox_ids(pg_store))  # every event was handled
    twice = {event_id for event_id, n in times_handled.items() if n > 1}
    # At-least-once: only an event the killed worker had handled but not yet marked done runs
    # again, and at most once more.
    assert twice <= orphaned & victim_handled
    assert max(times_handled.values()) <= 2
    with pg_store.transaction() as session:
        taken_over = session.execute(
            select(InboxEvent.status, InboxEvent.attempts).where(InboxEvent.id.in_(orphaned))
        ).all()
    # Each orphaned claim ran out and the survivor took it: a second attempt, now done.
    assert {(status, attempts) for status, attempts in taken_over} == {("done", 2)}


# --- clocks ------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_two_clocks_never_sweep_one_account_at_the_same_time(
    pg_url: str, pg_store: Store, processes: list[ServiceProcess], tmp_path: Path
) -> None:
    # 40 meetings at the client's 30 requests/s: each sweep takes over a second, and each clock
    # tries every second, so the two keep running into each other.
    with SandboxServer(SandboxConfig(users=4, meetings=40, latency_ms=5)) as sandbox:
        env = service_env(pg_url, sandbox.env())
        clock_args = ["clock", "--sweep-interval-seconds", "1"]
        clocks = [start(processes, tmp_path, f"clock{n}", clock_args, env) for n in range(2)]

        def completed_sweeps() -> int:
            return len(pg_store.sweeps.recent(100, status="completed"))

        assert wait_until(lambda: completed_sweeps() >= 2, timeout=40), [c.output() for c in clocks]
        assert [c.stop() for c in clocks] == [0, 0]

    with pg_store.transaction() as session:
        sweeps = session.execute(
            select(Sweep.started_at, Sweep.finished_at, Sweep.status, Sweep.holder).order_by(
                Sweep.started_at
            )
        ).all()
    for earlier, later in itertools.pairwise(sweeps):
        assert earlier.finished_at is not None
        assert earlier.finished_at <= later.started_at, (earlier, later)
    assert all(s.status in ("completed", "interrupted") for s in sweeps)
    logs = [c.output() for c in clocks]
    assert any("busy (another process is sweeping it)" in log for log in logs), logs
    for log in logs:
        assert "Traceback" not in log
        assert "level=error" not in log


# --- the whole service -----------------------------------------------------------------------


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def make_meeting_noncompliant(sandbox: SandboxServer) -> int:
    """A compliant meeting the host then opens up: the sandbox sends meeting.updated."""
    state = sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(host, topic="Planning", settings=COMPLIANT)
    state.update_meeting(
        meeting["id"], {"settings": {"join_before_host": True, "auto_recording": "cloud"}}
    )
    assert sandbox.wait_for_webhooks(10)
    return int(meeting["id"])


def assert_webhook_processed(store: Store, sandbox: SandboxServer, meeting_id: int) -> None:
    def settled() -> bool:
        with store.transaction() as session:
            statuses = list(
                session.scalars(
                    select(InboxEvent.status).where(InboxEvent.event == "meeting.updated")
                )
            )
        return bool(statuses) and all(s == "done" for s in statuses)

    assert wait_until(settled, timeout=20)
    evaluation = policy.evaluate(
        sandbox.state.meetings[meeting_id],
        policy.default_profile(),
        today=date.today(),
        host=SANDBOX_HOST_DEFAULT,  # no options: the account's setting, everyone waits
    )
    assert evaluation.compliant, evaluation.findings
    deliveries = sandbox.state.deliveries_snapshot("meeting.updated")
    assert deliveries, "the sandbox delivered the webhook"


def healthz(port: int) -> dict[str, Any] | None:
    status, body = get(f"http://127.0.0.1:{port}/healthz")
    return json.loads(body) if status == 200 else None


@pytest.mark.postgres
def test_honcho_starts_the_procfile_and_a_webhook_is_processed(
    pg_url: str, pg_store: Store, processes: list[ServiceProcess], tmp_path: Path
) -> None:
    honcho = shutil.which("honcho", path=str(Path(sys.executable).parent))
    if honcho is None:
        pytest.skip("honcho is not installed (pip install honcho; it is in the test extras)")
    port = free_port()
    with SandboxServer(SandboxConfig(webhook_time_scale=0.001)) as sandbox:
        dotenv = tmp_path / ".env"
        settings = {
            **sandbox.env(),
            "ZOOMGUARD_DATABASE_URL": pg_url,
            "ZOOMGUARD_SECRET_KEY": "nkBVt-5Rhg2ZYi5xXt3xdQSooQnnIw7CJnEhpqb8dL4=",
            "WEB_CONCURRENCY": "1",
        }
        dotenv.write_text("".join(f"{k}='{v}'\n" for k, v in settings.items()))
        env = service_env(pg_url)
        for key in ("ZOOMGUARD_DATABASE_URL", "ZOOMGUARD_SECRET_KEY"):
            env.pop(key)  # from the .env file only
        procfile = ["-f", str(REPO_DIR / "Procfile"), "-e", str(dotenv), "-d", str(REPO_DIR)]

        release = start(
            processes, tmp_path, "release", [], env, command=[honcho, "start", *procfile, "release"]
        )
        assert release.proc.wait(60) == 0, release.output()
        assert "database at head" in release.output()

        service = start(
            processes,
            tmp_path,
            "honcho",
            [],
            env,
            command=[honcho, "start", *procfile, "-p", str(port), "web", "worker", "clock"],
        )
        report = wait_until(lambda: healthz(port), timeout=30)
        assert report is not None, service.output()
        assert report["status"] == "ok"
        assert report["checks"]["database"]["ok"] is True

        sandbox.set_webhook_url(f"http://127.0.0.1:{port}/webhooks/zoom")
        meeting_id = make_meeting_noncompliant(sandbox)
        assert_webhook_processed(pg_store, sandbox, meeting_id)

        status, metrics = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert 'zoomguard_inbox_events{status="done"}' in metrics.decode()
        service.stop()
    output = service.output()
    for process in ("web.1", "worker.1", "clock.1"):
        assert process in output, output
    assert "Traceback" not in output, output


def test_zoomguard_run_serves_works_and_stops_on_sigterm(
    processes: list[ServiceProcess], tmp_path: Path
) -> None:
    port = free_port()
    database = f"sqlite:///{tmp_path / 'zoomguard.db'}"
    with SandboxServer(SandboxConfig(users=2, meetings=6, webhook_time_scale=0.001)) as sandbox:
        env = service_env(database, sandbox.env())
        run = start(processes, tmp_path, "run", ["run", "--port", str(port)], env)
        report = wait_until(lambda: healthz(port), timeout=30)
        assert report is not None, run.output()
        assert set(report["checks"]) == {
            "database",
            "sweeps",
            "sweep_coverage",
            "accounts",
            "inbox",
            "outbox",
            "unknown_accounts",
            "dead_events",
        }

        sandbox.set_webhook_url(f"http://127.0.0.1:{port}/webhooks/zoom")
        meeting_id = make_meeting_noncompliant(sandbox)
        store = Store(make_engine(database))
        try:
            assert_webhook_processed(store, sandbox, meeting_id)
            # The clock's first sweep ran at start: there was none before.
            assert wait_until(lambda: store.sweeps.last(status="completed"), timeout=20)
        finally:
            store.close()
        status, metrics = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        text = metrics.decode()
        # One process does everything: its own counters are on /metrics too.
        assert "zoomguard_zoom_api_calls_total{" in text
        assert 'zoomguard_worker_events_total{outcome="done"}' in text
        started = time.monotonic()
        assert run.stop() == 0
        assert time.monotonic() - started < 10
    assert "zoomguard stopped" in run.output()
