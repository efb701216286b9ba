"""The records Zoom keeps of a meeting today (issue #15), end to end through the Procfile's web
and worker processes (started by honcho, on SQLite) against the sandbox over HTTP: each of the
seven live events gets its reaction within seconds, audited and alerted with its guidance
sentence; and `zoomguard sweep` turns off AI Companion's auto-start on every meeting that had it.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.commands import assert_requests_follow_openapi, run_zoomguard, zoomguard_env
from support.net import free_port
from support.processes import (
    REPO_DIR,
    TEST_SECRET_KEY,
    ServiceProcess,
    service_env,
    wait_until,
)

from zoomguard.crypto import Vault
from zoomguard.rules import guidance_quotes as quotes
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.store import Store, make_engine
from zoomguard.store.models import Alert, AuditEntry, InboxEvent

COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}
REACTION_SECONDS = 10  # "within seconds", with room for a loaded 2-core machine


@pytest.fixture
def procfile_service(tmp_path: Path) -> Iterator[tuple[SandboxServer, Store, str]]:
    """The sandbox, and zoomguard's web and worker processes from the Procfile (honcho)."""
    honcho = shutil.which("honcho", path=str(Path(sys.executable).parent))
    if honcho is None:
        pytest.skip("honcho is not installed (pip install honcho; it is in the test extras)")
    database = f"sqlite:///{tmp_path / 'zoomguard.db'}"
    port = free_port()
    processes: list[ServiceProcess] = []
    with SandboxServer(SandboxConfig(webhook_time_scale=0.001)) as sandbox:
        dotenv = tmp_path / ".env"
        values = {
            **sandbox.env(),
            "ZOOMGUARD_DATABASE_URL": database,
            "ZOOMGUARD_SECRET_KEY": TEST_SECRET_KEY,
            "WEB_CONCURRENCY": "1",
        }
        dotenv.write_text("".join(f"{k}='{v}'\n" for k, v in values.items()))
        env = service_env(database)
        for key in ("ZOOMGUARD_DATABASE_URL", "ZOOMGUARD_SECRET_KEY"):
            env.pop(key)  # from the .env file only, as in a deployment
        procfile = ["-f", str(REPO_DIR / "Procfile"), "-e", str(dotenv), "-d", str(REPO_DIR)]
        release = ServiceProcess(
            [], env, tmp_path / "release.log", command=[honcho, "start", *procfile, "release"]
        )
        processes.append(release)
        assert release.proc.wait(60) == 0, release.output()
        store = Store(make_engine(database), Vault(TEST_SECRET_KEY))
        config = sandbox.config
        store.accounts.save_s2s(
            config.account_id, config.client_id, config.client_secret, api_url=sandbox.api_url
        )
        service = ServiceProcess(
            [],
            env,
            tmp_path / "honcho.log",
            command=[honcho, "start", *procfile, "-p", str(port), "web", "worker"],
        )
        processes.append(service)
        try:
            service.wait_for_output("worker started", timeout=30)
            service.wait_for_output("Serving on", timeout=30)  # waitress, the Procfile's web server
            yield sandbox, store, f"http://127.0.0.1:{port}/webhooks/zoom"
            assert "Traceback" not in service.output(), service.output()
        finally:
            store.close()
            for process in processes:
                process.close()


def within_seconds(condition: Callable[[], Any]) -> None:
    assert wait_until(condition, timeout=REACTION_SECONDS, interval=0.05)


