"""The Procfile's web process killed with SIGKILL while Zoom's signed webhooks arrive (issue 16).

The sandbox Zoom sends a burst of ``recording.started`` webhooks (signed, with Zoom's retries on
a connection error or a 5xx, scaled down in time) to the Procfile's ``web`` command (waitress);
a real ``zoomguard worker`` handles them. The web process is killed with SIGKILL mid-burst and
started again on the same port a second later. Afterwards:

- every event Zoom sent was answered 200 in the end (the deliveries refused while it was down
  were re-sent by Zoom), and has exactly one inbox row, done: none answered 200 was lost, and a
  re-send of one stored before the kill was stored once;
- every recording was stopped, each stop audited once and alerted once;
- webhooks answered 200 before the kill and sent again after it (as Zoom does when an answer
  is lost) are answered "duplicate" and stored once.

SQLite (WAL) is shared by the processes, so this runs without a PostgreSQL server.
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from support.net import free_port
from support.processes import (
    TEST_SECRET_KEY,
    ServiceProcess,
    http_get,
    procfile_command,
    service_env,
    wait_until,
)
from support.webhooks import signed_headers

from zoomguard.crypto import Vault
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.store import Store, make_engine, upgrade
from zoomguard.store.models import Alert, AuditEntry, InboxEvent

COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}
BURST = 40
# Zoom re-sends a failed delivery after 5, 20 and 60 minutes; scaled to 0.9, 3.6 and 10.8 s.
TIME_SCALE = 0.003


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.close()


def start_web(
    processes: list[ServiceProcess], tmp_path: Path, env: dict[str, str], name: str
) -> ServiceProcess:
    web = ServiceProcess([], env, tmp_path / f"{name}.log", command=procfile_command("web", env))
    processes.append(web)
    port = env["PORT"]
    healthz = f"http://127.0.0.1:{port}/healthz"
    assert wait_until(lambda: http_get(healthz)[0] == 200, timeout=20), web.output()
    return web


def post_signed(port: int, body: bytes, secret: str) -> tuple[int, str]:
    """Posts ``body`` as Zoom would (signed now); (status, the receiver's "status" answer)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/zoom",
        data=body,
        headers=signed_headers(body, secret=secret),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read())["status"]


def meeting_updated(account_id: str, meeting_id: int) -> bytes:
    document = {
        "event": "meeting.updated",
        "event_ts": int(time.time() * 1000),
        "payload": {
            "account_id": account_id,
            "operator": "host@agency.example",
            "object": {"id": meeting_id, "topic": "Session"},
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


def test_web_killed_mid_burst_loses_no_webhook_and_stores_each_once(
    processes: list[ServiceProcess], tmp_path: Path
) -> None:
    config = SandboxConfig(webhook_time_scale=TIME_SCALE, webhook_workers=4)
    with SandboxServer(config) as sandbox:
        url = f"sqlite:///{tmp_path / 'web-kill.db'}"
        upgrade(url)
        port = free_port()
        env = service_env(url, {**sandbox.env(), "PORT": str(port)})
        worker = ServiceProcess(["worker", "--poll-interval", "0.05"], env, tmp_path / "worker.log")
        processes.append(worker)
        first_web = start_web(processes, tmp_path, env, "web1")
        worker.wait_for_output("worker started")

        state = sandbox.state
        host = state.add_user("host@agency.example")
        meetings = [
            state.add_meeting(host, topic=f"Session {n}", settings=COMPLIANT)["id"]
            for n in range(BURST)
        ]
        sandbox.set_webhook_url(f"http://127.0.0.1:{port}/webhooks/zoom")

        def hosts_start_recording() -> None:
            for meeting_id in meetings:
                state.start_recording(meeting_id)
                time.sleep(0.05)

        starter = threading.Thread(target=hosts_start_recording)
        starter.start()

        def answered() -> int:
            return sum(d.ok for d in state.deliveries_snapshot("recording.started"))

        secret = sandbox.config.webhook_secret
        resent = [meeting_updated(sandbox.config.account_id, m) for m in meetings[:10]]
        assert [post_signed(port, body, secret) for body in resent] == [(200, "pending")] * 10
        assert wait_until(lambda: answered() >= 10, timeout=20)
        first_web.signal(signal.SIGKILL)
        assert first_web.proc.wait(10) == -signal.SIGKILL
        time.sleep(1.0)  # Zoom's deliveries meanwhile meet a closed port
        start_web(processes, tmp_path, env, "web2")
        # Zoom sends again what it believes unanswered: each is already stored.
        assert [post_signed(port, body, secret) for body in resent] == [(200, "duplicate")] * 10
        starter.join()

        def all_stopped() -> bool:
            return all(state.live[m].recording_state == "stopped" for m in meetings)

        assert wait_until(all_stopped, timeout=60), worker.output()
        assert sandbox.wait_for_webhooks(30)
        deliveries = state.deliveries_snapshot("recording.started")

    store = Store(make_engine(url), Vault(TEST_SECRET_KEY))
    try:

        def all_done() -> bool:
            with store.transaction() as session:
                statuses = list(
                    session.scalars(
                        select(InboxEvent.status).where(InboxEvent.event == "recording.started")
                    )
                )
            return len(statuses) >= BURST and set(statuses) == {"done"}

        resent_keys = [hashlib.sha256(body).hexdigest() for body in resent]

        assert wait_until(all_done, timeout=30), store.inbox.count_by_status()
        assert worker.stop() == 0
        with store.transaction() as session:
            rows = list(
                session.scalars(
                    select(InboxEvent.id).where(InboxEvent.event == "recording.started")
                )
            )
            resent_rows = Counter(
                session.scalars(
                    select(InboxEvent.dedupe_key).where(InboxEvent.dedupe_key.in_(resent_keys))
                )
            )
            audited = Counter(
                target
                for target, entry_state in session.execute(
                    select(AuditEntry.target, AuditEntry.state).where(
                        AuditEntry.action == "recording.stop"
                    )
                )
                if entry_state is None
            )
            alerted = Counter(
                alert.details["meeting_id"]
                for alert in session.scalars(
                    select(Alert).where(Alert.category == "recording.started")
                )
            )
    finally:
        store.close()

    # The kill cost deliveries: some were refused and re-sent by Zoom.
    failed = [d for d in deliveries if not d.ok]
    assert failed, "the web process was killed while webhooks arrived"
    events_sent = {d.request_id for d in deliveries}
    answered_200 = {d.request_id for d in deliveries if d.ok}
    assert len(events_sent) == BURST
    assert answered_200 == events_sent  # every event was answered 200 in the end
    assert len(rows) == BURST  # one row per event: none lost, no re-send stored twice
    assert resent_rows == Counter(resent_keys)  # each re-sent body once
    assert audited == Counter({f"meeting:{m}": 1 for m in meetings})
    assert alerted == Counter({str(m): 1 for m in meetings})
