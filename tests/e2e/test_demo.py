"""`zoomguard demo` (issue #12): nothing to configure, a live recording stopped by the receiver and
worker, the baseline's locked settings, and nothing shortened without saying so."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zoomguard.cli import demo_live
from zoomguard.errors import ZoomGuardError
from zoomguard.sandbox import SandboxConfig, SandboxServer

DEMO_SECONDS_LIMIT = 30.0


def run_demo(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    # Nothing of the caller's Zoom or zoomguard setup: the demo must need none of it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "DATABASE_URL"))}
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "zoomguard", "demo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc, time.monotonic() - began


def test_demo_stops_a_live_recording_and_locks_the_baseline(tmp_path: Path) -> None:
    proc, seconds = run_demo(tmp_path)

    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    out = proc.stdout
    assert seconds < DEMO_SECONDS_LIMIT, f"the demo took {seconds:.1f} s"

    # The real-time part: receiver + worker, a recording started by a host and stopped.
    assert re.search(r"webhook receiver on http://127\.0\.0\.1:\d+/webhooks/zoom \(answered", out)
    started = re.search(r'meeting (\d+) "[^"]*": \S+@\S+ started a cloud recording', out)
    assert started, out
    stopped = re.search(r"zoomguard stopped the recording (\d+) ms after it started", out)
    assert stopped, out
    assert int(stopped.group(1)) < demo_live.STOP_TIMEOUT_SECONDS * 1000
    meeting_id = started.group(1)
    assert f"audit log: recording.stop on meeting:{meeting_id}, confirmed by Zoom" in out
    assert f"A meeting is being recorded: meeting {meeting_id}" in out  # the officer's email

    # The baseline: every account setting the guidance asks for, now locked.
    assert re.search(r"cloud_recording\s+on\s+off\s+no -> yes\s+Cloud recording is off", out)
    assert re.search(r"passcode_in_join_link\s+on\s+off\s+no -> yes\s+The passcode is not", out)
    locked = re.search(r"now locked at the account level.*: (\d+) of (\d+) settings", out)
    assert locked, out
    assert locked.group(1) == locked.group(2)
    assert int(locked.group(1)) >= 10

    # Nothing shortened silently: each cut says how much is left and what shows it all.
    assert re.search(
        r"\.\.\. (\d+) more finding\(s\) not shown \((\d+) in all\): "
        r"`zoomguard demo --all` lists every one",
        out,
    )
    assert re.search(
        r"\.\.\. \d+ more line\(s\) of this email: `zoomguard demo --all` prints it in full", out
    )
    assert re.search(r"and \d+ alert\(s\) not yet in an email", out)
    assert "meetings updated 0" in out  # the second sweep changes nothing
    assert list(tmp_path.iterdir()) == []  # no database or file left in the caller's folder


def test_demo_all_prints_everything(tmp_path: Path) -> None:
    proc, _ = run_demo(tmp_path, "--all")

    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "not shown" not in out
    assert "more line(s)" not in out
    assert "not printed" not in out
    findings = out.split("2. What zoomguard found and did")[1].split("3. In real time")[0]
    rows = [line for line in findings.splitlines() if re.match(r"\s+\d{9,}\s", line)]
    fixed = re.search(r"fixed\s+(\d+)\n", out)
    reported = re.search(r"reported for a person\s+(\d+)\n", out)
    assert fixed
    assert reported
    assert len(rows) == int(fixed.group(1)) + int(reported.group(1))
    assert len(rows) > 15  # more than the demo prints without --all
    # Every email printed to its end (the footer every email carries).
    emails = re.search(r"5\. What the privacy officer receives \((\d+) email", out)
    assert emails
    assert out.count("No passcode, token or secret is ever included") == int(emails.group(1))


def test_a_recording_nobody_stops_fails_the_demo_instead_of_printing_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo_live, "STOP_TIMEOUT_SECONDS", 0.5)
    with SandboxServer(SandboxConfig()) as sandbox:  # no receiver, no worker
        host = sandbox.state.add_user("host@agency.example")
        meeting = sandbox.state.add_meeting(host, topic="Case review")
        with pytest.raises(ZoomGuardError, match="did not stop the recording"):
            demo_live.stop_a_live_recording(sandbox, meeting["id"])


def test_other_commands_do_not_load_the_receiver_or_the_live_demo() -> None:
    code = (
        "import sys, zoomguard.cli; "
        "print(sorted(m for m in sys.modules "
        "if m.startswith(('zoomguard.webhooks', 'zoomguard.cli.demo_live', 'flask'))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.strip() == "[]"
