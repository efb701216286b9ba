"""The sandbox's strict mode (issue #14): each switch makes it answer as Zoom does, checked over
HTTP with every response validated against Zoom's OpenAPI documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.openapi import validate_webhook
from support.sandbox import running

from zoomguard.sandbox import SandboxConfig
from zoomguard.sandbox.passcodes import REQUIREMENT_DEFAULTS

COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}


def test_only_the_host_or_an_alternative_host_controls_a_live_meeting() -> None:
    with running() as (server, api):
        state = server.state
        state.add_user("owner@agency.example")  # the app's creator
        host = state.add_user("host@agency.example")
        refused = state.add_meeting(host, settings=COMPLIANT)
        allowed = state.add_meeting(
            host, settings={**COMPLIANT, "alternative_hosts": "owner@agency.example"}
        )
        for meeting in (refused, allowed):
            state.start_recording(meeting["id"])
        stop = {"method": "recording.stop"}
        answer = api.patch(f"/live_meetings/{refused['id']}/events", stop)
        assert (answer.status_code, answer.json()) == (
            400,
            {"code": 200, "message": "No permission."},
        )
        assert state.live[refused["id"]].recording_state == "recording"
        assert api.patch(f"/live_meetings/{allowed['id']}/events", stop).status_code == 202
        assert state.live[allowed["id"]].recording_state == "stopped"
        # Ending the meeting ends its recording: the way out the escalation ladder takes.
        ended = api.call("PUT", f"/meetings/{refused['id']}/status", json_body={"action": "end"})
        assert ended.status_code == 204
        assert refused["id"] not in state.live


def test_the_lax_switch_lets_anyone_stop_a_recording() -> None:
    with running(SandboxConfig(live_controls_host_only=False)) as (server, api):
        state = server.state
        state.add_user("owner@agency.example")
        meeting = state.add_meeting(state.add_user("host@agency.example"), settings=COMPLIANT)
        state.start_recording(meeting["id"])
        stop = {"method": "recording.stop"}
        assert api.patch(f"/live_meetings/{meeting['id']}/events", stop).status_code == 202


def test_a_passcode_must_meet_the_hosts_requirement() -> None:
    with running() as (server, api):
        state = server.state
        host = state.add_user("host@agency.example")
        meeting = state.add_meeting(host, settings=COMPLIANT)
        requirement = {**REQUIREMENT_DEFAULTS, "only_allow_numeric": True, "length": 8}
        set_it = api.patch(
            "/accounts/me/settings",
            {"schedule_meeting": {"meeting_password_requirement": requirement}},
        )
        assert set_it.status_code == 204
        shown = api.get(f"/users/{host['id']}/settings", params={"option": "meeting_security"})
        assert shown.json()["meeting_security"]["meeting_password_requirement"] == requirement
        refused = api.patch(f"/meetings/{meeting['id']}", {"password": "Ab3*xY9-zQ"})
        assert refused.status_code == 400
        assert refused.json()["code"] == 300
        assert api.patch(f"/meetings/{meeting['id']}", {"password": "7316"}).status_code == 400
        assert api.patch(f"/meetings/{meeting['id']}", {"password": "73169420"}).status_code == 204
        assert state.meetings[meeting["id"]]["password"] == "73169420"


def test_turning_the_waiting_room_on_turns_join_before_host_off() -> None:
    with running() as (server, api):
        state = server.state
        host = state.add_user("host@agency.example")
        meeting = state.add_meeting(
            host, settings={**COMPLIANT, "waiting_room": False, "join_before_host": True}
        )
        api.patch(f"/meetings/{meeting['id']}", {"settings": {"waiting_room": True}})
        assert state.meetings[meeting["id"]]["settings"]["join_before_host"] is False


def test_waiting_room_options_are_validated_and_kept() -> None:
    with running() as (server, api):
        meeting = server.state.add_meeting(server.state.add_user(), settings=COMPLIANT)
        path = f"/meetings/{meeting['id']}"
        bad = {"settings": {"waiting_room_options": {"mode": "custom"}}}
        assert api.patch(path, bad).status_code == 400
        options = {"mode": "custom", "who_goes_to_waiting_room": "users_not_in_account"}
        assert api.patch(path, {"settings": {"waiting_room_options": options}}).status_code == 204
        assert api.get(path).json()["settings"]["waiting_room_options"] == options


def test_an_occurrence_has_its_own_settings() -> None:
    with running() as (server, api):
        state = server.state
        host = state.add_user("host@agency.example")
        series = state.add_meeting(host, type=8, occurrences=3, settings=COMPLIANT)
        first = series["occurrences"][0]["occurrence_id"]
        path = f"/meetings/{series['id']}"
        one = {"occurrence_id": first}
        changed = api.patch(path, {"settings": {"waiting_room": False}}, params=one)
        assert changed.status_code == 204
        assert api.get(path, params=one).json()["settings"]["waiting_room"] is False
        assert api.get(path).json()["settings"]["waiting_room"] is True  # the series is as it was
        # A passcode is the series', not an occurrence's.
        assert api.patch(path, {"password": "73169420"}, params=one).status_code == 400
        unknown = api.get(path, params={"occurrence_id": "1"}, check=False)
        assert unknown.status_code == 404
        assert server.wait_for_webhooks(10)
        updated = state.events_snapshot("meeting.updated")[-1]
        assert updated["payload"]["scope"] == "single"
        assert updated["payload"]["object"]["occurrences"][0]["occurrence_id"] == first
        validate_webhook("meeting.updated", updated)


def test_a_series_lists_only_its_upcoming_occurrences() -> None:
    with running() as (server, api):
        state = server.state
        start = datetime.now(UTC) - timedelta(days=8)
        series = state.add_meeting(state.add_user(), type=8, start_time=start, occurrences=4)
        path = f"/meetings/{series['id']}"
        assert len(api.get(path).json()["occurrences"]) == 2
        everything = api.get(path, params={"show_previous_occurrences": "true"})
        assert len(everything.json()["occurrences"]) == 4


def test_fuzzed_inputs_answer_as_zoom_does() -> None:
    with running() as (server, api):
        state = server.state
        host = state.add_user("host@agency.example")
        # A superscript digit is a digit to str.isdigit(), but no meeting has that id.
        assert api.get("/meetings/\u00b9", check=False).status_code == 404
        created = api.call(
            "POST",
            f"/users/{host['id']}/meetings",
            json_body={"topic": "Old", "start_time": "0999-01-01T10:00:00Z"},
        )
        assert created.status_code == 201
        assert created.json()["start_time"] == "0999-01-01T10:00:00Z"
        listed = api.get(f"/users/{host['id']}/meetings")
        assert listed.status_code == 200
        assert [m["start_time"] for m in listed.json()["meetings"]] == ["0999-01-01T10:00:00Z"]
