"""/v2 user, group and account endpoints, with their settings and lock settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zoomguard.sandbox import settings as st
from zoomguard.sandbox.model import user_list_item, user_view
from zoomguard.sandbox.replies import (
    ACCOUNT_SETTINGS_OPTIONS,
    SETTINGS_OPTIONS,
    Call,
    Reply,
    bad_page_token,
    error,
    page_size_arg,
    paging_fields,
    user_or_reply,
    validation_reply,
)

# -- users -------------------------------------------------------------------------------------


def list_users(call: Call) -> Reply:
    status = call.args.get("status") or "active"
    if status not in ("active", "inactive", "pending"):
        return error(400, 300, "Invalid field: status.")
    size = page_size_arg(call, 30, 2000)
    if isinstance(size, Reply):
        return size
    with call.state.lock:
        ids = [uid for uid, u in call.state.users.items() if u["status"] == status]
        page = call.state.paginate(f"users:{status}", ids, size, call.args.get("next_page_token"))
        if page is None:
            return bad_page_token()
        chunk, token, total = page
        users = [user_list_item(call.state.users[uid]) for uid in chunk if uid in call.state.users]
    return Reply(
        200,
        {
            **paging_fields(total, size, token),
            "users": users,
        },
    )


def get_user(call: Call, user_id: str) -> Reply:
    user = user_or_reply(call, user_id)
    if isinstance(user, Reply):
        return user
    with call.state.lock:
        return Reply(200, user_view(user, call.config.account_id))


# -- groups ------------------------------------------------------------------------------------


def list_groups(call: Call) -> Reply:
    with call.state.lock:
        groups = [dict(g) for g in call.state.groups.values()]
    return Reply(200, {"groups": groups, "total_records": len(groups), "next_page_token": ""})


def _group(call: Call, group_id: str) -> dict[str, Any] | Reply:
    group = call.state.groups.get(group_id)
    if group is None:
        return error(404, 4130, f"A group with this {group_id} does not exist.")
    return group


def get_group(call: Call, group_id: str) -> Reply:
    group = _group(call, group_id)
    return group if isinstance(group, Reply) else Reply(200, dict(group))


def group_members(call: Call, group_id: str) -> Reply:
    group = _group(call, group_id)
    if isinstance(group, Reply):
        return group
    size = page_size_arg(call, 30, 300)
    if isinstance(size, Reply):
        return size
    state = call.state
    with state.lock:
        ids = [uid for uid, u in state.users.items() if group_id in u.get("group_ids", [])]
        page = state.paginate(f"members:{group_id}", ids, size, call.args.get("next_page_token"))
        if page is None:
            return bad_page_token()
        chunk, token, total = page
        members = [
            {
                "id": uid,
                "email": state.users[uid]["email"],
                "first_name": state.users[uid]["first_name"],
                "last_name": state.users[uid]["last_name"],
                "type": state.users[uid]["type"],
            }
            for uid in chunk
            if uid in state.users
        ]
    return Reply(
        200,
        {
            "members": members,
            **paging_fields(total, size, token),
        },
    )


# -- settings ----------------------------------------------------------------------------------


def _option(call: Call, allowed: tuple[str, ...]) -> str | Reply | None:
    option = call.args.get("option") or None
    if option is not None and option not in allowed:
        return error(400, 300, "Invalid field: option.")
    return option


def _render(level: str, values: Mapping[str, Any], option: str | None) -> dict[str, Any]:
    if option == "recording_authentication":
        return {"recording_authentication": False, "authentication_options": []}
    if option == "security":  # account-only: sign-in and admin rights, not meeting security
        return {"security": {"admin_change_name_pic": False, "admin_change_user_info": False}}
    return st.render(level, values, option)


def _patch_body(call: Call) -> dict[str, Any] | Reply:
    if not isinstance(call.body, dict):
        return error(400, 300, "Request Body should be a valid JSON object.")
    return call.body


def get_user_settings(call: Call, user_id: str) -> Reply:
    user = user_or_reply(call, user_id)
    if isinstance(user, Reply):
        return user
    option = _option(call, SETTINGS_OPTIONS)
    if isinstance(option, Reply):
        return option
    with call.state.lock:
        values = call.state.settings.user_values(user["id"], call.state.group_of(user["id"]))
    return Reply(200, _render(st.USER, values, option))


def patch_user_settings(call: Call, user_id: str) -> Reply:
    user = user_or_reply(call, user_id)
    if isinstance(user, Reply):
        return user
    body = _patch_body(call)
    if isinstance(body, Reply):
        return body
    try:
        changes = st.parse_patch(st.USER, body)
    except st.SettingsError as exc:
        return validation_reply(exc)
    with call.state.lock:
        call.state.settings.patch_user(user["id"], call.state.group_of(user["id"]), changes)
    return Reply(204)


def get_group_settings(call: Call, group_id: str) -> Reply:
    group = _group(call, group_id)
    if isinstance(group, Reply):
        return group
    option = _option(call, SETTINGS_OPTIONS)
    if isinstance(option, Reply):
        return option
    with call.state.lock:
        values = call.state.settings.group_values(group_id)
    return Reply(200, _render(st.GROUP, values, option))


def patch_group_settings(call: Call, group_id: str) -> Reply:
    group = _group(call, group_id)
    if isinstance(group, Reply):
        return group
    body = _patch_body(call)
    if isinstance(body, Reply):
        return body
    try:
        changes = st.parse_patch(st.GROUP, body)
    except st.SettingsError as exc:
        return validation_reply(exc)
    with call.state.lock:
        call.state.settings.patch_group(group_id, changes)
    return Reply(204)


def get_group_locks(call: Call, group_id: str) -> Reply:
    group = _group(call, group_id)
    if isinstance(group, Reply):
        return group
    with call.state.lock:
        values = call.state.settings.group_lock_values(group_id)
    return Reply(200, st.render(st.GROUP_LOCK, values, call.args.get("option") or None))


def patch_group_locks(call: Call, group_id: str) -> Reply:
    group = _group(call, group_id)
    if isinstance(group, Reply):
        return group
    body = _patch_body(call)
    if isinstance(body, Reply):
        return body
    try:
        changes = st.parse_patch(st.GROUP_LOCK, body, locks=True)
    except st.SettingsError as exc:
        return validation_reply(exc)
    with call.state.lock:
        call.state.settings.patch_group_locks(group_id, changes)
    return Reply(204)


def _account(call: Call, account_id: str) -> Reply | None:
    if account_id not in ("me", call.config.account_id):
        return error(404, 2001, f"Account does not exist: {account_id}.")
    return None


def get_account_settings(call: Call, account_id: str) -> Reply:
    missing = _account(call, account_id)
    if missing is not None:
        return missing
    option = _option(call, ACCOUNT_SETTINGS_OPTIONS)
    if isinstance(option, Reply):
        return option
    with call.state.lock:
        values = call.state.settings.account_values()
    return Reply(200, _render(st.ACCOUNT, values, option))


def patch_account_settings(call: Call, account_id: str) -> Reply:
    missing = _account(call, account_id)
    if missing is not None:
        return missing
    body = _patch_body(call)
    if isinstance(body, Reply):
        return body
    try:
        changes = st.parse_patch(st.ACCOUNT, body)
    except st.SettingsError as exc:
        return validation_reply(exc)
    with call.state.lock:
        call.state.settings.patch_account(changes)
    return Reply(204)


def get_account_locks(call: Call, account_id: str) -> Reply:
    missing = _account(call, account_id)
    if missing is not None:
        return missing
    with call.state.lock:
        values = call.state.settings.account_lock_values()
    return Reply(200, st.render(st.ACCOUNT_LOCK, values, call.args.get("option") or None))


def patch_account_locks(call: Call, account_id: str) -> Reply:
    missing = _account(call, account_id)
    if missing is not None:
        return missing
    body = _patch_body(call)
    if isinstance(body, Reply):
        return body
    try:
        changes = st.parse_patch(st.ACCOUNT_LOCK, body, locks=True)
    except st.SettingsError as exc:
        return validation_reply(exc)
    with call.state.lock:
        call.state.settings.patch_account_locks(changes)
    return Reply(204)
