"""`zoomguard sweep` fixes webinars against the sandbox over HTTP (issue #15, webinars bullet)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from support.commands import assert_requests_follow_openapi, run_zoomguard, zoomguard_env

from zoomguard.rules import policy
from zoomguard.sandbox import SandboxConfig, SandboxServer

COMPLIANT_MEETING = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}


def patched(server: SandboxServer, prefix: str, since: int = 0) -> list[str]:
    return [
        r.path.removeprefix(prefix)
        for r in server.state.request_log(since)
        if r.method == "PATCH" and r.path.startswith(prefix)
    ]


def webinar_findings(server: SandboxServer, webinar_id: int) -> set[str]:
    webinar = server.state.webinars[webinar_id]
    evaluation = policy.evaluate_webinar(webinar, policy.default_profile(), today=date.today())
    return {f.rule_id for f in evaluation.findings}


def test_a_sweep_fixes_every_noncompliant_webinar_and_no_compliant_one(tmp_path: Path) -> None:
    with SandboxServer(SandboxConfig()) as server:
        state = server.state
        alice = state.add_user("alice@agency.example")
        bob = state.add_user("bob@agency.example")
        state.add_meeting(alice, topic="Team check-in", settings=COMPLIANT_MEETING)
        ids: dict[str, Any] = {
            "compliant": state.add_webinar(alice, topic="Town hall")["id"],
            "no_passcode": state.add_webinar(alice, topic="Open house", password="")["id"],
            "recorded_on_demand": state.add_webinar(
                bob,
                topic="Training",
                type=9,
                settings={"auto_recording": "cloud", "on_demand": True},
            )["id"],
        }
        compliant_before = json.dumps(state.webinars[ids["compliant"]], sort_keys=True)
        env = zoomguard_env(server, tmp_path / "zoomguard.db")

        result = run_zoomguard(["sweep"], env)

        assert result.returncode == 0, result.stderr
        assert "webinars checked" in result.stdout
        assert sorted(patched(server, "/v2/webinars/")) == sorted(
            str(ids[k]) for k in ("no_passcode", "recorded_on_demand")
        )
        assert patched(server, "/v2/meetings/") == []
        for webinar_id in ids.values():
            assert webinar_findings(server, webinar_id) == set()
        assert json.dumps(state.webinars[ids["compliant"]], sort_keys=True) == compliant_before
        assert assert_requests_follow_openapi(server) > 5

        report = json.loads(run_zoomguard(["report", "--format", "json"], env).stdout)
        last = report["last_sweep"]
        assert last["counts"]["webinars"] == 3
        assert last["counts"]["meetings"] == 1
        assert last["note"] is None
        targets = {c["target"]: c for c in report["recent_changes"]}
        audited = targets[f"webinar:{ids['recorded_on_demand']}"]
        assert audited["action"] == "webinar.update"
        assert audited["confirmed"] is True
        assert audited["after"] == {"settings.auto_recording": "none", "settings.on_demand": False}
        assert "(set)" in json.dumps(targets[f"webinar:{ids['no_passcode']}"]["after"])

        # Zoom's webinar document has no AI Companion field; a webinar that carries one anyway
        # has it turned off, and only it. The next sweep leaves every other webinar alone.
        ai_summary = state.add_webinar(
            bob, topic="Briefing", settings={"auto_start_meeting_summary": True}
        )["id"]
        mark = len(state.request_log())
        assert run_zoomguard(["sweep"], env).returncode == 0
        assert patched(server, "/v2/webinars/", mark) == [str(ai_summary)]
        [body] = [r.body for r in state.request_log(mark) if r.method == "PATCH"]
        assert body == {"settings": {"auto_start_meeting_summary": False}}
        assert webinar_findings(server, ai_summary) == set()

        # A third sweep finds every webinar compliant and sends nothing.
        mark = len(state.request_log())
        assert run_zoomguard(["sweep"], env).returncode == 0
        assert patched(server, "/v2/webinars/", mark) == []


def test_an_account_without_a_webinar_plan_is_skipped_with_one_note(tmp_path: Path) -> None:
    with SandboxServer(SandboxConfig(webinar_plan=False)) as server:
        alice = server.state.add_user("alice@agency.example")
        server.state.add_user("bob@agency.example")
        server.state.add_meeting(alice, topic="Planning", password="")
        env = zoomguard_env(server, tmp_path / "zoomguard.db")

        result = run_zoomguard(["sweep"], env)

        assert result.returncode == 0, result.stderr
        assert "no webinar plan" in result.stdout
        assert patched(server, "/v2/meetings/") != []  # meetings are still swept
        report = json.loads(run_zoomguard(["report", "--format", "json"], env).stdout)
        last = report["last_sweep"]
        assert last["status"] == "completed"
        assert last["error"] is None
        assert last["counts"]["webinars"] == 0
        assert last["note"].startswith("Webinars not checked: the account has no webinar plan")
        text = run_zoomguard(["report"], env).stdout
        assert text.count("no webinar plan") == 1
