"""The sandbox's /v2 API: every endpoint answers as Zoom documents it (each response is checked
against the OpenAPI documents by ``Api``), with Zoom's paging, filters and error codes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import requests
from support.sandbox import Api, double_encode, running

from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.sandbox.model import LIST_ITEM_FIELDS

Account = tuple[SandboxServer, Api]


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    config = SandboxConfig(users=6, meetings=60, seed=7, enforce_rate_limits=False)
    with running(config) as (server, api):
        yield server, api


def first_user(server: SandboxServer) -> str:
    assert server.state.owner_id is not None
    return server.state.owner_id


def test_users_are_paged_with_next_page_token(account: Account) -> None:
    server, api = account
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        params = {"page_size": 4, **({"next_page_token": token} if token else {})}
        body = api.get("/users", params=params).json()
        assert body["total_records"] == 6
        seen += [u["id"] for u in body["users"]]
        token = body["next_page_token"]
        pages += 1
        if not token:
            break
    assert pages == 2
    assert seen == list(server.state.users)


def test_users_status_filter(account: Account) -> None:
    server, api = account
    extra = server.state.add_user("gone@example.org", status="inactive")
    try:
        inactive = api.get("/users", params={"status": "inactive"}).json()["users"]
        active = api.get("/users", params={"status": "active"}).json()["users"]
        assert [u["id"] for u in inactive] == [extra["id"]]
        assert extra["id"] not in {u["id"] for u in active}
    finally:
        with server.state.lock:
            del server.state.users[extra["id"]]


def test_bad_page_token_is_code_300(account: Account) -> None:
    _, api = account
    response = api.get("/users", params={"next_page_token": "nope"})
    assert response.status_code == 400
    assert response.json()["code"] == 300


def test_meeting_list_items_carry_only_list_fields(account: Account) -> None:
    server, api = account
    host = max(server.state.users, key=lambda uid: len(server.state.meetings_of(uid)))
    expected = {m["id"] for m in server.state.meetings_of(host) if m["type"] != 1}
    seen: set[int] = set()
    token = ""
    while True:
        params = {"page_size": 3, **({"next_page_token": token} if token else {})}
        body = api.get(f"/users/{host}/meetings", params=params).json()
        for item in body["meetings"]:
            assert set(item) <= set(LIST_ITEM_FIELDS) | {"pmi"}
            assert "settings" not in item
            assert len(item["agenda"]) <= 250
        seen |= {item["id"] for item in body["meetings"]}
        token = body["next_page_token"]
        if not token:
            break
    assert seen == expected


def test_meeting_list_type_filter(account: Account) -> None:
    server, api = account
    host = first_user(server)
    past = server.state.add_meeting(host, start_time=datetime.now(UTC) - timedelta(days=2))
    future = server.state.add_meeting(host, start_time=datetime.now(UTC) + timedelta(days=2))
    live = server.state.add_meeting(host)
    server.state.start_meeting(live["id"])
    try:

        def ids(kind: str) -> set[int]:
            body = api.get(f"/users/{host}/meetings", params={"type": kind, "page_size": 300})
            return {m["id"] for m in body.json()["meetings"]}

        assert past["id"] in ids("previous_meetings")
        assert past["id"] not in ids("upcoming")
        assert future["id"] in ids("upcoming")
        assert future["id"] not in ids("previous_meetings")
        assert ids("live") == {live["id"]}
        assert {past["id"], future["id"], live["id"]} <= ids("scheduled")
    finally:
        server.state.end_meeting(live["id"])
        for meeting in (past, future, live):
            server.state.delete_meeting(meeting["id"])


def test_get_meeting_has_settings_and_recurring_occurrences(account: Account) -> None:
    server, api = account
    recurring = next(m for m in server.state.meetings.values() if m["type"] == 8)
    body = api.get(f"/meetings/{recurring['id']}").json()
    assert body["settings"]["waiting_room"] in (True, False)
    assert len(body["occurrences"]) >= 3
    assert body["recurrence"]["type"] in (1, 2, 3)


def test_unknown_user_meeting_and_recording_codes(account: Account) -> None:
    _, api = account
    assert api.get("/users/nobody@example.org/meetings").json()["code"] == 1001
    missing = api.get("/meetings/12345678901")
    assert (missing.status_code, missing.json()["code"]) == (404, 3001)
    assert api.patch("/meetings/12345678901", {"topic": "x"}).json()["code"] == 3001
    assert api.get("/meetings/12345678901/recordings").json()["code"] == 3301


def test_invalid_patch_is_validation_failed(account: Account) -> None:
    server, api = account
    meeting_id = next(iter(server.state.meetings))
    response = api.patch(f"/meetings/{meeting_id}", {"settings": {"auto_recording": "tape"}})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 300
    assert body["errors"][0]["field"] == "settings.auto_recording"
    assert api.patch(f"/meetings/{meeting_id}", {"password": "x" * 11}).json()["code"] == 300


def test_patch_then_get_and_delete(account: Account) -> None:
    server, api = account
    meeting = server.state.add_meeting(first_user(server), topic="Old topic")
    response = api.patch(
        f"/meetings/{meeting['id']}",
        {"topic": "New topic", "settings": {"join_before_host": True, "jbh_time": 5}},
    )
    assert response.status_code == 204
    assert not response.content
    body = api.get(f"/meetings/{meeting['id']}").json()
    assert body["topic"] == "New topic"
    assert body["settings"]["join_before_host"] is True
    assert meeting["topic"] == "New topic"  # the dict add_meeting returned is the live one
    assert api.delete(f"/meetings/{meeting['id']}").status_code == 204
    assert api.get(f"/meetings/{meeting['id']}").status_code == 404


def test_create_meeting_uses_host_defaults(account: Account) -> None:
    server, api = account
    host = first_user(server)
    response = api.call(
        "POST", f"/users/{host}/meetings", json_body={"topic": "Created", "type": 2}
    )
    assert response.status_code == 201
    created = response.json()
    assert created["password"]  # the account requires a passcode for new meetings
    assert created["settings"]["waiting_room"] is True
    assert created["creation_source"] == "open_api"
    server.state.delete_meeting(created["id"])


def test_recordings_need_double_encoded_uuids(account: Account) -> None:
    server, api = account
    slashed = [m for m in server.state.meetings.values() if m["uuid"].startswith("/")]
    doubled = [m for m in server.state.meetings.values() if "//" in m["uuid"]]
    assert slashed, "the generator makes a UUID that starts with '/'"
    assert doubled, "the generator makes a UUID that contains '//'"
    for meeting in (slashed[0], doubled[0]):
        recording = server.state.complete_recording(meeting["id"])
        uuid = recording.uuid
        single = api.get(f"/meetings/{quote(uuid, safe='')}/recordings")
        assert single.status_code == 404
        found = api.get(f"/meetings/{double_encode(uuid)}/recordings")
        assert found.status_code == 200
        body = found.json()
        assert body["uuid"] == uuid
        assert body["recording_count"] == len(body["recording_files"]) == 3
        assert api.delete(f"/meetings/{double_encode(uuid)}/recordings").status_code == 204
        assert api.get(f"/meetings/{double_encode(uuid)}/recordings").json()["code"] == 3301


def test_a_uuid_with_one_slash_is_found_single_encoded(account: Account) -> None:
    # Only a leading "/" or a "//" needs double encoding; one "/" inside is sent as %2F once.
    server, api = account
    meeting = server.state.add_meeting(first_user(server), topic="Slash", uuid="ab/cdEF12gh==")
    recording = server.state.complete_recording(meeting["id"])
    assert "/" in recording.uuid
    assert not recording.uuid.startswith("/")
    assert "//" not in recording.uuid
    found = api.get(f"/meetings/{quote(recording.uuid, safe='')}/recordings")
    assert found.status_code == 200
    assert found.json()["uuid"] == recording.uuid


def test_recordings_by_meeting_id_and_user_listing(account: Account) -> None:
    server, api = account
    meeting = server.state.add_meeting(first_user(server), topic="Recorded")
    recording = server.state.complete_recording(meeting["id"])
    listed = api.get(f"/users/{meeting['host_id']}/recordings").json()
    assert recording.uuid in {m["uuid"] for m in listed["meetings"]}
    by_id = api.get(f"/meetings/{meeting['id']}/recordings").json()
    assert by_id["uuid"] == recording.uuid
    file_id = by_id["recording_files"][0]["id"]
    one = api.delete(f"/meetings/{meeting['id']}/recordings/{file_id}")
    assert one.status_code == 204
    assert len(api.get(f"/meetings/{meeting['id']}/recordings").json()["recording_files"]) == 2
    gone = api.delete(f"/meetings/{meeting['id']}/recordings", params={"action": "delete"})
    assert gone.status_code == 204
    assert server.state.recordings.get(recording.uuid) is None


def test_live_meeting_recording_stop_is_recorded(account: Account) -> None:
    server, api = account
    meeting = server.state.add_meeting(first_user(server), topic="Live")
    not_live = api.patch(f"/live_meetings/{meeting['id']}/events", {"method": "recording.stop"})
    assert not_live.status_code == 400
    server.state.start_recording(meeting["id"])
    before = len(server.state.recording_stops)
    response = api.patch(f"/live_meetings/{meeting['id']}/events", {"method": "recording.stop"})
    assert response.status_code == 202
    assert not response.content
    stops = server.state.recording_stops[before:]
    assert [(s.meeting_id, s.was_recording) for s in stops] == [(meeting["id"], True)]
    assert server.state.live[meeting["id"]].recording_state == "stopped"
    assert (
        api.patch(
            f"/live_meetings/{meeting['id']}/events", {"method": "recording.start"}
        ).status_code
        == 202
    )
    end = api.call("PUT", f"/meetings/{meeting['id']}/status", json_body={"action": "end"})
    assert end.status_code == 204
    assert meeting["id"] not in server.state.live


def test_groups_and_members(account: Account) -> None:
    server, api = account
    groups = api.get("/groups").json()
    assert {g["id"] for g in groups["groups"]} == set(server.state.groups)
    group_id = groups["groups"][0]["id"]
    assert api.get(f"/groups/{group_id}").json()["name"] == groups["groups"][0]["name"]
    members = api.get(f"/groups/{group_id}/members").json()
    assert members["total_records"] == server.state.groups[group_id]["total_members"]
    assert api.get("/groups/nope").json()["code"] == 4130


def test_get_user_and_me(account: Account) -> None:
    server, api = account
    owner = first_user(server)
    assert api.get(f"/users/{owner}").json()["id"] == owner
    email = server.state.users[owner]["email"]
    assert api.get(f"/users/{email}").json()["id"] == owner
    assert api.get("/users/me").json()["id"] == owner


def test_settings_endpoints_answer_per_option(account: Account) -> None:
    server, api = account
    owner = first_user(server)
    group_id = next(iter(server.state.groups))
    for path in (
        f"/users/{owner}/settings",
        f"/groups/{group_id}/settings",
        "/accounts/me/settings",
    ):
        plain = api.get(path).json()
        assert {"schedule_meeting", "in_meeting", "recording"} <= set(plain)
        assert "meeting_security" not in plain
        secure = api.get(path, params={"option": "meeting_security"}).json()
        assert set(secure) == {"meeting_security"}
        auth = api.get(path, params={"option": "meeting_authentication"}).json()
        assert "meeting_authentication" in auth
        recording = api.get(path, params={"option": "recording_authentication"}).json()
        assert "recording_authentication" in recording
        assert api.get(path, params={"option": "bogus"}).status_code == 400
    assert "security" in api.get("/accounts/me/settings", params={"option": "security"}).json()
    for path in (f"/groups/{group_id}/lock_settings", "/accounts/me/lock_settings"):
        assert "recording" in api.get(path).json()
        assert "meeting_security" in api.get(path, params={"option": "meeting_security"}).json()
    acct = server.config.account_id
    assert api.get(f"/accounts/{acct}/settings").status_code == 200
    assert api.get("/accounts/someone-else/settings").status_code == 404


def test_bearer_token_is_required(account: Account) -> None:
    server, api = account
    bare = requests.get(server.api_url + "/users", timeout=5)
    api.check("GET", "/users", bare)
    assert (bare.status_code, bare.json()["code"]) == (401, 124)
    wrong = api.get("/users", token="not-a-token")
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"code": 124, "message": "Invalid access token."},
    )
    empty = requests.get(server.api_url + "/users", headers={"Authorization": "Bearer"}, timeout=5)
    assert (empty.status_code, empty.json()) == (
        401,
        {"code": 4700, "message": "Token cannot be empty."},
    )
    in_query = requests.get(
        server.api_url + "/users", params={"access_token": api.token}, timeout=5
    )
    assert in_query.status_code == 401
    assert "query parameter" in in_query.json()["message"]


def test_unknown_endpoint(account: Account) -> None:
    server, api = account
    response = requests.get(
        server.api_url + "/nothing/here",
        headers={"Authorization": f"Bearer {api.token}"},
        timeout=5,
    )
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message"}


def test_request_log_records_each_call(account: Account) -> None:
    server, api = account
    meeting_id = next(iter(server.state.meetings))
    mark = len(server.state.request_log())
    api.patch(f"/meetings/{meeting_id}", {"agenda": "Logged"})
    records = server.state.request_log(mark)
    assert len(records) == 1
    record = records[0]
    assert (record.method, record.path, record.status, record.category) == (
        "PATCH",
        f"/v2/meetings/{meeting_id}",
        204,
        "light",
    )
    assert record.body == {"agenda": "Logged"}
    assert record.meeting_id == str(meeting_id)
    assert record.received_at <= record.responded_at
