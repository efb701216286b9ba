"""PostgreSQL stopped for 20 s under the running service (issue 16).

The Procfile's web process, a ``zoomguard worker`` and a ``zoomguard clock`` run on a PostgreSQL
server of this test's own (not the session's, which other tests use). The server is stopped
(``pg_ctl stop -m fast``: connections cut) while the worker is stopping a recording (Zoom is
slow: the stop reaches Zoom during the outage, its record cannot be written) and, while it is
away, a host starts a cloud recording and another opens a meeting up: the sandbox Zoom sends
``recording.started`` and ``meeting.updated``, signed. Then:

- while it is down, the receiver answers those webhooks 503 (never 200: Zoom re-sends a 5xx)
  and /healthz answers 503; no process exits;
- 20 s later the server is started again; Zoom's re-sends (scaled to 24 s after the first try,
  Zoom's is 5 minutes) are stored, and the worker, which retried the database with back-off,
  handles each event once (the stop it had in hand is given back when the database returns and
  run again, settling the intent it wrote): the recordings are stopped and the meeting fixed,
  each change audited once and alerted once, and each alert email reaches the SMTP server once;
- /healthz answers 200 again, and a following ``zoomguard sweep`` finds nothing left to fix.
"""

from __future__ import annotations

import gc
import signal
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from support.net import free_port
from support.postgres import ThrowawayPostgres, find_server_binaries
from support.processes import (
    TEST_SECRET_KEY,
    ServiceProcess,
    http_get,
    procfile_command,
    service_env,
    wait_until,
)
from support.sandbox import SANDBOX_HOST_DEFAULT
from support.smtp import SmtpTestServer

from zoomguard.crypto import Vault
from zoomguard.rules import policy
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.store import Store, make_engine, upgrade
from zoomguard.store.models import Alert, AuditEntry, Email, InboxEvent

COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}
OUTAGE_SECONDS = 20.0
# Zoom re-sends a failed delivery after 5, 20 and 60 minutes; scaled to 24, 96 and 288 s, so
# its first re-send comes after the database is back, as a real 20 s outage's would.
TIME_SCALE = 0.08


@pytest.fixture
def postgres() -> Iterator[ThrowawayPostgres]:
    binaries = find_server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
    server = ThrowawayPostgres(binaries)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.close()


def close_after_outage(store: Store) -> None:
    """Close the test's own store, and collect here what the outage left behind: psycopg
    objects of connections the stopped server dropped are closed only by the garbage
    collector, which would otherwise report them (ResourceWarning) during a later test."""
    store.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.mark.postgres
