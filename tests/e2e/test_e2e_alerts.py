"""A sweep with violations, through to the privacy officer's mailbox: `zoomguard sweep` runs as a
subprocess against the sandbox, with a real SMTP server on loopback that refuses at first and then
recovers (issue #5's "done when")."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from support.commands import TEST_SECRET_KEY, run_zoomguard, zoomguard_env
from support.smtp import ScriptedHandler, SmtpTestServer

from zoomguard.config import Settings
from zoomguard.notify import flush_outbox, sender_from_settings
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.service import utcnow
from zoomguard.store import Store
from zoomguard.store.models import Email

COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}
SIN = "046 454 286"


def test_one_digest_and_the_immediate_alerts_each_delivered_once(tmp_path: Path) -> None:
    handler = ScriptedHandler(refuse_data=2)  # the mail server refuses twice, then recovers
    with SandboxServer(SandboxConfig()) as sandbox, SmtpTestServer(handler) as smtp:
        state = sandbox.state
        alice = state.add_user("alice@agency.example")
        bob = state.add_user("bob@agency.example")
        fixable = [
            state.add_meeting(
                alice, topic=f"Planning {i}", settings={**COMPLIANT, "waiting_room": False}
            )
            for i in range(3)
        ]
        state.add_meeting(bob, topic=f"Intake for SIN {SIN}", settings=COMPLIANT)
        # Each host may be updated three times a day here: Bob's fourth noncompliant meeting hits
        # the cap, which the privacy officer must hear about at once.
        for topic in ("Budget", "Review", "Training", "Outreach"):
            state.add_meeting(bob, topic=topic, settings={**COMPLIANT, "join_before_host": True})
        env = zoomguard_env(
            sandbox,
            tmp_path / "zg.db",
            ZOOMGUARD_SMTP_URL=smtp.url,
            ZOOMGUARD_ALERT_TO="privacy.officer@agency.example",
            ZOOMGUARD_ALERT_FROM="zoomguard@agency.example",
            ZOOMGUARD_DAILY_UPDATE_LIMIT="3",
            ZOOMGUARD_DAILY_UPDATE_RESERVE="0",
        )

        result = run_zoomguard(["sweep"], env)
        assert result.returncode == 0, result.stderr
        assert handler.refused  # the server refused during the sweep's own delivery attempt

        settings = Settings.from_env({**env, "ZOOMGUARD_SECRET_KEY": TEST_SECRET_KEY})
        store = Store.open(settings)
        sender = sender_from_settings(settings)
        later = utcnow()
        for _ in range(6):  # the outbox retries with backoff until the server accepts
            later += timedelta(hours=2)
            flush_outbox(store, sender, later)
        with store.transaction() as session:
            emails = list(session.scalars(select(Email)))
        assert {e.status for e in emails} == {"sent"}
        kinds = sorted(e.kind for e in emails)
        assert kinds.count("digest") == 1
        assert kinds.count("immediate") == 1  # the update cap
        assert set(kinds) == {"digest", "immediate"}

        messages = [r.message for r in handler.received]
        assert len(messages) == len(emails)  # each delivered exactly once
        ids = [m["Message-ID"] for m in messages]
        assert len(set(ids)) == len(ids)
        assert set(ids) == {e.message_id for e in emails}

        digest = next(m for m in messages if "Digest" in str(m["Subject"]))
        text = digest.get_body(("plain",))
        html = digest.get_body(("html",))
        assert text is not None
        assert html is not None
        for part in (text.get_content(), html.get_content()):
            assert SIN not in part  # redaction holds in both parts
            assert "[redacted]" in part
            assert "Each participant is identified" in part  # the guidance sentence
            for m in fixable:
                assert str(m["id"]) in part
        immediate = [m for m in messages if m is not digest]
        assert any("limit" in str(m.get_body(("plain",)).get_content()).lower() for m in immediate)
        for raw in (r.raw for r in handler.received):
            for meeting in state.meetings.values():
                if meeting.get("password"):
                    assert meeting["password"].encode() not in raw  # never a passcode

        assert handler.refused == ["DATA", "DATA"]
        # Flushing again sends nothing more.
        flush_outbox(store, sender, later + timedelta(hours=2))
        assert len(handler.received) == len(emails)
        store.close()


def test_a_started_recording_reaches_the_officer_within_seconds(tmp_path: Path) -> None:
    """No clock process runs here: the worker itself sends the immediate alert."""
    import subprocess
    import sys
    import threading
    import time

    from werkzeug.serving import make_server

    from zoomguard.store import upgrade
    from zoomguard.webhooks import create_app

    with SandboxServer(SandboxConfig()) as sandbox, SmtpTestServer() as smtp:
        env = zoomguard_env(
            sandbox,
            tmp_path / "zg.db",
            ZOOMGUARD_SMTP_URL=smtp.url,
            ZOOMGUARD_ALERT_TO="privacy.officer@agency.example",
        )
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        store = Store.open(settings)
        assert settings.zoom_account_id
        assert settings.zoom_client_id
        assert settings.zoom_client_secret
        store.accounts.save_s2s(
            settings.zoom_account_id, settings.zoom_client_id, settings.zoom_client_secret
        )
        server = make_server("127.0.0.1", 0, create_app(settings, store), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        sandbox.set_webhook_url(f"http://127.0.0.1:{server.server_port}/webhooks/zoom")
        worker = subprocess.Popen(
            [sys.executable, "-m", "zoomguard", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            state = sandbox.state
            host = state.add_user("host@agency.example")
            meeting = state.add_meeting(host, topic="Case conference", settings=COMPLIANT)
            state.start_meeting(meeting["id"])
            started = time.monotonic()
            state.start_recording(meeting["id"])
            while not smtp.handler.received and time.monotonic() - started < 20:
                time.sleep(0.05)
            assert smtp.handler.received, "no alert email within 20 s"
            subject = str(smtp.handler.received[0].message["Subject"])
            assert "record" in subject.lower()
            assert state.live[meeting["id"]].recording_state == "stopped"
        finally:
            worker.terminate()
            _, err = worker.communicate(timeout=20)
            server.shutdown()
            store.close()
        assert worker.returncode == 0, err
        assert "Traceback" not in err
