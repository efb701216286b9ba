"""The /v2 endpoints: each handler turns one call into a ``Reply`` with Zoom's status, body and
error codes. HTTP plumbing (auth, limits, latency, faults, the request log) is in app.py."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from zoomguard.sandbox import settings as st
from zoomguard.sandbox.config import LIGHT, MEDIUM, SandboxConfig
from zoomguard.sandbox.meetings import EXAMPLE_BASE, MeetingValidationError, validate_patch
from zoomguard.sandbox.model import list_item, meeting_view, parse_iso, user_list_item, user_view
from zoomguard.sandbox.oauth import AccessToken
from zoomguard.sandbox.ratelimit import next_utc_midnight
from zoomguard.sandbox.state import SandboxState

LIVE_METHODS = (
    "recording.start",
    "recording.stop",
    "recording.pause",
    "recording.resume",
    "participant.invite",
    "participant.invite.callout",
    "participant.invite.room_system_callout",
    "waiting_room.update",
    "ai_companion.start",
    "ai_companion.stop",
    "ai_companion.disable",
    "participant.remove",
)
MEETING_LIST_TYPES = ("scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings")
SETTINGS_OPTIONS = ("meeting_authentication", "recording_authentication", "meeting_security")
ACCOUNT_SETTINGS_OPTIONS = (*SETTINGS_OPTIONS, "security")


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, code: int, message: str, **extra: Any) -> Reply:
    return Reply(status, {"code": code, "message": message, **extra})


def daily_cap_reply(limit: int, now: datetime) -> Reply:
    reply = error(
        429,
        429,
        f"You have exceeded the daily rate limit ({limit}) of Meeting Create/Update API requests "
        "permitted for this particular user. You may resume these requests at GMT 00:00:00.",
    )
    reply.headers.update(
        {
            "X-RateLimit-Category": "Light",
            "X-RateLimit-Type": "Daily-limit",
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0",
            "Retry-After": next_utc_midnight(now).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    return reply


@dataclass
class Call:
    state: SandboxState
    config: SandboxConfig
    token: AccessToken
    args: Mapping[str, str]
    body: Any
    received_at: float


Handler = Callable[..., Reply]


def _page_size(call: Call, default: int, maximum: int) -> int | Reply:
    raw = call.args.get("page_size")
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        return error(400, 300, "Invalid field: page_size.")
    return max(1, min(value, maximum))


def _paging(total: int, size: int, token: str) -> dict[str, Any]:
    """The paging fields every Zoom list response carries."""
    return {
        "page_count": math.ceil(total / size) if total else 0,
        "page_size": size,
        "total_records": total,
        "next_page_token": token,
    }


def _bad_token() -> Reply:
    return error(400, 300, "The next page token is invalid or expired.")


def _user(call: Call, user_id: str) -> dict[str, Any] | Reply:
    user = call.state.find_user(user_id, me=call.token.user_id)
    if user is None:
        return error(404, 1001, f"User does not exist: {user_id}.")
    return user


def _meeting(call: Call, meeting_id: str) -> dict[str, Any] | Reply:
    meeting = call.state.find_meeting(meeting_id)
    if meeting is None:
        return error(404, 3001, f"Meeting does not exist: {meeting_id}.")
    return meeting


def _validation(exc: MeetingValidationError | st.SettingsError) -> Reply:
    message = exc.message if isinstance(exc, MeetingValidationError) else str(exc)
    return error(400, 300, "Validation Failed.", errors=[{"field": exc.field, "message": message}])


# -- users -------------------------------------------------------------------------------------


def list_users(call: Call) -> Reply:
    status = call.args.get("status") or "active"
    if status not in ("active", "inactive", "pending"):
        return error(400, 300, "Invalid field: status.")
    size = _page_size(call, 30, 2000)
    if isinstance(size, Reply):
        return size
    with call.state.lock:
        ids = [uid for uid, u in call.state.users.items() if u["status"] == status]
        page = call.state.paginate(f"users:{status}", ids, size, call.args.get("next_page_token"))
        if page is None:
            return _bad_token()
        chunk, token, total = page
        users = [user_list_item(call.state.users[uid]) for uid in chunk if uid in call.state.users]
    return Reply(
        200,
        {
            **_paging(total, size, token),
            "users": users,
        },
    )


def get_user(call: Call, user_id: str) -> Reply:
    user = _user(call, user_id)
    if isinstance(user, Reply):
        return user
    with call.state.lock:
        return Reply(200, user_view(user, call.config.account_id))


# -- meetings ----------------------------------------------------------------------------------


def _in_window(meeting: Mapping[str, Any], start: date | None, end: date | None) -> bool:
    if start is None and end is None:
        return True
    if "start_time" not in meeting:
        return True
    day = parse_iso(meeting["start_time"]).date()
    return (start is None or day >= start) and (end is None or day <= end)


def _listed(meeting: Mapping[str, Any], kind: str, now: datetime) -> bool:
    if meeting["type"] == 1:
        return False  # instant meetings are never listed
    if kind == "scheduled":
        return True
    if kind == "live":
        return meeting.get("status") == "started"
    begins = meeting.get("start_time")
    recurring = meeting["type"] in (3, 8)
    if kind in ("upcoming", "upcoming_meetings"):
        return (
            recurring
            or meeting.get("status") == "started"
            or (begins is not None and parse_iso(begins) >= now)
        )
    return begins is not None and parse_iso(begins) < now  # previous_meetings


def _date_arg(call: Call, name: str) -> date | Reply | None:
    raw = call.args.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return error(400, 300, f"Invalid field: {name}.")


def list_meetings(call: Call, user_id: str) -> Reply:
    user = _user(call, user_id)
    if isinstance(user, Reply):
        return user
    kind = call.args.get("type") or "scheduled"
    if kind not in MEETING_LIST_TYPES:
        return error(400, 300, "Invalid field: type.")
    size = _page_size(call, 30, 300)
    if isinstance(size, Reply):
        return size
    start, end = _date_arg(call, "from"), _date_arg(call, "to")
    if isinstance(start, Reply):
        return start
    if isinstance(end, Reply):
        return end
    now = datetime.now(UTC)
    state = call.state
    with state.lock:
        ids = [
            m["id"]
            for m in state.meetings_of(user["id"])
            if _listed(m, kind, now) and _in_window(m, start, end)
        ]
        key = f"meetings:{user['id']}:{kind}:{start}:{end}"
        page = state.paginate(key, ids, size, call.args.get("next_page_token"))
        if page is None:
            return _bad_token()
        chunk, token, total = page
        items = [list_item(state.meetings[mid]) for mid in chunk if mid in state.meetings]
        state.after_listed([item["id"] for item in items])
    return Reply(
        200,
        {
            **_paging(total, size, token),
            "meetings": items,
        },
    )


def create_meeting(call: Call, user_id: str) -> Reply:
    user = _user(call, user_id)
    if isinstance(user, Reply):
        return user
    body = call.body if call.body is not None else {}
    try:
        validate_patch(body)
    except MeetingValidationError as exc:
        return _validation(exc)
    if not call.state.update_counter.try_count(user["id"], call.config.daily_update_limit):
        return daily_cap_reply(call.config.daily_update_limit, datetime.now(UTC))
    meeting = call.state.create_meeting(user, body, operator_id=call.token.user_id)
    with call.state.lock:
        return Reply(201, meeting_view(meeting))


def get_meeting(call: Call, meeting_id: str) -> Reply:
    meeting = _meeting(call, meeting_id)
    if isinstance(meeting, Reply):
        return meeting
    with call.state.lock:
        return Reply(200, meeting_view(meeting))


def patch_meeting(call: Call, meeting_id: str) -> Reply:
    meeting = _meeting(call, meeting_id)
    if isinstance(meeting, Reply):
        return meeting
    try:
        validate_patch(call.body if call.body is not None else {})
    except MeetingValidationError as exc:
        return _validation(exc)
    if not call.state.update_counter.try_count(meeting["host_id"], call.config.daily_update_limit):
        return daily_cap_reply(call.config.daily_update_limit, datetime.now(UTC))
    try:
        call.state.update_meeting(meeting["id"], call.body or {}, operator_id=call.token.user_id)
    except KeyError:  # deleted meanwhile
        return error(404, 3001, f"Meeting does not exist: {meeting_id}.")
    return Reply(204)


def delete_meeting(call: Call, meeting_id: str) -> Reply:
    meeting = _meeting(call, meeting_id)
    if isinstance(meeting, Reply):
        return meeting
    if not call.state.delete_meeting(meeting["id"], operator_id=call.token.user_id):
        return error(404, 3001, f"Meeting does not exist: {meeting_id}.")
    return Reply(204)


def meeting_status(call: Call, meeting_id: str) -> Reply:
    meeting = _meeting(call, meeting_id)
    if isinstance(meeting, Reply):
        return meeting
    action = call.body.get("action") if isinstance(call.body, dict) else None
    if action not in ("end", "recover"):
        return error(400, 300, "Invalid field: action.")
    if action == "end":
        call.state.end_meeting(meeting["id"])
    return Reply(204)


def live_meeting_events(call: Call, meeting_id: str) -> Reply:
    body = call.body if isinstance(call.body, dict) else {}
    method = body.get("method")
    if method not in LIVE_METHODS:
        return error(400, 300, "Invalid field: method.")
    state = call.state
    with state.lock:
        meeting = state.find_meeting(meeting_id)
        if meeting is None:
            return error(404, 3001, f"Meeting {meeting_id} is not found or has expired.")
        live = state.live.get(meeting["id"])
        if live is None:
            return error(400, 300, "Meeting does not exist.")
        if method == "recording.stop":
            was_recording = live.recording_state in ("recording", "paused")
            state.record_stop_request(meeting["id"], was_recording, call.received_at)
            state.stop_recording(meeting["id"])
        elif method == "recording.start":
            host = meeting["host_id"]
            if not state.settings.user_value(host, state.group_of(host), "cloud_recording"):
                return error(400, 300, "Cloud recording is not enabled for this user.")
            state.start_recording(meeting["id"])
        elif method == "recording.pause" and live.recording_state == "recording":
            live.recording_state = "paused"
        elif method == "recording.resume" and live.recording_state == "paused":
            live.recording_state = "recording"
    return Reply(202)


# -- recordings --------------------------------------------------------------------------------


def get_recordings(call: Call, meeting_id: str) -> Reply:
    with call.state.lock:
        found = call.state.recordings_of(meeting_id)
        if not found:
            return error(404, 3301, "There is no recording for this meeting.")
        body = found[0].api_view(call.config.account_id, EXAMPLE_BASE)
    body["download_access_token"] = secrets.token_urlsafe(48)
    return Reply(200, body)


def delete_recordings(call: Call, meeting_id: str) -> Reply:
    action = call.args.get("action") or "trash"
    if action not in ("trash", "delete"):
        return error(400, 300, "Invalid field: action.")
    with call.state.lock:
        found = call.state.recordings_of(meeting_id)
        if not found:
            return error(404, 3301, "There is no recording for this meeting.")
        call.state.remove_recording(found[0], action=action, operator_id=call.token.user_id)
    return Reply(204)


def delete_recording_file(call: Call, meeting_id: str, recording_id: str) -> Reply:
    action = call.args.get("action") or "trash"
    if action not in ("trash", "delete"):
        return error(400, 300, "Invalid field: action.")
    with call.state.lock:
        for recording in call.state.recordings_of(meeting_id):
            for file in recording.files:
                if file.id == recording_id:
                    recording.files.remove(file)
                    if not recording.files:
                        call.state.recordings.pop(recording.uuid, None)
                    return Reply(204)
    return error(404, 3301, "There is no recording for this meeting.")


def list_user_recordings(call: Call, user_id: str) -> Reply:
    user = _user(call, user_id)
    if isinstance(user, Reply):
        return user
    size = _page_size(call, 30, 300)
    if isinstance(size, Reply):
        return size
    start, end = _date_arg(call, "from"), _date_arg(call, "to")
    if isinstance(start, Reply):
        return start
    if isinstance(end, Reply):
        return end
    today = datetime.now(UTC).date()
    start = start or today - timedelta(days=1)
    end = end or today
    trash = call.args.get("trash") == "true"
    state = call.state
    with state.lock:
        uuids = [
            r.uuid
            for r in state.recordings.values()
            if r.host_id == user["id"]
            and r.trashed == trash
            and start <= parse_iso(r.start_time).date() <= end
        ]
        key = f"recordings:{user['id']}:{trash}:{start}:{end}"
        page = state.paginate(key, uuids, size, call.args.get("next_page_token"))
        if page is None:
            return _bad_token()
        chunk, token, total = page
        items = [
            state.recordings[u].api_view(call.config.account_id, EXAMPLE_BASE)
            for u in chunk
            if u in state.recordings
        ]
    return Reply(
        200,
        {
            "from": start.isoformat(),
            "to": end.isoformat(),
            **_paging(total, size, token),
            "meetings": items,
        },
    )


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
    size = _page_size(call, 30, 300)
    if isinstance(size, Reply):
        return size
    state = call.state
    with state.lock:
        ids = [uid for uid, u in state.users.items() if group_id in u.get("group_ids", [])]
        page = state.paginate(f"members:{group_id}", ids, size, call.args.get("next_page_token"))
        if page is None:
            return _bad_token()
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
            **_paging(total, size, token),
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
    user = _user(call, user_id)
    if isinstance(user, Reply):
        return user
    option = _option(call, SETTINGS_OPTIONS)
    if isinstance(option, Reply):
        return option
    with call.state.lock:
        values = call.state.settings.user_values(user["id"], call.state.group_of(user["id"]))
    return Reply(200, _render(st.USER, values, option))


def patch_user_settings(call: Call, user_id: str) -> Reply:
    user = _user(call, user_id)
    if isinstance(user, Reply):
        return user
    body = _patch_body(call)
    if isinstance(body, Reply):
        return body
    try:
        changes = st.parse_patch(st.USER, body)
    except st.SettingsError as exc:
        return _validation(exc)
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
        return _validation(exc)
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
        return _validation(exc)
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
        return _validation(exc)
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
        return _validation(exc)
    with call.state.lock:
        call.state.settings.patch_account_locks(changes)
    return Reply(204)


# (path under /v2, {method: (handler, rate-limit category)}) — categories from each operation's
# "Rate Limit Label" in Zoom's OpenAPI documents.
ROUTES: tuple[tuple[str, dict[str, tuple[Handler, str]]], ...] = (
    ("/users", {"GET": (list_users, MEDIUM)}),
    ("/users/<user_id>", {"GET": (get_user, LIGHT)}),
    (
        "/users/<user_id>/meetings",
        {"GET": (list_meetings, MEDIUM), "POST": (create_meeting, LIGHT)},
    ),
    ("/users/<user_id>/recordings", {"GET": (list_user_recordings, MEDIUM)}),
    (
        "/users/<user_id>/settings",
        {"GET": (get_user_settings, MEDIUM), "PATCH": (patch_user_settings, MEDIUM)},
    ),
    (
        "/meetings/<meeting_id>",
        {
            "GET": (get_meeting, LIGHT),
            "PATCH": (patch_meeting, LIGHT),
            "DELETE": (delete_meeting, LIGHT),
        },
    ),
    ("/meetings/<meeting_id>/status", {"PUT": (meeting_status, LIGHT)}),
    (
        "/meetings/<meeting_id>/recordings",
        {"GET": (get_recordings, LIGHT), "DELETE": (delete_recordings, LIGHT)},
    ),
    (
        "/meetings/<meeting_id>/recordings/<recording_id>",
        {"DELETE": (delete_recording_file, LIGHT)},
    ),
    ("/live_meetings/<meeting_id>/events", {"PATCH": (live_meeting_events, MEDIUM)}),
    ("/groups", {"GET": (list_groups, MEDIUM)}),
    ("/groups/<group_id>", {"GET": (get_group, LIGHT)}),
    ("/groups/<group_id>/members", {"GET": (group_members, MEDIUM)}),
    (
        "/groups/<group_id>/settings",
        {"GET": (get_group_settings, MEDIUM), "PATCH": (patch_group_settings, MEDIUM)},
    ),
    (
        "/groups/<group_id>/lock_settings",
        {"GET": (get_group_locks, MEDIUM), "PATCH": (patch_group_locks, MEDIUM)},
    ),
    (
        "/accounts/<account_id>/settings",
        {"GET": (get_account_settings, MEDIUM), "PATCH": (patch_account_settings, MEDIUM)},
    ),
    (
        "/accounts/<account_id>/lock_settings",
        {"GET": (get_account_locks, MEDIUM), "PATCH": (patch_account_locks, MEDIUM)},
    ),
)
