"""Issue #14, items 2-5, end to end over HTTP against the sandbox in its strict mode: a live
recording zoomguard may not stop (the escalation ladder), passcodes the account accepts,
recurring occurrences with their own settings, and who goes to the waiting room."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.commands import CommandResult, run_zoomguard, zoomguard_env
from support.store import TEST_SECRET_KEY
from werkzeug.serving import make_server

from zoomguard.config import Settings
from zoomguard.rules import policy
from zoomguard.rules.passcodes import PasscodeRequirement, passcode_maker
from zoomguard.runtime.worker import drain_once
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.sandbox.occurrences import occurrence_view, update_occurrence
from zoomguard.sandbox.passcodes import REQUIREMENT_DEFAULTS, passcode_problem
from zoomguard.service.events import EventDispatcher, on_dead
from zoomguard.store import Store, upgrade
from zoomguard.store.models import Alert
from zoomguard.webhooks import create_app

COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}


@dataclass
class LiveRig:
    sandbox: SandboxServer
    store: Store
    settings: Settings
    tmp_path: Path
    receiver_url: str

    def drain(self, profile: policy.Profile) -> int:
        handler = EventDispatcher(self.settings, self.store, profile=profile)
        try:
            processed = 0
            while n := drain_once(
                self.store,
                handler,
                worker_id="test-worker",
                on_dead=on_dead(self.settings, self.store),
            ):
                processed += n
            return processed
        finally:
            handler.close()

    def alerts(self) -> list[tuple[str, dict[str, Any]]]:
        with self.store.transaction() as session:
            return [(a.category, dict(a.details)) for a in session.scalars(select(Alert))]

    def audit(self) -> list[tuple[str, bool | None]]:
        return [(a.action, a.confirmed) for a in reversed(self.store.audit.recent(50))]


@pytest.fixture
def live_rig(tmp_path: Path) -> Iterator[LiveRig]:
    with SandboxServer(SandboxConfig(webhook_time_scale=0.001)) as sandbox:
        env = dict(sandbox.env())
        env["ZOOMGUARD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'zg.db'}"
        env["ZOOMGUARD_SECRET_KEY"] = TEST_SECRET_KEY
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        store = Store.open(settings)
        assert settings.zoom_account_id
        assert settings.zoom_client_id
        assert settings.zoom_client_secret
        store.accounts.save_s2s(
            settings.zoom_account_id,
            settings.zoom_client_id,
            settings.zoom_client_secret,
            api_url=settings.zoom_api_url,
        )
        server = make_server("127.0.0.1", 0, create_app(settings, store), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_port}/webhooks/zoom"
        sandbox.set_webhook_url(url)
        try:
            yield LiveRig(sandbox, store, settings, tmp_path, url)
        finally:
            server.shutdown()
            thread.join(5)
            store.close()


def _other_hosts_recording(rig: LiveRig) -> dict[str, Any]:
    """A recording in a meeting of a host who is not the app's creator (the account owner)."""
    state = rig.sandbox.state
    state.add_user("owner@agency.example")  # the first user: the owner, who created the app
    host = state.add_user("caseworker@agency.example")
    meeting = state.add_meeting(host, topic="Case conference", settings=COMPLIANT)
    state.start_recording(meeting["id"])
    assert rig.sandbox.wait_for_webhooks(10)
    return meeting


def test_strict_sandbox_refuses_a_stop_from_someone_not_the_host(live_rig: LiveRig) -> None:
    meeting = _other_hosts_recording(live_rig)
    live_rig.drain(policy.Profile())
    state = live_rig.sandbox.state
    assert state.live[meeting["id"]].recording_state == "recording"  # still recording
    refusals = [
        r
        for r in state.request_log()
        if r.method == "PATCH" and r.path == f"/v2/live_meetings/{meeting['id']}/events"
    ]
    assert [r.status for r in refusals] == [400]


def test_refused_stop_alerts_the_officer_naming_meeting_and_host(live_rig: LiveRig) -> None:
    meeting = _other_hosts_recording(live_rig)
    live_rig.drain(policy.Profile())
    state = live_rig.sandbox.state
    assert meeting["id"] in state.live  # "alert" does not end the meeting
    assert ("recording.stop", False) in live_rig.audit()
    assert ("recording.escalate", False) in live_rig.audit()
    assert ("meeting.end", True) not in live_rig.audit()
    started = [d for c, d in live_rig.alerts() if c == "recording.started"]
    assert len(started) == 1
    assert started[0]["meeting_id"] == str(meeting["id"])
    assert started[0]["host_email"] == "caseworker@agency.example"
    assert "refused" in started[0]["failure"]

    # The recording is removed when it completes, even where recordings are only reported.
    recording = state.complete_recording(meeting["id"])
    assert live_rig.sandbox.wait_for_webhooks(10)
    live_rig.settings = dataclasses.replace(live_rig.settings, recording_action="report")
    live_rig.drain(policy.Profile())
    assert state.recordings[recording.uuid].trashed


