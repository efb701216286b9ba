"""`zoomguard report`: a finding the last sweep fixed is under recent changes, not open (issue #12).

The sweeps run in-process against the sandbox on loopback; the report is the real command (click's
runner), reading the same database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from zoomguard import service
from zoomguard.cli import main
from zoomguard.config import Settings
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.store import Store, upgrade

COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}


@dataclass
class Setup:
    sandbox: SandboxServer
    env: dict[str, str]
    settings: Settings
    store: Store
    account: Any
    ids: dict[str, int]

    def sweep(self) -> None:
        profile = service.load_profile(self.settings)
        with service.client_for_account(self.settings, self.store, self.account) as client:
            result = service.Sweeper(
                self.settings, self.store, client, self.account, profile=profile
            ).run()
        assert result.status == "completed", result.error

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
        env = dict(sandbox.env())
        env["ZOOMGUARD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'report.db'}"
        env["ZOOMGUARD_SECRET_KEY"] = "a report test passphrase"
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        store = Store.open(settings)
        assert settings.zoom_account_id
        assert settings.zoom_client_id
        assert settings.zoom_client_secret
        account = service.connect_s2s(
            settings,
            store,
            account_id=settings.zoom_account_id,
            client_id=settings.zoom_client_id,
            client_secret=settings.zoom_client_secret,
        )
        try:
            yield Setup(sandbox, env, settings, store, account, ids)
        finally:
            store.close()


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
