"""The account baseline end to end: `zoomguard baseline` and the service against the sandbox, over
real HTTP on loopback, on a real (migrated) database.

Issue 8's "done when": an account with unlocked, noncompliant settings, a deviating group and
user, and existing recordings ends with every baseline setting on and locked, the deviations
fixed, the recordings trashed, and a meeting PATCH that tries to turn recording back on overruled
by the lock; a second run changes nothing; report mode changes nothing.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from support.commands import assert_requests_follow_openapi

from zoomguard import service
from zoomguard.cli.baseline import baseline_command
from zoomguard.config import Settings
from zoomguard.errors import Interrupted
from zoomguard.rules import baseline as bl
from zoomguard.rules.policy import load_profile
from zoomguard.rules.profile import Baseline
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.service.baseline import BaselineBusy, BaselineRunner, recheck_baseline
from zoomguard.service.events.settings import scope_for_event
from zoomguard.store import AccountRecord, Store
from zoomguard.store.models import Alert, AuditEntry
from zoomguard.zoom.client import ZoomClient
from zoomguard.zoom.tokens import S2STokenProvider

SECRET_KEY = "a baseline test passphrase"

# The account as an unmanaged Zoom account might be: recording and file transfer on, the
# passcode embedded in the link, join before host on, the waiting room off, nothing locked.
NONCOMPLIANT_ACCOUNT = {
    "file_transfer": True,
    "local_recording": True,
    "cloud_recording": True,
    "auto_recording": "cloud",
    "embed_password_in_join_link": True,
    "require_password_for_pmi_meetings": "none",
    "join_before_host": True,
    "waiting_room": False,
}


@dataclass
class Account:
    server: SandboxServer
    env: dict[str, str]
    group_id: str
    alice: dict[str, Any]  # no group; has a recording; her own auto_recording is "local"
    bob: dict[str, Any]  # in the group; his own new-meeting passcode requirement is off
    meeting_ids: tuple[int, int]
    recording_uuids: tuple[str, str]


def build_account(server: SandboxServer) -> tuple[str, dict[str, Any], dict[str, Any], Any, Any]:
    state = server.state
    state.add_user("owner@agency.example", first_name="Olive", last_name="Owner")
    group = state.add_group("Family services")
    alice = state.add_user("alice@agency.example", first_name="Alice", last_name="Host")
    bob = state.add_user("bob@agency.example", first_name="Bob", group_id=group["id"])
    tree = state.settings
    tree.account.update(NONCOMPLIANT_ACCOUNT)
    # The group's own deviation: no passcode for instant meetings (the account requires one).
    tree.groups[group["id"]] = {"require_password_for_instant_meetings": False}
    tree.users[alice["id"]] = {"auto_recording": "local"}
    tree.users[bob["id"]] = {"require_password_for_scheduling_new_meetings": False}
    # Fixed UUIDs: one that Zoom wants double-encoded in a path ("//"), one plain. (A UUID with a
    # single "/" trips the sandbox, which routes on the decoded path: see the report.)
    first = state.add_meeting(alice, topic="Support planning", uuid="ab//Zx9QRBaFq1LmN0pZ2A==")
    second = state.add_meeting(bob, topic="Team check-in", uuid="kT3w9QxYRBaFq1LmN0pZ2A==")
    recordings = (
        state.complete_recording(first["id"]),
        state.complete_recording(second["id"]),
    )
    return (
        group["id"],
        alice,
        bob,
        (first["id"], second["id"]),
        tuple(r.uuid for r in recordings),
    )


@pytest.fixture
def account(db_url: str, tmp_path: Path) -> Iterator[Account]:
    # Zoom's per-second limits are the client's and the sandbox's own tests' business; here they
    # would only make the test wait.
    with SandboxServer(SandboxConfig(enforce_rate_limits=False)) as server:
        group_id, alice, bob, meetings, uuids = build_account(server)
        env = dict(server.env())
        env["ZOOMGUARD_DATABASE_URL"] = db_url
        env["ZOOMGUARD_SECRET_KEY"] = SECRET_KEY
        env["ZOOMGUARD_CONCURRENCY"] = "4"
        env["ZOOMGUARD_RATE_LIGHT"] = "1000"
        env["ZOOMGUARD_RATE_MEDIUM"] = "1000"
        yield Account(server, env, group_id, alice, bob, meetings, uuids)


def write_policy(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return str(path)


def run_cli(account: Account, *args: str, **extra_env: str) -> Any:
    result = CliRunner().invoke(
        baseline_command, list(args), env={**account.env, **extra_env}, catch_exceptions=True
    )
    return result


def zoom_client(server: SandboxServer) -> ZoomClient:
    cfg = server.config
    tokens = S2STokenProvider(
        server.oauth_url + "/oauth/token", cfg.account_id, cfg.client_id, cfg.client_secret
    )
    return ZoomClient(server.api_url, tokens)


def open_store(account: Account) -> Store:
    return Store.open(Settings.from_env(account.env))


def changes_sent(server: SandboxServer, since: int = 0) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in server.state.request_log(since)
        if r.method in ("PATCH", "POST", "PUT", "DELETE") and r.path.startswith("/v2/")
    ]


def settings_snapshot(server: SandboxServer) -> Any:
    tree = server.state.settings
    with server.state.lock:
        return copy.deepcopy(
            (tree.account, tree.account_locks, tree.groups, tree.group_locks, tree.users)
        )


def read_target(client: ZoomClient, level: str, ident: str | None) -> bl.TargetEvaluation:
    """The target as Zoom shows it now, evaluated against the full baseline."""
    security = bl.MEETING_SECURITY
    locks: dict[str, Any] | None
    if level == bl.ACCOUNT:
        settings = bl.merge_reads(
            client.get_account_settings(), client.get_account_settings(option=security)
        )
        locks = bl.merge_reads(
            client.get_account_lock_settings(),
            client.get_account_lock_settings(option=security),
        )
    elif level == bl.GROUP:
        assert ident is not None
        settings = bl.merge_reads(
            client.get_group_settings(ident), client.get_group_settings(ident, option=security)
        )
        locks = None
    else:
        assert ident is not None
        settings = bl.merge_reads(
            client.get_user_settings(ident), client.get_user_settings(ident, option=security)
        )
        locks = None
    return bl.evaluate(
        level, bl.target_of(level, ident), settings, locks, Baseline(), enforce=False
    )


def alerts(store: Store) -> list[Alert]:
    with store.transaction() as session:
        rows = list(session.scalars(select(Alert).order_by(Alert.id)))
        session.expunge_all()
        return rows


def audit(store: Store) -> list[AuditEntry]:
    with store.transaction() as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        session.expunge_all()
        return rows


# Issue 8's "done when" -------------------------------------------------------------------------


def test_baseline_locks_the_account_fixes_deviations_and_trashes_recordings(
    account: Account,
) -> None:
    server = account.server
    result = run_cli(account, "--lookback-days", "30")
    assert result.exit_code == 0, result.output + repr(result.exception)
    out = result.output
    assert (
        "Locked at the source (groups and users cannot change them): passcode_new_meetings" in out
    )
    assert f"group:{account.group_id} (Family services)" in out
    assert "alice@agency.example" in out
    assert "bob@agency.example" in out
    assert "2 trashed" in out

    with zoom_client(server) as client:
        # Every baseline setting at its value and locked at the account.
        now = read_target(client, bl.ACCOUNT, None)
        assert now.compliant, now.deviations
        assert all(c.locked is True for c in now.checks)
        # The deviating group and users are in line.
        assert read_target(client, bl.GROUP, account.group_id).compliant
        assert read_target(client, bl.USER, account.alice["id"]).compliant
        assert read_target(client, bl.USER, account.bob["id"]).compliant
        # A meeting PATCH that tries to turn recording back on is overruled by the lock.
        meeting_id = account.meeting_ids[0]
        client.update_meeting(meeting_id, {"settings": {"auto_recording": "cloud"}})
        meeting = client.get_meeting(meeting_id)
        assert meeting is not None
        assert meeting["settings"]["auto_recording"] == "none"
        # So is a user trying to switch file transfer back on.
        client.update_user_settings(account.alice["id"], {"in_meeting": {"file_transfer": True}})
        assert client.get_user_settings(account.alice["id"])["in_meeting"]["file_transfer"] is False

    # The recordings are in the trash, not gone for good (ZOOMGUARD_RECORDING_ACTION=trash).
    for uuid in account.recording_uuids:
        assert server.state.recordings[uuid].trashed

    store = open_store(account)
    try:
        findings = {(f.meeting_id, f.rule_id): f for f in store.findings.open()}
        group_target = f"group:{account.group_id}"
        alice_target = f"user:{account.alice['id']}"
        bob_target = f"user:{account.bob['id']}"
        assert findings[("account", "baseline.file_transfer")].status == "fixed"
        assert findings[("account", "baseline.file_transfer")].actual is True
        assert findings[("account", "baseline.file_transfer")].after is False
        # Right value, but unlocked: locked, and that counts as a deviation fixed.
        assert findings[("account", "baseline.passcode_new_meetings")].status == "fixed"
        assert findings[(group_target, "baseline.passcode_instant_meetings")].status == "fixed"
        assert findings[(alice_target, "baseline.auto_recording")].actual == "local"
        assert findings[(bob_target, "baseline.passcode_new_meetings")].status == "fixed"
        # Inherited wrong values are the account's findings, not every user's.
        assert (alice_target, "baseline.file_transfer") not in findings
        recording_findings = [f for f in findings.values() if f.rule_id == bl.RECORDING_RULE_ID]
        assert sorted(f.meeting_id for f in recording_findings) == sorted(
            f"recording:{u}" for u in account.recording_uuids
        )
        assert all(f.status == "fixed" and f.after == "trashed" for f in recording_findings)

        rows = alerts(store)
        categories = [a.category for a in rows]
        assert categories.count("recording.completed") == 2
        assert all(a.delivery == "immediate" for a in rows if a.category == "recording.completed")
        baseline_alert = next(
            a for a in rows if a.details.get("rule_id") == "baseline.file_transfer"
        )
        assert baseline_alert.category == "settings.baseline"
        assert baseline_alert.details["enforcement"] == "locked at the source"
        assert baseline_alert.details["confirmed"] is True
        assert baseline_alert.details["changes"] == [
            {"field": "in_meeting.file_transfer", "before": True, "after": False}
        ]

        actions = [(a.action, a.target) for a in audit(store)]
        assert ("settings.update", "account") in actions
        assert ("lock_settings.update", "account") in actions
        assert ("settings.update", alice_target) not in actions  # the account lock did it
        assert sum(1 for action, _ in actions if action == "recording.trash") == 2
        account_update = next(
            a for a in audit(store) if (a.action, a.target) == ("settings.update", "account")
        )
        assert account_update.before["in_meeting.file_transfer"] is True
        assert account_update.after["in_meeting.file_transfer"] is False
        assert account_update.confirmed is True
        audits_after_first, alerts_after_first = len(audit(store)), len(rows)
    finally:
        store.close()

    # Every request zoomguard sent is one Zoom documents.
    assert assert_requests_follow_openapi(server) > 10

    # A second run changes nothing: no PATCH, no DELETE, no new alert or audit entry.
    since = len(server.state.request_log())
    again = run_cli(account)
    assert again.exit_code == 0, again.output + repr(again.exception)
    assert changes_sent(server, since) == []
    assert "nothing was changed in Zoom" in again.output
    assert "No group or user deviated" in again.output
    store = open_store(account)
    try:
        assert len(audit(store)) == audits_after_first
        assert len(alerts(store)) == alerts_after_first
        # What was fixed and stays fixed is resolved.
        assert [f for f in store.findings.open() if bl.is_baseline_rule(f.rule_id)] == []
    finally:
        store.close()


@pytest.mark.parametrize("how", ["report-mode", "dry-run"])
def test_report_mode_and_dry_run_change_nothing(account: Account, tmp_path: Path, how: str) -> None:
    server = account.server
    before = settings_snapshot(server)
    if how == "report-mode":
        policy = write_policy(tmp_path, '[baseline]\nmode = "report"\n')
        result = run_cli(account, ZOOMGUARD_POLICY=policy)
    else:
        result = run_cli(account, "--dry-run")
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert changes_sent(server) == []
    assert settings_snapshot(server) == before
    assert not any(r.trashed for r in server.state.recordings.values())
    assert "nothing was changed in Zoom" in result.output
    assert ("dry run" if how == "dry-run" else "report") in result.output

    store = open_store(account)
    try:
        findings = {(f.meeting_id, f.rule_id): f for f in store.findings.open()}
        assert findings[("account", "baseline.cloud_recording")].status == "reported"
        assert findings[(f"group:{account.group_id}", "baseline.passcode_instant_meetings")]
        assert len([f for f in findings if f[1] == bl.RECORDING_RULE_ID]) == 2
        assert not [a for a in audit(store)]
        first_alerts = len(alerts(store))
        assert first_alerts > 0
    finally:
        store.close()
    # Reported again: the officer is not told twice about the same thing.
    again = run_cli(account, "--dry-run")
    assert again.exit_code == 0
    store = open_store(account)
    try:
        assert len(alerts(store)) == first_alerts
    finally:
        store.close()


def test_recordings_can_be_left_out_and_reported_only(account: Account) -> None:
    server = account.server
    result = run_cli(account, "--no-recordings")
    assert result.exit_code == 0, result.output
    assert not any(r.trashed for r in server.state.recordings.values())
    assert "Cloud recordings" not in result.output

    report = run_cli(account, ZOOMGUARD_RECORDING_ACTION="report")
    assert report.exit_code == 0, report.output
    assert "2 reported" in report.output
    assert not any(r.trashed for r in server.state.recordings.values())
    assert not [c for c in changes_sent(server) if c.startswith("DELETE")]


# Failures, re-checks and webhooks ----------------------------------------------------------------


def runner_for(account: Account, store: Store, **kwargs: Any) -> tuple[BaselineRunner, Any]:
    settings = Settings.from_env(account.env)
    record = service.env_account(settings, store)
    client = service.client_for_account(settings, store, record)
    profile = kwargs.pop("profile", service.load_profile(settings))
    runner = BaselineRunner(settings, store, client, record, profile=profile, **kwargs)
    return runner, client


def test_a_lock_zoom_refuses_is_a_failure_not_a_fix(account: Account) -> None:
    server = account.server
    server.state.fail_once("PATCH", "/v2/accounts/me/lock_settings", status=400, times=2)
    store = open_store(account)
    try:
        runner, client = runner_for(account, store, recordings=False)
        with client:
            result = runner.run()
        failed = {s.item_id for s in result.settings if s.status == bl.FAILED}
        # The values were set (the settings PATCH went through), the locks were refused.
        assert "file_transfer" in failed
        row = next(s for s in result.settings if s.item_id == "file_transfer")
        assert row.target == "account"
        assert (row.after, row.locked_after) == (False, False)
        assert "Zoom refused" in (row.detail or "")
        assert row.enforcement == "not locked: repaired after the fact"
        assert not result.compliant
        assert "Only repaired after the fact (not locked): " in bl.render_summary(result)
        finding = next(f for f in store.findings.open() if f.rule_id == "baseline.file_transfer")
        assert finding.status == "failed"
        alert = next(
            a for a in alerts(store) if a.details.get("rule_id") == "baseline.file_transfer"
        )
        assert alert.details["failure"]
        assert alert.details["enforcement"] == "not locked: repaired after the fact"
        # Without the lock, the users' own values were corrected one by one.
        assert any(
            s.target == f"user:{account.alice['id']}" and s.status == bl.FIXED
            for s in result.settings
        )
    finally:
        store.close()


def test_the_cli_exits_1_when_something_could_not_be_fixed(account: Account) -> None:
    account.server.state.fail_once("PATCH", "/v2/accounts/me/lock_settings", status=400, times=2)
    result = run_cli(account, "--no-recordings")
    assert result.exit_code == 1
    assert "not fixed" in str(result.exception)


def test_recheck_after_a_settings_webhook_relocks_the_account(account: Account) -> None:
    server = account.server
    store = open_store(account)
    try:
        runner, client = runner_for(account, store, recordings=False)
        with client:
            runner.run()
        # An admin unlocks file transfer and switches it on in the web portal.
        with server.state.lock:
            server.state.settings.account_locks["file_transfer"] = False
            server.state.settings.account["file_transfer"] = True
        scope = scope_for_event("account.lock_settings_updated", {"object": {"id": "x"}})
        assert scope == "account"
        settings = Settings.from_env(account.env)
        record = service.env_account(settings, store)
        client = service.client_for_account(settings, store, record)
        with client:
            result = recheck_baseline(
                settings, store, client, record, scope, profile=service.load_profile(settings)
            )
        row = next(s for s in result.settings if s.item_id == "file_transfer")
        assert (row.status, row.actual, row.locked_before, row.locked_after) == (
            bl.FIXED,
            True,
            False,
            True,
        )
        assert [s.item_id for s in result.settings if s.status != bl.OK] == ["file_transfer"]
        assert server.state.settings.account_locks["file_transfer"] is True
        assert server.state.settings.account["file_transfer"] is False
        assert any(a.actor == "webhook" and a.target == "account" for a in audit(store))
    finally:
        store.close()


def test_recheck_of_one_group_sets_and_locks_it_at_group_level(account: Account) -> None:
    server = account.server
    store = open_store(account)
    try:
        settings = Settings.from_env(account.env)
        record = service.env_account(settings, store)
        client = service.client_for_account(settings, store, record)
        scope = scope_for_event(
            "group.settings_updated", {"object": {"id": account.group_id, "settings": {}}}
        )
        assert scope == ("group", account.group_id)
        with client:
            result = recheck_baseline(
                settings, store, client, record, scope, profile=service.load_profile(settings)
            )
        # Only the group's own deviation; what it inherits is the account's business.
        assert [(s.target, s.item_id, s.status) for s in result.settings if s.status != "ok"] == [
            (f"group:{account.group_id}", "passcode_instant_meetings", bl.FIXED)
        ]
        locks = server.state.settings.group_locks[account.group_id]
        assert locks["require_password_for_instant_meetings"] is True
        assert server.state.settings.account_locks == {}  # the account was not touched
    finally:
        store.close()


def test_recheck_of_one_user_and_a_busy_account(account: Account) -> None:
    store = open_store(account)
    try:
        settings = Settings.from_env(account.env)
        record: AccountRecord = service.env_account(settings, store)
        profile = load_profile("")
        scope = scope_for_event("user.settings_updated", {"object": {"id": account.bob["id"]}})
        assert scope == ("user", account.bob["id"])
        # Another baseline run holds the account: the webhook worker retries later.
        assert store.leases.acquire(f"baseline:{record.id}", "someone-else", 60, service.utcnow())
        client = service.client_for_account(settings, store, record)
        with client, pytest.raises(BaselineBusy):
            recheck_baseline(settings, store, client, record, scope, profile=profile)
        store.leases.release(f"baseline:{record.id}", "someone-else")
        client = service.client_for_account(settings, store, record)
        with client:
            result = recheck_baseline(settings, store, client, record, scope, profile=profile)
        # Only Bob's own deviation is fixed on Bob: the re-check reads his groups (GET
        # /users/{userId} gives group_ids), so the value he inherits from his group is left to
        # be fixed on the group, not copied onto every member.
        assert [(s.item_id, s.status) for s in result.settings if s.status != "ok"] == [
            ("passcode_new_meetings", bl.FIXED),
        ]
        with zoom_client(account.server) as check:
            assert read_target(check, bl.USER, account.bob["id"]).check("passcode_new_meetings").ok  # type: ignore[union-attr]
    finally:
        store.close()


def test_scope_for_event_ignores_other_events_and_bad_payloads() -> None:
    assert scope_for_event("meeting.updated", {"object": {"id": 1}}) is None
    assert scope_for_event("user.settings_updated", {"object": {}}) is None
    assert scope_for_event("group.lock_settings_updated", {}) is None
    assert scope_for_event("account.settings_updated", {}) == "account"


def test_recordings_can_be_deleted_for_good(account: Account) -> None:
    server = account.server
    result = run_cli(account, ZOOMGUARD_RECORDING_ACTION="delete")
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "2 deleted" in result.output
    for uuid in account.recording_uuids:
        assert uuid not in server.state.recordings
    store = open_store(account)
    try:
        deletions = [a for a in audit(store) if a.action.startswith("recording.")]
        assert sorted(a.action for a in deletions) == ["recording.delete", "recording.delete"]
        assert all(a.confirmed for a in deletions)
    finally:
        store.close()


def test_recordings_are_left_alone_when_the_policy_allows_cloud_recording(
    account: Account, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path, "[baseline]\ncloud_recording = false\n")
    result = run_cli(account, ZOOMGUARD_POLICY=policy)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert not any(r.trashed for r in account.server.state.recordings.values())
    assert "Cloud recordings" not in result.output
    # The other items are still enforced and locked; cloud recording is neither set nor locked.
    tree = account.server.state.settings
    assert tree.account_locks.get("file_transfer") is True
    assert tree.account_locks.get("cloud_recording", False) is False
    assert tree.account["cloud_recording"] is True


def test_a_stopped_run_changes_nothing_and_says_so(account: Account) -> None:
    store = open_store(account)
    try:
        stop = threading.Event()
        stop.set()
        runner, client = runner_for(account, store, stop=stop)
        with client, pytest.raises(Interrupted):
            runner.run()
        assert changes_sent(account.server) == []
        # The lease was given back: the next run can start.
        runner, client = runner_for(account, store, recordings=False)
        with client:
            assert runner.run().patches > 0
    finally:
        store.close()
