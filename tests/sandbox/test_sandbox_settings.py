"""Settings inheritance (account → group → user), lock_settings, and what Zoom enforces on a
meeting PATCH: locked settings win, and forced security switches the waiting room back on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.sandbox import Api, running

from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.sandbox.settings import (
    ACCOUNT,
    GROUP,
    USER,
    SettingsError,
    SettingsTree,
    parse_patch,
)

Account = tuple[SandboxServer, Api, dict[str, Any]]


@pytest.fixture
def account() -> Iterator[Account]:
    with running(SandboxConfig(enforce_rate_limits=False)) as (server, api):
        state = server.state
        group = state.add_group("Staff")
        owner = state.add_user("owner@example.org")
        member = state.add_user("member@example.org", group_id=group["id"])
        loner = state.add_user("loner@example.org")
        yield server, api, {"group": group["id"], "owner": owner, "member": member, "loner": loner}


def user_settings(api: Api, user_id: str, **params: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/users/{user_id}/settings", params=params or None).json()
    return body


def test_account_value_is_inherited_by_group_and_user(account: Account) -> None:
    _, api, ids = account
    assert (
        api.patch("/accounts/me/settings", {"in_meeting": {"file_transfer": False}}).status_code
        == 204
    )
    assert (
        api.get(f"/groups/{ids['group']}/settings").json()["in_meeting"]["file_transfer"] is False
    )
    assert user_settings(api, ids["member"]["id"])["in_meeting"]["file_transfer"] is False
    assert user_settings(api, ids["loner"]["id"])["in_meeting"]["file_transfer"] is False


def test_group_then_user_override_without_locks(account: Account) -> None:
    _, api, ids = account
    group, member = ids["group"], ids["member"]["id"]
    api.patch(f"/groups/{group}/settings", {"schedule_meeting": {"join_before_host": True}})
    assert user_settings(api, member)["schedule_meeting"]["join_before_host"] is True
    assert user_settings(api, ids["loner"]["id"])["schedule_meeting"]["join_before_host"] is False
    api.patch(f"/users/{member}/settings", {"schedule_meeting": {"join_before_host": False}})
    assert user_settings(api, member)["schedule_meeting"]["join_before_host"] is False


def test_account_lock_wins_over_group_and_user(account: Account) -> None:
    _, api, ids = account
    group, member = ids["group"], ids["member"]["id"]
    api.patch(f"/users/{member}/settings", {"recording": {"cloud_recording": True}})
    api.patch("/accounts/me/settings", {"recording": {"cloud_recording": False}})
    locked = api.patch("/accounts/me/lock_settings", {"recording": {"cloud_recording": True}})
    assert locked.status_code == 204
    # The earlier user override no longer counts, and new ones are ignored.
    assert user_settings(api, member)["recording"]["cloud_recording"] is False
    api.patch(f"/users/{member}/settings", {"recording": {"cloud_recording": True}})
    api.patch(f"/groups/{group}/settings", {"recording": {"cloud_recording": True}})
    assert user_settings(api, member)["recording"]["cloud_recording"] is False
    assert api.get(f"/groups/{group}/settings").json()["recording"]["cloud_recording"] is False
    assert api.get("/accounts/me/lock_settings").json()["recording"]["cloud_recording"] is True
    assert api.get(f"/groups/{group}/lock_settings").json()["recording"]["cloud_recording"] is True


def test_group_lock_wins_over_user(account: Account) -> None:
    _, api, ids = account
    group, member = ids["group"], ids["member"]["id"]
    api.patch(f"/groups/{group}/settings", {"in_meeting": {"file_transfer": False}})
    api.patch(f"/groups/{group}/lock_settings", {"in_meeting": {"file_transfer": True}})
    api.patch(f"/users/{member}/settings", {"in_meeting": {"file_transfer": True}})
    assert user_settings(api, member)["in_meeting"]["file_transfer"] is False
    # A user outside the group is not bound by the group's lock.
    api.patch(f"/users/{ids['loner']['id']}/settings", {"in_meeting": {"file_transfer": False}})
    assert user_settings(api, ids["loner"]["id"])["in_meeting"]["file_transfer"] is False


def test_waiting_room_lives_under_meeting_security_on_the_account(account: Account) -> None:
    _, api, ids = account
    api.patch(
        "/accounts/me/settings",
        {"meeting_security": {"waiting_room": False}},
        params={"option": "meeting_security"},
    )
    account_view = api.get("/accounts/me/settings", params={"option": "meeting_security"}).json()
    assert account_view["meeting_security"]["waiting_room"] is False
    user_view = user_settings(api, ids["loner"]["id"])
    assert user_view["in_meeting"]["waiting_room"] is False
    secure = user_settings(api, ids["loner"]["id"], option="meeting_security")
    assert secure["meeting_security"]["waiting_room"] is False


def test_locked_cloud_recording_off_leaves_auto_recording_none(account: Account) -> None:
    server, api, ids = account
    api.patch("/accounts/me/settings", {"recording": {"cloud_recording": False}})
    api.patch("/accounts/me/lock_settings", {"recording": {"cloud_recording": True}})
    meeting = server.state.add_meeting(ids["member"])
    assert (
        api.patch(
            f"/meetings/{meeting['id']}", {"settings": {"auto_recording": "cloud"}}
        ).status_code
        == 204
    )
    assert api.get(f"/meetings/{meeting['id']}").json()["settings"]["auto_recording"] == "none"
    # Local recording is still allowed.
    api.patch(f"/meetings/{meeting['id']}", {"settings": {"auto_recording": "local"}})
    assert api.get(f"/meetings/{meeting['id']}").json()["settings"]["auto_recording"] == "local"


def test_locked_waiting_room_on_cannot_be_patched_off(account: Account) -> None:
    server, api, ids = account
    api.patch(
        "/accounts/me/lock_settings",
        {"meeting_security": {"waiting_room": True}},
    )
    meeting = server.state.add_meeting(ids["loner"], password="abc123")
    api.patch(f"/meetings/{meeting['id']}", {"settings": {"waiting_room": False}})
    assert api.get(f"/meetings/{meeting['id']}").json()["settings"]["waiting_room"] is True


def test_group_lock_applies_to_meetings_of_its_members(account: Account) -> None:
    server, api, ids = account
    group = ids["group"]
    api.patch(f"/groups/{group}/lock_settings", {"schedule_meeting": {"join_before_host": True}})
    member_meeting = server.state.add_meeting(ids["member"])
    loner_meeting = server.state.add_meeting(ids["loner"])
    for meeting in (member_meeting, loner_meeting):
        api.patch(f"/meetings/{meeting['id']}", {"settings": {"join_before_host": True}})
    assert (
        api.get(f"/meetings/{member_meeting['id']}").json()["settings"]["join_before_host"] is False
    )
    assert (
        api.get(f"/meetings/{loner_meeting['id']}").json()["settings"]["join_before_host"] is True
    )


def test_a_lock_overrides_only_what_the_patch_asks_for(account: Account) -> None:
    server, api, ids = account
    meeting = server.state.add_meeting(ids["loner"], settings={"join_before_host": True})
    api.patch("/accounts/me/lock_settings", {"schedule_meeting": {"join_before_host": True}})
    api.patch(f"/meetings/{meeting['id']}", {"topic": "Renamed"})
    assert api.get(f"/meetings/{meeting['id']}").json()["settings"]["join_before_host"] is True
    api.patch(f"/meetings/{meeting['id']}", {"settings": {"join_before_host": True}})
    assert api.get(f"/meetings/{meeting['id']}").json()["settings"]["join_before_host"] is False


def test_forced_security_turns_the_waiting_room_back_on(account: Account) -> None:
    server, api, ids = account
    meeting = server.state.add_meeting(ids["loner"], password="abc123")
    api.patch(f"/meetings/{meeting['id']}", {"password": "", "settings": {"waiting_room": False}})
    body = api.get(f"/meetings/{meeting['id']}").json()
    assert body["password"] == ""
    assert body["settings"]["waiting_room"] is True
    # With a passcode kept, the waiting room may go.
    other = server.state.add_meeting(ids["loner"], password="abc123")
    api.patch(f"/meetings/{other['id']}", {"settings": {"waiting_room": False}})
    assert api.get(f"/meetings/{other['id']}").json()["settings"]["waiting_room"] is False


def test_forced_security_off_allows_an_unsecured_meeting(account: Account) -> None:
    server, api, ids = account
    api.patch(
        "/accounts/me/settings",
        {"meeting_security": {"auto_security": False}},
        params={"option": "meeting_security"},
    )
    meeting = server.state.add_meeting(ids["loner"], password="abc123")
    api.patch(f"/meetings/{meeting['id']}", {"password": "", "settings": {"waiting_room": False}})
    assert api.get(f"/meetings/{meeting['id']}").json()["settings"]["waiting_room"] is False


def test_locked_passcode_requirement_keeps_the_passcode(account: Account) -> None:
    server, api, ids = account
    api.patch(
        "/accounts/me/lock_settings",
        {"schedule_meeting": {"require_password_for_scheduling_new_meetings": True}},
    )
    meeting = server.state.add_meeting(ids["loner"], password="keep42")
    api.patch(f"/meetings/{meeting['id']}", {"password": ""})
    assert api.get(f"/meetings/{meeting['id']}").json()["password"] == "keep42"


def test_settings_patch_with_wrong_type_is_code_300(account: Account) -> None:
    _, api, _ = account
    response = api.patch("/accounts/me/settings", {"recording": {"auto_recording": True}})
    assert (response.status_code, response.json()["code"]) == (400, 300)
    locks = api.patch("/accounts/me/lock_settings", {"recording": {"cloud_recording": "yes"}})
    assert locks.status_code == 400


def test_settings_tree_unit() -> None:
    tree = SettingsTree()
    tree.patch_account({"join_before_host": False})
    tree.patch_group("g", {"join_before_host": True})
    assert tree.user_value("u", "g", "join_before_host") is True
    assert tree.user_value("u", None, "join_before_host") is False
    tree.patch_account_locks({"join_before_host": True})
    assert tree.user_value("u", "g", "join_before_host") is False
    assert tree.patch_user("u", "g", {"join_before_host": True}) == []


def test_parse_patch_maps_level_paths_to_logical_names() -> None:
    body = {
        "in_meeting": {"waiting_room": True, "unknown_key": 1},
        "recording": {"local_recording": False},
    }
    assert parse_patch(USER, body) == {"waiting_room": True, "local_recording": False}
    # The account keeps its waiting room under meeting_security only.
    assert parse_patch(ACCOUNT, body) == {"local_recording": False}
    assert parse_patch(GROUP, {"meeting_security": {"waiting_room": False}}) == {
        "waiting_room": False
    }
    with pytest.raises(SettingsError):
        parse_patch(USER, {"recording": {"auto_recording": "tape"}})