def test_refused_stop_ends_the_meeting_when_the_policy_says_so(live_rig: LiveRig) -> None:
    meeting = _other_hosts_recording(live_rig)
    profile = policy.load_profile('[live]\nwhen_stop_refused = "end_meeting"\n')
    live_rig.drain(profile)
    state = live_rig.sandbox.state
    assert meeting["id"] not in state.live  # ended, and its recording with it
    ends = [
        r
        for r in state.request_log()
        if r.method == "PUT" and r.path == f"/v2/meetings/{meeting['id']}/status"
    ]
    assert [r.status for r in ends] == [204]
    actions = live_rig.audit()
    assert actions.index(("recording.stop", False)) < actions.index(("meeting.end", True))
    assert ("recording.escalate", True) in actions
    started = [d for c, d in live_rig.alerts() if c == "recording.started"]
    assert len(started) == 1
    assert "ended the meeting" in started[0]["failure"]
    assert started[0]["host_email"] == "caseworker@agency.example"


def test_refused_ai_companion_controls_end_the_meeting_when_the_policy_says_so(
    live_rig: LiveRig,
) -> None:
    state = live_rig.sandbox.state
    state.add_user("owner@agency.example")  # the app's creator, not this meeting's host
    host = state.add_user("caseworker@agency.example")
    meeting = state.add_meeting(host, topic="Case conference", settings=COMPLIANT)
    assert state.start_ai_companion(meeting["id"])
    assert live_rig.sandbox.wait_for_webhooks(10)
    live_rig.drain(policy.load_profile('[live]\nwhen_stop_refused = "end_meeting"\n'))
    assert meeting["id"] not in state.live  # ended, and AI Companion with it
    actions = live_rig.audit()
    assert ("meeting.end", True) in actions
    assert ("ai_companion.stop", False) in actions
    [details] = [d for c, d in live_rig.alerts() if c == "meeting.ai_companion_started"]
    assert "ended the meeting" in details["failure"]


def test_the_hosts_own_recording_is_stopped_without_escalation(live_rig: LiveRig) -> None:
    state = live_rig.sandbox.state
    owner = state.add_user("owner@agency.example")
    meeting = state.add_meeting(owner, topic="Team", settings=COMPLIANT)
    state.start_recording(meeting["id"])
    assert live_rig.sandbox.wait_for_webhooks(10)
    live_rig.drain(policy.load_profile('[live]\nwhen_stop_refused = "end_meeting"\n'))
    assert state.live[meeting["id"]].recording_state == "stopped"
    assert ("recording.stop", True) in live_rig.audit()
    assert all(action != "meeting.end" for action, _ in live_rig.audit())


# -- sweeps (zoomguard sweep as a subprocess) ---------------------------------------------------


def _sweep(sandbox: SandboxServer, tmp_path: Path) -> CommandResult:
    result = run_zoomguard(["sweep"], zoomguard_env(sandbox, tmp_path / "sweep.db"))
    assert result.returncode == 0, result.stderr
    return result


def _patches(sandbox: SandboxServer) -> list[tuple[str, str, int]]:
    return [
        (r.path, r.query, r.status)
        for r in sandbox.state.request_log()
        if r.method == "PATCH" and r.path.startswith("/v2/meetings/")
    ]


def test_a_waiting_room_for_outsiders_only_is_fixed(tmp_path: Path) -> None:
    with SandboxServer(SandboxConfig()) as sandbox:
        state = sandbox.state
        host = state.add_user("host@agency.example")
        outsiders = {"mode": "custom", "who_goes_to_waiting_room": "users_not_in_account"}
        meeting = state.add_meeting(
            host, topic="Intake", settings={**COMPLIANT, "waiting_room_options": outsiders}
        )
        _sweep(sandbox, tmp_path)
        assert state.meetings[meeting["id"]]["settings"]["waiting_room_options"] == {
            "mode": "custom",
            "who_goes_to_waiting_room": "everyone",
        }
        assert _patches(sandbox) == [(f"/v2/meetings/{meeting['id']}", "", 204)]


FOLLOW_SETTING = {"mode": "follow_setting"}
EVERYONE_WAITS = {"mode": "custom", "who_goes_to_waiting_room": "everyone"}
# A meeting that follows the host's own waiting-room setting: it says so, or it has no options
# of its own at all (what the sandbox, like Zoom, returns for a meeting nobody set them on).
FOLLOWING_THE_HOST = [
    pytest.param({"waiting_room_options": FOLLOW_SETTING}, id="follow_setting"),
    pytest.param({}, id="no options"),
]


