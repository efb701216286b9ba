"""`zoomguard sweep` as a subprocess against the sandbox over real HTTP on loopback.

The stand-in account has compliant meetings, noncompliant ones, a recurring one, an exempt one, one
that answers 429 once and one deleted between list and get (issue #2's "done when").
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support.commands import (
    assert_requests_follow_openapi,
    run_zoomguard,
    zoomguard_env,
)
from support.sandbox import SANDBOX_HOST_DEFAULT

from zoomguard.rules import policy
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.zoom.client import ZoomClient
from zoomguard.zoom.tokens import S2STokenProvider

COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}
SIN = "046 454 286"


def build_account(server: SandboxServer) -> dict[str, int]:
    state = server.state
    alice = state.add_user("alice@agency.example", first_name="Alice", last_name="Host")
    bob = state.add_user("bob@agency.example", first_name="Bob", last_name="Host")
    carol = state.add_user("carol@agency.example", first_name="Carol", last_name="Host")
    ids = {
        "compliant": state.add_meeting(alice, topic="Team check-in", settings=COMPLIANT)["id"],
        "no_passcode": state.add_meeting(
            alice, topic="Planning", password="", settings={**COMPLIANT, "waiting_room": False}
        )["id"],
        "jbh_recording": state.add_meeting(
            alice,
            topic="Family meeting",
            settings={**COMPLIANT, "join_before_host": True, "auto_recording": "cloud"},
        )["id"],
        "recurring": state.add_meeting(
            bob,
            topic="Weekly support group",
            type=8,
            occurrences=4,
            settings={**COMPLIANT, "waiting_room": False},
        )["id"],
        "rate_limited": state.add_meeting(bob, topic="Budget", settings=COMPLIANT)["id"],
        "deleted": state.add_meeting(
            bob, topic="Cancelled", settings={**COMPLIANT, "join_before_host": True}
        )["id"],
        "exempt": state.add_meeting(
            carol, topic="Board", settings={**COMPLIANT, "auto_recording": "cloud"}
        )["id"],
        "identifying": state.add_meeting(
            carol, topic=f"Intake SIN {SIN}", settings={**COMPLIANT, "join_before_host": True}
        )["id"],
    }
    state.fail_once("GET", ids["rate_limited"], status=429, retry_after="1")
    state.delete_after_list(ids["deleted"])
    return ids


def write_policy(tmp_path: Path, exempt_id: int) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(
        'mode = "enforce"\n\n[[exemptions]]\n'
        f'meeting_id = "{exempt_id}"\nreason = "Board recording approved by the privacy officer"\n'
        "expires = 2099-12-31\n"
    )
    return path


def patched_meetings(server: SandboxServer, since: int = 0) -> list[str]:
    return [
        str(r.meeting_id)
        for r in server.state.request_log(since)
        if r.method == "PATCH" and r.path.startswith("/v2/meetings/")
    ]


def read_meeting(server: SandboxServer, meeting_id: int) -> dict[str, Any] | None:
    cfg = server.config
    tokens = S2STokenProvider(
        server.oauth_url + "/oauth/token", cfg.account_id, cfg.client_id, cfg.client_secret
    )
    client = ZoomClient(server.api_url, tokens)
    try:
        return client.get_meeting(meeting_id)
    finally:
        client.close()


def remaining_rules(server: SandboxServer, meeting_id: int) -> set[str]:
    meeting = read_meeting(server, meeting_id)
    assert meeting is not None
    # The sandbox account's own waiting-room setting places everyone (its default): a meeting
    # without options follows it.
    evaluation = policy.evaluate(
        meeting, policy.default_profile(), today=date.today(), host=SANDBOX_HOST_DEFAULT
    )
    return {f.rule_id for f in evaluation.findings}


@pytest.fixture
def account(tmp_path: Path) -> Any:
    with SandboxServer(SandboxConfig()) as server:
        ids = build_account(server)
        env = zoomguard_env(
            server,
            tmp_path / "zoomguard.db",
            ZOOMGUARD_POLICY=str(write_policy(tmp_path, ids["exempt"])),
        )
        yield server, ids, env


def test_sweep_fixes_every_noncompliant_meeting_once(account: Any) -> None:
    server, ids, env = account

    result = run_zoomguard(["sweep"], env)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    patched = patched_meetings(server)
    # One PATCH per noncompliant, non-exempt meeting, none to compliant or exempt ones.
    assert sorted(patched) == sorted(
        str(ids[k]) for k in ("no_passcode", "jbh_recording", "recurring", "identifying")
    )
    for key in ("compliant", "no_passcode", "jbh_recording", "recurring", "rate_limited"):
        assert remaining_rules(server, ids[key]) == set(), key
    # Identifying information is reported, never auto-fixed; the rest of that meeting is fixed.
    assert remaining_rules(server, ids["identifying"]) == {"identifying_information"}
    # The exempt meeting is left exactly as it was.
    assert remaining_rules(server, ids["exempt"]) == {"no_auto_recording"}
    # The 429 was honoured and retried: the meeting was read successfully afterwards.
    statuses = [
        r.status
        for r in server.state.request_log()
        if r.method == "GET" and r.meeting_id == str(ids["rate_limited"])
    ]
    assert statuses[0] == 429
    assert 200 in statuses[1:]
    assert assert_requests_follow_openapi(server) > 10

    report = run_zoomguard(["report", "--format", "json"], env)
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    open_rules = {(f["meeting_id"], f["rule_id"], f["status"]) for f in data["open_findings"]}
    assert (str(ids["identifying"]), "identifying_information", "reported") in open_rules
    assert (str(ids["exempt"]), "no_auto_recording", "exempt") in open_rules
    assert SIN not in report.stdout  # redacted wherever stored or shown
    assert data["recent_changes"], "every change made in Zoom is in the audit log"
    assert all(
        "(set)" in json.dumps(c["after"]) or "password" not in json.dumps(c["after"])
        for c in data["recent_changes"]
    )

    # A second sweep finds nothing left to fix and sends no PATCH at all.
    mark = len(server.state.request_log())
    again = run_zoomguard(["sweep"], env)
    assert again.returncode == 0, again.stderr
    assert patched_meetings(server, mark) == []


def test_dry_run_sends_no_patch(account: Any) -> None:
    server, ids, env = account
    result = run_zoomguard(["sweep", "--dry-run"], env)
    assert result.returncode == 0, result.stderr
    assert patched_meetings(server) == []
    assert remaining_rules(server, ids["no_passcode"]) == {"passcode", "waiting_room"}
    assert "dry run" in result.stdout


def test_rejected_credentials_exit_1_with_one_line(account: Any) -> None:
    _server, _ids, env = account
    env = {**env, "ZOOM_CLIENT_SECRET": "wrong"}
    result = run_zoomguard(["sweep"], env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("zoomguard: ")
    assert "wrong" not in result.stderr  # never echo a secret


def test_a_bad_policy_file_stops_the_sweep_before_any_api_call(
    account: Any, tmp_path: Path
) -> None:
    # The sweep starts its token before it reads the policy (the token's round trip overlaps
    # the rules' import), so the token may be fetched; no meeting is read or changed.
    server, _ids, env = account
    bad = tmp_path / "bad-policy.toml"
    bad.write_text("[rules.passcode\nenabled = maybe\n", encoding="utf-8")
    result = run_zoomguard(["sweep"], {**env, "ZOOMGUARD_POLICY": str(bad)})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("zoomguard: ")
    assert "policy" in lines[0].lower()
    assert [r.path for r in server.state.request_log() if r.path.startswith("/v2/")] == []


def test_sigterm_marks_the_sweep_interrupted_and_the_next_starts_clean(tmp_path: Path) -> None:
    config = SandboxConfig(users=4, meetings=400, noncompliant_share=0.5, seed=3, latency_ms=30)
    with SandboxServer(config) as server:
        env = zoomguard_env(server, tmp_path / "zoomguard.db", ZOOMGUARD_CONCURRENCY="2")
        proc = subprocess.Popen(
            [sys.executable, "-m", "zoomguard", "sweep"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while not patched_meetings(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, (out, err)
        assert "interrupted" in (out + err)
        assert "Traceback" not in err

        report = json.loads(run_zoomguard(["report", "--format", "json"], env).stdout)
        assert report["last_sweep"]["status"] == "interrupted"
        patched_before = len(patched_meetings(server))
        assert 0 < patched_before < 200

        finished = run_zoomguard(["sweep"], env, timeout=300)
        assert finished.returncode == 0, finished.stderr
        report = json.loads(run_zoomguard(["report", "--format", "json"], env).stdout)
        assert report["last_sweep"]["status"] == "completed"
        # Every meeting was patched at most once across both sweeps: nothing half-done.
        patched = patched_meetings(server)
        assert len(patched) == len(set(patched))
