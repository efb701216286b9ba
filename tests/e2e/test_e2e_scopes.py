"""Zoom as it really is (issue #14), end to end over HTTP against the strict sandbox: scopes,
environment-only deployments, unknown accounts and French answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from support.commands import run_zoomguard, zoomguard_env
from support.processes import ServiceProcess, service_env, wait_until
from support.store import TEST_SECRET_KEY
from werkzeug.serving import make_server

from zoomguard.config import Settings
from zoomguard.runtime.health import check_health
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.sandbox.config import DEFAULT_SCOPES
from zoomguard.store import Store, upgrade
from zoomguard.store.models import Alert, InboxEvent
from zoomguard.webhooks import create_app
from zoomguard.zoom import scopes

COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}
OPEN = {"waiting_room": False, "join_before_host": True, "auto_recording": "none"}


def without(scope: str) -> str:
    return " ".join(s for s in DEFAULT_SCOPES.split() if s != scope)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_an_app_without_the_scope_to_list_meetings_is_refused_and_sweeps_incomplete(
    tmp_path: Path,
) -> None:
    config = SandboxConfig(scopes=without(scopes.LIST_MEETINGS))
    with SandboxServer(config) as sandbox:
        host = sandbox.state.add_user("host@agency.example")
        sandbox.state.add_meeting(host, topic="Intake", settings=OPEN)
        database = tmp_path / "zoomguard.db"
        env = zoomguard_env(sandbox, database)

        refused = run_zoomguard(["connect"], env)
        assert refused.returncode == 1
        line = one_line(refused.stderr)
        assert f"{scopes.LIST_MEETINGS} (for sweep)" in line
        settings = Settings.from_env(env)
        store = Store.open(settings)
        try:
            assert store.accounts.list_all(active_only=False) == []  # nothing stored

            sweep = run_zoomguard(["sweep"], env)
            assert sweep.returncode == 1
            line = one_line(sweep.stderr)
            assert "incomplete" in line
            assert f"lacks the scope {scopes.LIST_MEETINGS}" in line
            assert "incomplete" in sweep.stdout  # the summary's status
            last = store.sweeps.last()
            assert last is not None
            assert last.status == "incomplete"
            # The officer is told at once, and /healthz shows it.
            with store.transaction() as session:
                alerts = list(session.scalars(select(Alert)))
            assert [(a.category, a.delivery) for a in alerts] == [("sweep.incomplete", "immediate")]
            coverage = check_health(store, settings).check("sweep_coverage")
            assert coverage is not None
            assert not coverage.ok
            assert scopes.LIST_MEETINGS in coverage.detail

            # Granted the scope, the app connects and the sweep completes.
            sandbox.config.scopes = DEFAULT_SCOPES
            assert run_zoomguard(["connect"], env).returncode == 0
            again = run_zoomguard(["sweep"], env)
            assert again.returncode == 0, again.stderr
            done = store.sweeps.last()
            assert done is not None
            assert done.status == "completed"
            assert done.counts.meetings == 1
        finally:
            store.close()


def test_a_sweep_against_a_french_account_decides_on_codes(tmp_path: Path) -> None:
    config = SandboxConfig(language="fr", scopes=without(scopes.READ_MEETING))
    with SandboxServer(config) as sandbox:
        host = sandbox.state.add_user("host@agency.example")
        for number in range(3):
            sandbox.state.add_meeting(host, topic=f"Réunion {number}", settings=OPEN)
        env = zoomguard_env(sandbox, tmp_path / "zoomguard.db")
        sweep = run_zoomguard(["sweep"], env)
        assert sweep.returncode == 1
        line = one_line(sweep.stderr)
        cause = f"cannot read meetings: the Zoom app lacks the scope {scopes.READ_MEETING}"
        assert f"could not read 3 of 3 meetings ({cause})" in line
        refusals = [r for r in sandbox.state.request_log() if r.status == 400]
        assert len(refusals) == 3  # each meeting was tried once: the 4711 was not retried


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[SandboxServer, Settings, Store]]:
    """The sandbox, a migrated database and the webhook receiver (in this process) that the
    sandbox delivers to; no account is registered."""
    with SandboxServer(SandboxConfig(webhook_time_scale=0.001)) as sandbox:
        env = dict(sandbox.env())
        env["ZOOMGUARD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'zg.db'}"
        env["ZOOMGUARD_SECRET_KEY"] = TEST_SECRET_KEY
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        store = Store.open(settings)
        server = make_server("127.0.0.1", 0, create_app(settings, store), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        sandbox.set_webhook_url(f"http://127.0.0.1:{server.server_port}/webhooks/zoom")
        try:
            yield sandbox, settings, store
        finally:
            server.shutdown()
            thread.join(5)
            store.close()


def test_with_only_the_environment_a_recording_one_second_after_start_is_stopped(
    receiver: tuple[SandboxServer, Settings, Store], tmp_path: Path
) -> None:
    sandbox, settings, store = receiver
    env = service_env(settings.database_url, sandbox.env())
    state = sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(host, topic="Case conference", settings=COMPLIANT)
    state.start_meeting(meeting["id"])
    worker = ServiceProcess(["worker", "--poll-interval", "0.1"], env, tmp_path / "worker.log")
    try:
        time.sleep(1.0)
        state.start_recording(meeting["id"])
        stopped = wait_until(
            lambda: [s for s in state.recording_stops if int(s.meeting_id) == meeting["id"]],
            timeout=30,
        )
        assert stopped, worker.output()
        assert stopped[0].was_recording
        assert store.sweeps.last() is None  # registered at start, not by a sweep
    finally:
        worker.close()


def test_an_event_for_an_unknown_account_is_kept_as_such(
    receiver: tuple[SandboxServer, Settings, Store],
) -> None:
    sandbox, settings, store = receiver
    from zoomguard.runtime.worker import drain_once
    from zoomguard.service.events import EventDispatcher

    state = sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(host, topic="Case conference", settings=COMPLIANT)
    state.start_meeting(meeting["id"])
    state.start_recording(meeting["id"])
    assert sandbox.wait_for_webhooks(10)
    handler = EventDispatcher(settings, store)
    try:
        assert drain_once(store, handler, worker_id="test") >= 1
    finally:
        handler.close()
    with store.transaction() as session:
        statuses = {row.event: row.status for row in session.scalars(select(InboxEvent))}
    assert statuses["recording.started"] == "unknown_account"
    unknown = check_health(store, settings).check("unknown_accounts")
    assert unknown is not None
    assert unknown.values["count"] >= 1
    report = run_zoomguard(["report"], service_env(settings.database_url))
    assert report.returncode == 0, report.stderr
    assert "Events for an unknown Zoom account" in report.stdout
    assert "recording.started" in report.stdout


def test_the_web_process_registers_the_environment_s_account(
    receiver: tuple[SandboxServer, Settings, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, settings, store = receiver
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ZOOMGUARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ZOOMGUARD_SECRET_KEY", TEST_SECRET_KEY)
    assert store.accounts.list_all() == []
    create_app()  # what gunicorn 'zoomguard.webhooks:create_app()' runs
    assert [a.zoom_account_id for a in store.accounts.list_all()] == [sandbox.config.account_id]


def test_a_sweep_lists_every_user_first_in_the_largest_pages(tmp_path: Path) -> None:
    with SandboxServer(SandboxConfig(users=4, meetings=12, seed=3)) as sandbox:
        env = zoomguard_env(sandbox, tmp_path / "zoomguard.db")
        sweep = run_zoomguard(["sweep", "--dry-run"], env)
        assert sweep.returncode == 0, sweep.stderr
        listings = [
            (r.path, r.query)
            for r in sandbox.state.request_log()
            if r.method == "GET" and (r.path == "/v2/users" or r.path.endswith("/meetings"))
        ]
    user_pages = [i for i, (path, _query) in enumerate(listings) if path == "/v2/users"]
    meeting_pages = [i for i, (path, _query) in enumerate(listings) if path != "/v2/users"]
    assert user_pages
    assert meeting_pages
    assert max(user_pages) < min(meeting_pages)  # no users' page token held meanwhile
    assert all("page_size=2000" in listings[i][1] for i in user_pages)
    assert all("page_size=300" in listings[i][1] for i in meeting_pages)


def test_one_user_s_meetings_unlisted_leaves_the_sweep_incomplete_not_stopped(
    tmp_path: Path,
) -> None:
    from zoomguard.service import Sweeper, client_for_account, env_account, load_profile

    with SandboxServer(SandboxConfig()) as sandbox:
        state = sandbox.state
        hosts = [state.add_user(f"host{n}@agency.example") for n in range(3)]
        for host in hosts:
            state.add_meeting(host, topic="Intake", settings=OPEN)
        state.fail_once("GET", f"/v2/users/{hosts[1]['id']}/meetings", status=400, code=300)
        env = zoomguard_env(sandbox, tmp_path / "zoomguard.db")
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        store = Store.open(settings)
        try:
            account = env_account(settings, store)
            with client_for_account(settings, store, account) as client:
                result = Sweeper(
                    settings, store, client, account, profile=load_profile(settings)
                ).run()
        finally:
            store.close()
    assert result.status == "incomplete"
    assert result.error == "cannot list meetings: Zoom answered HTTP 400, code 300"
    assert result.counts.meetings == 2  # the other users' meetings were still checked
    assert result.counts.fixed >= 2