def _fixed_findings(database: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(database) as db:
        return list(db.execute("SELECT meeting_id, rule_id, status FROM findings ORDER BY id"))


@pytest.mark.parametrize("options", FOLLOWING_THE_HOST)
def test_following_a_host_setting_for_outsiders_only_is_fixed(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    with SandboxServer(SandboxConfig()) as sandbox:
        state = sandbox.state
        host = state.add_user("host@agency.example")
        state.settings.patch_user(host["id"], None, {"participants_to_place_in_waiting_room": 1})
        meeting = state.add_meeting(host, topic="Intake", settings={**COMPLIANT, **options})
        other = state.add_meeting(host, topic="Check-in", settings={**COMPLIANT, **options})
        assert ("waiting_room_options" in state.meetings[meeting["id"]]["settings"]) == bool(
            options
        )
        _sweep(sandbox, tmp_path)
        for fixed in (meeting, other):
            assert state.meetings[fixed["id"]]["settings"]["waiting_room_options"] == (
                EVERYONE_WAITS
            )
        assert sorted(_patches(sandbox)) == sorted(
            (f"/v2/meetings/{m['id']}", "", 204) for m in (meeting, other)
        )
        # The host's setting is read once for both meetings; each is re-read after its fix
        # and the re-read confirms it.
        log = state.request_log()
        settings_reads = [r for r in log if r.path == f"/v2/users/{host['id']}/settings"]
        assert [r.query for r in settings_reads] == ["option=meeting_security"]
        for fixed in (meeting, other):
            reads = [
                r for r in log if r.method == "GET" and r.path == f"/v2/meetings/{fixed['id']}"
            ]
            assert len(reads) == 2
        assert sorted(_fixed_findings(tmp_path / "sweep.db")) == sorted(
            (str(m["id"]), "waiting_room", "fixed") for m in (meeting, other)
        )


@pytest.mark.parametrize("options", FOLLOWING_THE_HOST)
def test_following_an_account_setting_for_everyone_is_left_alone(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    with SandboxServer(SandboxConfig()) as sandbox:
        state = sandbox.state
        host = state.add_user("host@agency.example")
        meetings = [
            state.add_meeting(host, topic=topic, settings={**COMPLIANT, **options})
            for topic in ("Intake", "Check-in")
        ]
        _sweep(sandbox, tmp_path)
        assert _patches(sandbox) == []
        for meeting in meetings:
            assert state.meetings[meeting["id"]]["settings"].get("waiting_room_options") == (
                options.get("waiting_room_options")
            )
        # One read of the host's setting for both meetings.
        settings_reads = [
            r.query for r in state.request_log() if r.path == f"/v2/users/{host['id']}/settings"
        ]
        assert settings_reads == ["option=meeting_security"]
        assert _fixed_findings(tmp_path / "sweep.db") == []


def test_a_meeting_not_following_the_setting_costs_no_settings_read(tmp_path: Path) -> None:
    with SandboxServer(SandboxConfig()) as sandbox:
        state = sandbox.state
        host = state.add_user("host@agency.example")
        state.add_meeting(
            host, topic="Intake", settings={**COMPLIANT, "waiting_room_options": EVERYONE_WAITS}
        )
        _sweep(sandbox, tmp_path)
        assert not [r for r in state.request_log() if r.path.endswith("/settings")]


NUMBERS_ONLY = {
    "length": 8,
    "have_number": True,
    "only_allow_numeric": True,
    "consecutive_characters_length": 4,
}


def test_on_a_numbers_only_account_every_passcode_fix_lands(tmp_path: Path) -> None:
    with SandboxServer(SandboxConfig()) as sandbox:
        state = sandbox.state
        state.settings.patch_account(
            {"meeting_password_requirement": {**REQUIREMENT_DEFAULTS, **NUMBERS_ONLY}}
        )
        hosts = [state.add_user(f"host{i}@agency.example") for i in range(3)]
        meetings = [
            state.add_meeting(
                host,
                topic=f"Review {i}",
                password="",
                settings={**COMPLIANT, "join_before_host": True, "waiting_room": False},
            )
            for i, host in enumerate(hosts * 2)
        ]
        _sweep(sandbox, tmp_path)
        patches = _patches(sandbox)
        assert len(patches) == len(meetings)
        assert {status for _, _, status in patches} == {204}  # no PATCH refused
        for meeting in meetings:
            now = state.meetings[meeting["id"]]
            assert now["password"].isdigit()
            assert len(now["password"]) >= NUMBERS_ONLY["length"]
            assert now["settings"]["waiting_room"] is True
            assert now["settings"]["join_before_host"] is False
        # The requirement is read once per host, not once per meeting.
        reads = [r for r in state.request_log() if r.path.endswith("/settings")]
        assert len(reads) == len(hosts)


def test_a_passcode_zoom_refuses_does_not_hold_back_the_other_fixes(tmp_path: Path) -> None:
    with SandboxServer(SandboxConfig()) as sandbox:
        state = sandbox.state
        # Longer than any meeting passcode Zoom accepts: no passcode can meet it.
        state.settings.patch_account(
            {"meeting_password_requirement": {**REQUIREMENT_DEFAULTS, "length": 12}}
        )
        host = state.add_user("host@agency.example")
        meeting = state.add_meeting(
            host, topic="Planning", password="", settings={**COMPLIANT, "waiting_room": False}
        )
        env = zoomguard_env(sandbox, tmp_path / "sweep.db")
        run_zoomguard(["sweep"], env)
        assert [status for _, _, status in _patches(sandbox)] == [400, 204]
        now = state.meetings[meeting["id"]]
        assert now["settings"]["waiting_room"] is True
        assert now["password"] == ""
        report = run_zoomguard(["report", "--format", "json"], env)
        assert "Zoom refused the new passcode" in report.stdout
        assert "at least 12 characters" in report.stdout


@pytest.mark.parametrize(
    "requirement",
    [
        NUMBERS_ONLY,
        {
            "length": 10,
            "have_letter": True,
            "have_number": True,
            "have_special_character": True,
            "have_upper_and_lower_characters": True,
            "consecutive_characters_length": 4,
        },
    ],
)
def test_passcodes_made_for_a_requirement_meet_it(requirement: dict[str, Any]) -> None:
    make = passcode_maker(PasscodeRequirement.from_settings(requirement))
    for _ in range(300):
        assert passcode_problem(make(), requirement) is None


# -- occurrences ----------------------------------------------------------------------------------


def _weekly_meeting_with_an_open_occurrence(sandbox: SandboxServer) -> tuple[int, str]:
    """A compliant weekly series whose next occurrence has the waiting room off (through
    Zoom's API, as a host would)."""
    state = sandbox.state
    host = state.add_user("host@agency.example")
    meeting = state.add_meeting(host, topic="Weekly support group", type=8, settings=COMPLIANT)
    occurrence_id = meeting["occurrences"][0]["occurrence_id"]
    update_occurrence(
        state, meeting["id"], occurrence_id, {"settings": {"waiting_room": False}}, operator_id=None
    )
    assert occurrence_view(state, meeting, occurrence_id)["settings"]["waiting_room"] is False
    return meeting["id"], occurrence_id


def test_a_sweep_fixes_an_occurrence_through_its_occurrence_id(tmp_path: Path) -> None:
    with SandboxServer(SandboxConfig()) as sandbox:
        meeting_id, occurrence_id = _weekly_meeting_with_an_open_occurrence(sandbox)
        state = sandbox.state
        _sweep(sandbox, tmp_path)
        assert _patches(sandbox) == [
            (f"/v2/meetings/{meeting_id}", f"occurrence_id={occurrence_id}", 204)
        ]
        view = occurrence_view(state, state.meetings[meeting_id], occurrence_id)
        assert view is not None
        assert view["settings"]["waiting_room"] is True
        # One read of the series, its next occurrence and one more in rotation (of its four),
        # not one per occurrence.
        reads = [
            r.query
            for r in state.request_log()
            if r.method == "GET" and r.path == f"/v2/meetings/{meeting_id}"
        ]
        assert reads.count(f"occurrence_id={occurrence_id}") == 2  # read, then re-read
        assert len(reads) == 4


def test_a_single_occurrence_changed_is_checked_at_once(live_rig: LiveRig) -> None:
    meeting_id, occurrence_id = _weekly_meeting_with_an_open_occurrence(live_rig.sandbox)
    assert live_rig.sandbox.wait_for_webhooks(10)
    live_rig.drain(policy.Profile())
    state = live_rig.sandbox.state
    view = occurrence_view(state, state.meetings[meeting_id], occurrence_id)
    assert view is not None
    assert view["settings"]["waiting_room"] is True
    patches = [
        r.query
        for r in state.request_log()
        if r.method == "PATCH" and r.path == f"/v2/meetings/{meeting_id}"
    ]
    assert patches == [f"occurrence_id={occurrence_id}"]
    assert (
        "meeting.update",
        True,
    ) in live_rig.audit()
