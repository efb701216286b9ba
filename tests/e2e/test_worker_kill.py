"""Real `zoomguard worker` processes against the sandbox, killed and stopped (issue 16, 6 and 9).

- a worker killed with SIGKILL in the middle of a burst of 30 ``recording.started`` events: a
  second worker stops every recording within 60 s of the kill, and each stop is audited once
  and alerted once;
- a worker told to stop (SIGTERM) while Zoom keeps failing exits within 10 s, without waiting
  out its retries, and gives its event back unspent.

SQLite (WAL) is shared by the processes, so these run without a PostgreSQL server.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from support.processes import TEST_SECRET_KEY, ServiceProcess, service_env, wait_until

from zoomguard.crypto import Vault
from zoomguard.sandbox import SandboxServer
from zoomguard.store import Store, make_engine, upgrade
from zoomguard.store.models import Alert, AuditEntry

COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}
BURST = 30


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.close()


def open_store(tmp_path: Path, sandbox: SandboxServer) -> tuple[str, Store]:
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    upgrade(url)
    store = Store(make_engine(url), Vault(TEST_SECRET_KEY))
    config = sandbox.config
    store.accounts.save_s2s(
        config.account_id, config.client_id, config.client_secret, api_url=sandbox.api_url
    )
    return url, store


def recording_started(sandbox: SandboxServer, store: Store, meeting_id: int) -> None:
    body = {
        "event": "recording.started",
        "payload": {
            "account_id": sandbox.config.account_id,
            "object": {"id": meeting_id, "uuid": f"uuid-{meeting_id}", "topic": "Case review"},
        },
    }
    store.inbox.add_event(
        dedupe_key=f"recording.started:{meeting_id}",
        event="recording.started",
        zoom_account_id=sandbox.config.account_id,
        event_ts=None,
        body=json.dumps(body),
        status="pending",
        now=datetime.now(UTC),
    )


def test_a_worker_killed_mid_burst_leaves_nothing_unstopped_for_60_s(
    sandbox: SandboxServer, processes: list[ServiceProcess], tmp_path: Path
) -> None:
    state = sandbox.state
    host = state.add_user("host@agency.example")
    meetings = [
        state.add_meeting(host, topic=f"Session {n}", settings=COMPLIANT)["id"]
        for n in range(BURST)
    ]
    for meeting_id in meetings:
        state.start_recording(meeting_id)
    url, store = open_store(tmp_path, sandbox)
    for meeting_id in meetings:
        recording_started(sandbox, store, meeting_id)
    # Every call to Zoom takes 0.2 s: the victim is killed holding a batch of claims.
    sandbox.config.latency_ms = 200
    env = service_env(url, sandbox.env())
    worker = ["worker", "--batch", "10", "--poll-interval", "0.05"]

    victim = ServiceProcess(worker, env, tmp_path / "victim.log")
    processes.append(victim)
    assert wait_until(lambda: len(state.recording_stops) >= 3, timeout=30), victim.output()
    victim.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    assert victim.proc.wait(10) == -signal.SIGKILL
    assert store.inbox.count_by_status()["processing"] > 0  # it died holding claims

    survivor = ServiceProcess(worker, env, tmp_path / "survivor.log")
    processes.append(survivor)

    def all_stopped() -> bool:
        return all(state.live[m].recording_state == "stopped" for m in meetings)

    assert wait_until(all_stopped, timeout=60), survivor.output()
    assert time.monotonic() - killed_at < 60
    assert wait_until(lambda: store.inbox.count_by_status()["done"] == BURST, timeout=20)
    assert survivor.stop() == 0

    with store.transaction() as session:
        audited = Counter(
            target
            for target, state_ in session.execute(
                select(AuditEntry.target, AuditEntry.state).where(
                    AuditEntry.action == "recording.stop"
                )
            )
            if state_ is None
        )
        alerted = Counter(
            alert.details["meeting_id"]
            for alert in session.scalars(select(Alert).where(Alert.category == "recording.started"))
        )
    assert audited == Counter({f"meeting:{m}": 1 for m in meetings})
    assert alerted == Counter({str(m): 1 for m in meetings})
    store.close()


def test_sigterm_ends_a_worker_retrying_a_failing_zoom_within_10_s(
    sandbox: SandboxServer, processes: list[ServiceProcess], tmp_path: Path
) -> None:
    state = sandbox.state
    host = state.add_user("host@agency.example")
    meeting_id = state.add_meeting(host, topic="Session", settings=COMPLIANT)["id"]
    state.start_recording(meeting_id)
    url, store = open_store(tmp_path, sandbox)
    recording_started(sandbox, store, meeting_id)
    sandbox.config.error_rate = 1.0  # every API call answers 500: the client keeps retrying
    worker = ServiceProcess(
        ["worker", "--poll-interval", "0.05"], service_env(url, sandbox.env()), tmp_path / "w.log"
    )
    processes.append(worker)

    def stop_attempts() -> int:
        return sum(1 for r in state.request_log() if r.path.startswith("/v2/live_meetings/"))

    assert wait_until(lambda: stop_attempts() >= 2, timeout=30), worker.output()
    started = time.monotonic()
    assert worker.stop(timeout=15) == 0
    assert time.monotonic() - started < 10

    event = store.inbox.get_event(1)  # the only event
    assert event is not None
    assert (event.status, event.attempts) == ("pending", 0)  # given back, attempt unspent
    store.close()
