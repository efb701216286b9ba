"""`zoomguard report`: a finding the last sweep fixed is under recent changes, not open (issue #12).

The sweeps run in-process against the sandbox on loopback; the report is the real command (click's
runner), reading the same database.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.sandbox_store import COMPLIANT, SandboxStore, sandbox_store
from support.store import sqlite_url

from zoomguard import service
from zoomguard.cli import main
from zoomguard.cli.report import render_report
from zoomguard.formats import to_csv
from zoomguard.sandbox import SandboxConfig, SandboxServer


@dataclass
class Setup(SandboxStore):
    ids: dict[str, int] = field(default_factory=dict)

    def sweep(self, *, stop: threading.Event | None = None) -> service.SweepResult:
        result = super().sweep(stop=stop)
        assert result.status == "completed", result.error
        return result

    def report(self, *args: str) -> str:
        outcome = CliRunner().invoke(main, ["report", *args], env=self.env)
        assert outcome.exit_code == 0, outcome.output
        return outcome.output


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    with SandboxServer(SandboxConfig()) as sandbox:
        state = sandbox.state
        alice = state.add_user("alice@agency.example")
        ids = {
            "compliant": state.add_meeting(alice, topic="Check-in", settings=COMPLIANT)["id"],
            "no_waiting_room": state.add_meeting(
                alice, topic="Planning", settings={**COMPLIANT, "waiting_room": False}
            )["id"],
            "jbh": state.add_meeting(
                alice, topic="Family meeting", settings={**COMPLIANT, "join_before_host": True}
            )["id"],
            "identifying": state.add_meeting(
                alice, topic="Intake SIN 046 454 286", settings=COMPLIANT
            )["id"],
        }
        with sandbox_store(
            sandbox, sqlite_url(tmp_path / "report.db"), Setup, check_credentials=True
        ) as opened:
            opened.ids = ids
            yield opened


def test_a_finding_fixed_by_the_last_sweep_is_a_recent_change_not_open(setup: Setup) -> None:
    setup.sweep()

    data = json.loads(setup.report("--format", "json"))
    open_findings = {(f["meeting_id"], f["rule_id"], f["status"]) for f in data["open_findings"]}
    assert open_findings == {(str(setup.ids["identifying"]), "identifying_information", "reported")}
    fixed = {(f["meeting_id"], f["rule_id"]) for f in data["recently_fixed"]}
    assert fixed == {
        (str(setup.ids["no_waiting_room"]), "waiting_room"),
        (str(setup.ids["jbh"]), "join_before_host_off"),
    }
    targets = {c["target"] for c in data["recent_changes"]}
    assert targets == {f"meeting:{setup.ids['no_waiting_room']}", f"meeting:{setup.ids['jbh']}"}

    text = setup.report()
    assert "Open findings (1)" in text
    open_section = text.split("Open findings (1)")[1].split("Recent changes")[0]
    assert "identifying_information" in open_section
    assert "waiting_room" not in open_section
    assert "2 finding(s) in 2 meeting(s) were fixed in Zoom and are not open" in text
    assert "Recent changes made in Zoom (2)" in text

    csv_rows = setup.report("--format", "csv").strip().splitlines()
    assert len(csv_rows) == 2  # the header and the one open finding
    assert "identifying_information" in csv_rows[1]


def test_the_next_sweep_resolves_what_was_fixed(setup: Setup) -> None:
    setup.sweep()
    setup.sweep()

    data = json.loads(setup.report("--format", "json"))
    assert data["recently_fixed"] == []
    assert [f["rule_id"] for f in data["open_findings"]] == ["identifying_information"]
    assert "were fixed in Zoom" not in setup.report()


def test_a_list_cut_at_the_limit_says_how_to_see_all_of_it(setup: Setup) -> None:
    setup.sweep()

    text = setup.report("--limit", "1")
    assert (
        "Recent changes made in Zoom (2; the newest 1 shown, "
        "`zoomguard report --limit 2` shows them all)" in text
    )
    data = json.loads(setup.report("--format", "json", "--limit", "1"))
    assert len(data["recent_changes"]) == 1
    assert data["totals"]["recent_changes"] == 2


def test_report_csv_writes_a_formula_topic_as_text_like_the_dashboard_export() -> None:
    finding = {
        "meeting_id": "85746065432",
        "host_email": "host@agency.example",
        "topic": '=HYPERLINK("https://evil.example","Open")',
        "rule_id": "identifying_information",
        "status": "reported",
        "actual": "-1",
        "after": None,
        "detail": "@SUM(A1)",
    }
    rows = render_report({"open_findings": [finding]}, "csv").strip().splitlines()
    assert rows[1].startswith("85746065432,host@agency.example,")
    assert '"\'=HYPERLINK(""https://evil.example"",""Open"")"' in rows[1]
    assert ",'@SUM(A1)" in rows[1]
    assert ",'-1," in rows[1]
    # Numbers stay numbers: only text can carry a formula.
    assert to_csv(["n"], [[-5]]) == "n\n-5\n"