def audit_actions(store: Store) -> list[tuple[str, str, bool | None]]:
    with store.transaction() as session:
        return [
            (a.action, a.target, a.confirmed)
            for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def alerts(store: Store) -> list[tuple[str, str, dict[str, Any]]]:
    with store.transaction() as session:
        return [
            (a.category, a.delivery, dict(a.details))
            for a in session.scalars(select(Alert).order_by(Alert.id))
        ]


def inbox_done(store: Store, event: str) -> bool:
    with store.transaction() as session:
        statuses = list(session.scalars(select(InboxEvent.status).where(InboxEvent.event == event)))
    return bool(statuses) and all(s == "done" for s in statuses)


def test_each_record_event_gets_its_reaction_within_seconds(
    procfile_service: tuple[SandboxServer, Store, str],
) -> None:
    sandbox, store, receiver_url = procfile_service
    state = sandbox.state
    host = state.add_user("host@agency.example")
    meeting_ids = [
        state.add_meeting(host, topic=f"Planning {n}", settings=COMPLIANT)["id"] for n in range(7)
    ]
    ai, summary, stream, resumed, recovered, transcript, chat = meeting_ids

    # Before zoomguard listens: what happened earlier, whose events it does not receive.
    state.start_recording(resumed)
    assert state.pause_recording(resumed)
    old = state.complete_recording(recovered)
    state.remove_recording(old, action="trash", operator_id=None)
    kept = state.complete_recording(transcript)
    assert sandbox.wait_for_webhooks(10)
    assert state.deliveries_snapshot() == []
    sandbox.set_webhook_url(receiver_url)

    assert state.start_ai_companion(ai)
    within_seconds(lambda: state.live[ai].ai_companion == "disabled")

    written = state.complete_summary(summary)
    within_seconds(lambda: state.summary_for(written["meeting_uuid"]) is None)

    state.start_live_stream(stream)
    within_seconds(lambda: state.live[stream].live_stream_service is None)

    assert state.resume_recording(resumed)
    within_seconds(lambda: state.live[resumed].recording_state == "stopped")

    assert state.recover_recording(old.uuid) is not None
    within_seconds(lambda: state.recordings[old.uuid].trashed)

    state.complete_transcript(transcript)
    within_seconds(lambda: state.recordings[kept.uuid].trashed)

    sent = state.send_chat_file(chat, "intake form.pdf", "pdf")
    within_seconds(lambda: inbox_done(store, "meeting.chat_message_file_sent"))
    within_seconds(lambda: len(alerts(store)) >= 7)

    actions = audit_actions(store)
    assert ("ai_companion.stop", f"meeting:{ai}", True) in actions
    assert ("meeting_summary.delete", f"meeting:{summary}", True) in actions
    assert ("live_stream.stop", f"meeting:{stream}", True) in actions
    assert ("recording.stop", f"meeting:{resumed}", True) in actions
    assert ("recording.trash", f"meeting:{recovered}", True) in actions
    assert ("recording.trash", f"meeting:{transcript}", True) in actions
    assert ("chat_file.reported", f"meeting:{chat}", None) in actions

    by_meeting = {details["meeting_id"]: (cat, how, details) for cat, how, details in alerts(store)}
    expected = {
        ai: ("meeting.ai_companion_started", quotes.NOT_RECORDED),
        summary: ("meeting.summary_completed", quotes.NOT_RECORDED),
        stream: ("meeting.live_streaming_started", quotes.NOT_RECORDED),
        resumed: ("recording.started", quotes.NOT_RECORDED),
        recovered: ("recording.completed", quotes.NOT_RECORDED),
        transcript: ("recording.completed", quotes.NOT_RECORDED),
        chat: ("meeting.chat_message_file_sent", quotes.NO_FILES_TRANSFERRED),
    }
    for meeting_id, (category, guidance) in expected.items():
        got_category, delivery, details = by_meeting[str(meeting_id)]
        assert (got_category, delivery, details["guidance"]) == (category, "immediate", guidance)
    chat_alert = by_meeting[str(chat)][2]
    assert chat_alert["host_email"] == "host@agency.example"
    assert "intake form.pdf (pdf)" in json.dumps(chat_alert)
    assert sent["download_url"] not in json.dumps(alerts(store))  # never the file's link
    assert assert_requests_follow_openapi(sandbox) >= 7


def test_a_sweep_turns_off_ai_companion_auto_start_on_every_meeting(tmp_path: Path) -> None:
    with SandboxServer(SandboxConfig()) as sandbox:
        state = sandbox.state
        host = state.add_user("host@agency.example")
        summary_on = {**COMPLIANT, "auto_start_meeting_summary": True}
        both_on = {**summary_on, "auto_start_ai_companion_questions": True}
        with_ai = [
            state.add_meeting(host, topic="Summary on", settings=summary_on)["id"],
            state.add_meeting(host, topic="Both on", settings=both_on)["id"],
            state.add_meeting(
                host,
                topic="Questions on",
                settings={**COMPLIANT, "auto_start_ai_companion_questions": True},
            )["id"],
        ]
        untouched = state.add_meeting(host, topic="Compliant", settings=COMPLIANT)["id"]
        env = zoomguard_env(sandbox, tmp_path / "zoomguard.db")

        result = run_zoomguard(["sweep"], env)

        assert result.returncode == 0, result.stderr
        patches = [
            r.meeting_id
            for r in state.request_log()
            if r.method == "PATCH" and r.path.startswith("/v2/meetings/")
        ]
        assert sorted(patches) == sorted(str(m) for m in with_ai)  # one PATCH each
        assert str(untouched) not in patches
        for meeting_id in with_ai:
            settings = state.meetings[meeting_id]["settings"]
            assert settings["auto_start_meeting_summary"] is False
            assert settings["auto_start_ai_companion_questions"] is False
        assert assert_requests_follow_openapi(sandbox) > 4