def test_postgres_down_20_s_loses_nothing_and_does_everything_once(
    postgres: ThrowawayPostgres,
    processes: list[ServiceProcess],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    url = postgres.start()
    upgrade(url)
    config = SandboxConfig(webhook_time_scale=TIME_SCALE)
    with SandboxServer(config) as sandbox, SmtpTestServer() as smtp:
        port = free_port()
        env = service_env(
            url,
            {
                **sandbox.env(),
                "PORT": str(port),
                "ZOOMGUARD_SMTP_URL": smtp.url,
                "ZOOMGUARD_OUTBOX_INTERVAL_SECONDS": "1",
                "ZOOMGUARD_ALERT_DIGEST_SECONDS": "1",
            },
        )
        web = ServiceProcess([], env, tmp_path / "web.log", command=procfile_command("web", env))
        worker = ServiceProcess(["worker", "--poll-interval", "0.05"], env, tmp_path / "worker.log")
        clock = ServiceProcess(["clock"], env, tmp_path / "clock.log")
        service = [web, worker, clock]
        processes.extend(service)
        healthz = f"http://127.0.0.1:{port}/healthz"
        assert wait_until(lambda: http_get(healthz)[0] == 200, timeout=30), web.output()
        worker.wait_for_output("worker started")
        clock.wait_for_output("clock started")
        # The clock's first sweep (the account was never swept) finds nothing to fix.
        store = Store(make_engine(url), Vault(TEST_SECRET_KEY))
        # Closed even when an assertion fails: a pooled connection left to the garbage
        # collector would surface as a ResourceWarning in whichever test runs next.
        request.addfinalizer(lambda: close_after_outage(store))
        assert wait_until(lambda: store.sweeps.last(status="completed"), timeout=30)

        state = sandbox.state
        host = state.add_user("host@agency.example")
        recorded = state.add_meeting(host, topic="Case review", settings=COMPLIANT)["id"]
        opened = state.add_meeting(host, topic="Planning", settings=COMPLIANT)["id"]
        sandbox.set_webhook_url(f"http://127.0.0.1:{port}/webhooks/zoom")

        # A recording whose stop is in the worker's hands when the database goes: Zoom is slow,
        # so the stop reaches Zoom during the outage, and its record cannot be written.
        in_hand = state.add_meeting(host, topic="Intake", settings=COMPLIANT)["id"]
        sandbox.config.latency_ms = 5000
        state.start_recording(in_hand)

        def stop_on_its_way() -> bool:  # the intent is written just before the call to Zoom
            with store.transaction() as session:
                return "intent" in set(session.scalars(select(AuditEntry.state)))

        assert wait_until(stop_on_its_way, timeout=20, interval=0.02), worker.output()
        postgres.pause("fast")
        stopped_at = time.monotonic()
        sandbox.config.latency_ms = 0  # the request in flight still takes its 5 s
        assert state.live[in_hand].recording_state == "recording"
        state.start_recording(recorded)
        state.update_meeting(opened, {"settings": {"join_before_host": True}})

        def tried(event: str, meeting_id: int) -> list[int | None]:
            return [
                d.status for d in state.deliveries_snapshot(event) if d.meeting_id == meeting_id
            ]

        def both_tried() -> bool:
            return bool(tried("recording.started", recorded) and tried("meeting.updated", opened))

        assert wait_until(both_tried, timeout=10)
        assert tried("recording.started", recorded) == [503]
        assert tried("meeting.updated", opened) == [503]
        assert http_get(healthz)[0] == 503
        while time.monotonic() - stopped_at < OUTAGE_SECONDS:
            assert [p.proc.poll() for p in service] == [None, None, None]
            time.sleep(0.5)
        postgres.resume()
        outage = time.monotonic() - stopped_at

        def stopped() -> bool:
            return all(state.live[m].recording_state == "stopped" for m in (in_hand, recorded))

        assert wait_until(stopped, 60), worker.output()

        def fixed() -> bool:
            meeting = state.meetings[opened]
            # No waiting-room options: the host's setting decides (the sandbox's: everyone waits).
            evaluation = policy.evaluate(
                meeting, policy.default_profile(), today=date.today(), host=SANDBOX_HOST_DEFAULT
            )
            return evaluation.compliant

        assert wait_until(fixed, timeout=30), worker.output()
        assert wait_until(lambda: http_get(healthz)[0] == 200, timeout=30), http_get(healthz)

        def all_settled() -> bool:
            with store.transaction() as session:
                events = set(session.scalars(select(InboxEvent.status)))
                emails = set(session.scalars(select(Email.status)))
                unmailed = session.scalars(select(Alert.id).where(Alert.email_id.is_(None)))
                return events <= {"done", "ignored"} and emails == {"sent"} and not unmailed.all()

        assert wait_until(all_settled, timeout=30), store.inbox.count_by_status()
        assert sandbox.wait_for_webhooks(10, include_retries=False)
        assert [p.proc.poll() for p in service] == [None, None, None]  # nobody died

        sweep = ServiceProcess(["sweep"], env, tmp_path / "sweep.log")
        processes.append(sweep)
        assert sweep.proc.wait(60) == 0, sweep.output()
        last = store.sweeps.last(status="completed")
        assert last is not None
        assert (last.counts.noncompliant, last.counts.patches) == (0, 0)

        with store.transaction() as session:
            stored = Counter(
                session.scalars(
                    select(InboxEvent.event).where(
                        InboxEvent.event.in_(("recording.started", "meeting.updated"))
                    )
                )
            )
            audited = Counter(
                (entry.action, entry.target)
                for entry in session.scalars(select(AuditEntry).where(AuditEntry.state.is_(None)))
            )
            alerts = Counter(
                (alert.category, alert.details.get("meeting_id"))
                for alert in session.scalars(select(Alert))
            )
            message_ids = list(session.scalars(select(Email.message_id)))
        store.close()
        received = Counter(str(m["Message-ID"]).strip() for m in smtp.messages)
        # waitress-serve keeps SIGTERM's default action (the process ends at once); zoomguard's
        # own processes stop cleanly.
        assert [p.stop() for p in service] in ([0, 0, 0], [-signal.SIGTERM, 0, 0])

    assert outage >= OUTAGE_SECONDS
    # Each event was re-sent after the outage and stored once (zoomguard's own PATCH of the
    # opened meeting comes back as one more meeting.updated, compliant, which changes nothing).
    assert stored["recording.started"] == 2
    assert 1 <= stored["meeting.updated"] <= 2
    assert audited == Counter(
        {
            ("recording.stop", f"meeting:{in_hand}"): 1,
            ("recording.stop", f"meeting:{recorded}"): 1,
            ("meeting.update", f"meeting:{opened}"): 1,
        }
    )
    assert alerts[("recording.started", str(in_hand))] == 1
    assert alerts[("recording.started", str(recorded))] == 1
    assert sum(n for (category, meeting), n in alerts.items() if meeting == str(opened)) == 1
    assert received == Counter({message_id: 1 for message_id in message_ids})
