"""The SMTP server away, then shedding load with 421, while alerts are produced (issue 16).

Real ``zoomguard worker`` and ``zoomguard clock`` processes (the worker sends urgent alerts at
once, the clock flushes the outbox every second) and a real SMTP server on a fixed port:

1. the server is down (its port closed) while recordings start and are stopped: their alerts
   wait in the outbox, each failed flush pushing the queue back;
2. the server comes back answering every DATA with 421 while more alerts arrive: a 421 ends
   the flush, so the server sees one refused message per back-off, not one per email;
3. the server accepts again: every alert email is delivered exactly once (counted by
   Message-ID at the server), none lost, none twice, and both processes keep running.

Time is scaled: zoomguard's first back-off is 60 s and doubles; here
``ZOOMGUARD_OUTBOX_RETRY_SECONDS=1`` and the server is down for about 3 s, then refusing for 3 s,
so the outage spans more back-offs (1, 2, 4 s) than a 60 s outage at 60 s does, in a tenth of
the time.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from support.net import free_port
from support.processes import TEST_SECRET_KEY, ServiceProcess, service_env, wait_until
from support.smtp import ScriptedHandler, SmtpTestServer

from zoomguard.crypto import Vault
from zoomguard.sandbox import SandboxServer
from zoomguard.store import Store, make_engine, upgrade
from zoomguard.store.models import Alert, Email

COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}
OFFICER = "privacy.officer@agency.example"
SERVICE_UNAVAILABLE = "421 4.3.2 Service shutting down"


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.close()


def recordings_started(sandbox: SandboxServer, store: Store, count: int, label: str) -> list[int]:
    """``count`` hosts start a cloud recording; their recording.started events reach the inbox
    (as the receiver stores them)."""
    state = sandbox.state
    host = state.add_user(f"{label}@agency.example")
    meetings: list[int] = []
    for n in range(count):
        meeting_id = state.add_meeting(host, topic=f"{label} {n}", settings=COMPLIANT)["id"]
        state.start_recording(meeting_id)
        body = {
            "event": "recording.started",
            "payload": {
                "account_id": sandbox.config.account_id,
                "object": {"id": meeting_id, "uuid": f"uuid-{meeting_id}", "topic": "Review"},
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
        meetings.append(meeting_id)
    return meetings


def outbox(store: Store) -> list[tuple[str, str, int]]:
    """(message id, status, attempts) of every email in the outbox."""
    with store.transaction() as session:
        return [
            (row.message_id, row.status, row.attempts)
            for row in session.scalars(select(Email).order_by(Email.id))
        ]


def test_alerts_produced_while_smtp_is_down_are_each_delivered_once(
    sandbox: SandboxServer, processes: list[ServiceProcess], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'smtp-down.db'}"
    upgrade(url)
    store = Store(make_engine(url), Vault(TEST_SECRET_KEY))
    port = free_port()  # nothing listens on it yet: the server is down
    env = service_env(
        url,
        {
            **sandbox.env(),
            "ZOOMGUARD_SMTP_URL": f"smtp://127.0.0.1:{port}?timeout=5",
            "ZOOMGUARD_ALERT_TO": OFFICER,
            "ZOOMGUARD_OUTBOX_INTERVAL_SECONDS": "1",
            "ZOOMGUARD_OUTBOX_RETRY_SECONDS": "1",
        },
    )
    worker = ServiceProcess(["worker", "--poll-interval", "0.05"], env, tmp_path / "worker.log")
    clock = ServiceProcess(["clock"], env, tmp_path / "clock.log")
    processes.extend([worker, clock])
    server: SmtpTestServer | None = None
    try:
        worker.wait_for_output("worker started")
        clock.wait_for_output("clock started")

        # 1. Down: alerts are made, and wait.
        down_at = time.monotonic()
        meetings = recordings_started(sandbox, store, 6, "down")

        def tried_and_failed(emails: int) -> bool:
            rows = outbox(store)
            return len(rows) >= emails and all(s == "pending" for _m, s, _a in rows)

        assert wait_until(lambda: tried_and_failed(6), timeout=20), worker.output()
        assert wait_until(lambda: max(a for _m, _s, a in outbox(store)) >= 2, timeout=10)
        while time.monotonic() - down_at < 3:
            time.sleep(0.1)

        # 2. Back, but answering 421: more alerts arrive meanwhile.
        handler = ScriptedHandler(refuse_data=10**6, refuse_code=SERVICE_UNAVAILABLE)
        server = SmtpTestServer(handler, port=port).start()
        meetings += recordings_started(sandbox, store, 4, "refused")
        assert wait_until(lambda: len(outbox(store)) >= 10, timeout=20), worker.output()
        time.sleep(3.0)  # three clock flushes, and the worker's own tries
        refused = len(handler.refused)
        assert server.received == []

        # 3. Accepting again.
        handler.refuse_data = 0

        def all_sent() -> bool:
            rows = outbox(store)
            return bool(rows) and all(s == "sent" for _m, s, _a in rows)

        assert wait_until(all_sent, timeout=30), outbox(store)
        time.sleep(2.0)  # two more flushes: nothing is sent again
        received = Counter(str(m["Message-ID"]).strip() for m in server.messages)
        assert worker.proc.poll() is None
        assert clock.proc.poll() is None
        assert worker.stop() == 0
        assert clock.stop() == 0
    finally:
        if server is not None:
            server.stop()

    rows = outbox(store)
    with store.transaction() as session:
        alerted = Counter(
            alert.details["meeting_id"]
            for alert in session.scalars(select(Alert).where(Alert.category == "recording.started"))
        )
    store.close()
    assert alerted == Counter({str(m): 1 for m in meetings})
    assert received == Counter({message_id: 1 for message_id, _s, _a in rows})  # exactly once
    assert all(m["To"] == OFFICER for m in server.messages)
    # 10 emails were due while the server answered 421: a 421 (or a refused connection) ends
    # the flush, so no flush of the clock failed more than one email, and the server saw fewer
    # tries than there were emails, rather than one per email per flush.
    failed_per_flush = [int(n) for n in re.findall(r"alerts: .* (\d+) failed", clock.output())]
    assert failed_per_flush, clock.output()
    assert max(failed_per_flush) <= 1
    assert 1 <= refused < 10, refused
