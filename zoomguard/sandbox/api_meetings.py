"""/v2 meeting endpoints: list, create, read, update, delete, status and live-meeting events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from zoomguard.sandbox.meetings import MeetingValidationError, validate_patch
from zoomguard.sandbox.model import list_item, meeting_view, parse_iso
from zoomguard.sandbox.occurrences import occurrence_view, upcoming_view, update_occurrence
from zoomguard.sandbox.passcodes import passcode_problem
from zoomguard.sandbox.replies import (
    LIVE_METHODS,
    MEETING_LIST_TYPES,
    Call,
    Reply,
    bad_page_token,
    daily_cap_reply,
    date_arg,
    error,
    meeting_or_reply,
    page_size_arg,
    paging_fields,
    user_or_reply,
    validation_reply,
)

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


def list_meetings(call: Call, user_id: str) -> Reply:
    user = user_or_reply(call, user_id)
    if isinstance(user, Reply):
        return user
    kind = call.args.get("type") or "scheduled"
    if kind not in MEETING_LIST_TYPES:
        return error(400, 300, "Invalid field: type.")
    size = page_size_arg(call, 30, 300)
    if isinstance(size, Reply):
        return size
    start, end = date_arg(call, "from"), date_arg(call, "to")
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
            return bad_page_token()
        chunk, token, total = page
        items = [list_item(state.meetings[mid]) for mid in chunk if mid in state.meetings]
        state.after_listed([item["id"] for item in items])
    return Reply(
        200,
        {
            **paging_fields(total, size, token),
            "meetings": items,
        },
    )


def passcode_refusal(call: Call, host_id: str, body: Any) -> Reply | None:
    """Zoom's answer to a passcode that breaks the host's passcode requirement, else None.

    Zoom documents no code for this; the sandbox answers as for any invalid field (300)."""
    if not call.config.enforce_passcode_requirement or not isinstance(body, dict):
        return None
    passcode = body.get("password")
    if not isinstance(passcode, str):
        return None
    state = call.state
    with state.lock:
        requirement = state.settings.user_value(
            host_id, state.group_of(host_id), "meeting_password_requirement"
        )
    problem = passcode_problem(passcode, requirement)
    if problem is None:
        return None
    return error(400, 300, problem)


def create_meeting(call: Call, user_id: str) -> Reply:
    user = user_or_reply(call, user_id)
    if isinstance(user, Reply):
        return user
    body = call.body if call.body is not None else {}
    try:
        validate_patch(body)
    except MeetingValidationError as exc:
        return validation_reply(exc)
    refused = passcode_refusal(call, user["id"], body)
    if refused is not None:
        return refused
    if not call.state.update_counter.try_count(user["id"], call.config.daily_update_limit):
        return daily_cap_reply(call.config.daily_update_limit, datetime.now(UTC))
    meeting = call.state.create_meeting(user, body, operator_id=call.token.user_id)
    with call.state.lock:
        return Reply(201, meeting_view(meeting))


def get_meeting(call: Call, meeting_id: str) -> Reply:
    meeting = meeting_or_reply(call, meeting_id)
    if isinstance(meeting, Reply):
        return meeting
    occurrence_id = call.args.get("occurrence_id")
    with call.state.lock:
        if occurrence_id:
            view = occurrence_view(call.state, meeting, occurrence_id)
            if view is None:
                return error(404, 3001, f"Meeting does not exist: {meeting_id}.")
            return Reply(200, view)
        show_previous = call.args.get("show_previous_occurrences") == "true"
        return Reply(200, upcoming_view(meeting_view(meeting), show_previous=show_previous))


def patch_meeting(call: Call, meeting_id: str) -> Reply:
    meeting = meeting_or_reply(call, meeting_id)
    if isinstance(meeting, Reply):
        return meeting
    try:
        validate_patch(call.body if call.body is not None else {})
    except MeetingValidationError as exc:
        return validation_reply(exc)
    refused = passcode_refusal(call, meeting["host_id"], call.body)
    if refused is not None:
        return refused
    if not call.state.update_counter.try_count(meeting["host_id"], call.config.daily_update_limit):
        return daily_cap_reply(call.config.daily_update_limit, datetime.now(UTC))
    occurrence_id = call.args.get("occurrence_id")
    if occurrence_id:
        try:
            update_occurrence(
                call.state,
                meeting["id"],
                occurrence_id,
                call.body or {},
                operator_id=call.token.user_id,
            )
        except MeetingValidationError as exc:
            return validation_reply(exc)
        except KeyError:
            return error(404, 3001, f"Meeting does not exist: {meeting_id}.")
        return Reply(204)
    try:
        call.state.update_meeting(meeting["id"], call.body or {}, operator_id=call.token.user_id)
    except KeyError:  # deleted meanwhile
        return error(404, 3001, f"Meeting does not exist: {meeting_id}.")
    return Reply(204)


def delete_meeting(call: Call, meeting_id: str) -> Reply:
    meeting = meeting_or_reply(call, meeting_id)
    if isinstance(meeting, Reply):
        return meeting
    if not call.state.delete_meeting(meeting["id"], operator_id=call.token.user_id):
        return error(404, 3001, f"Meeting does not exist: {meeting_id}.")
    return Reply(204)


def meeting_status(call: Call, meeting_id: str) -> Reply:
    meeting = meeting_or_reply(call, meeting_id)
    if isinstance(meeting, Reply):
        return meeting
    action = call.body.get("action") if isinstance(call.body, dict) else None
    if action not in ("end", "recover"):
        return error(400, 300, "Invalid field: action.")
    if action == "end":
        call.state.end_meeting(meeting["id"])
    return Reply(204)


def _may_control(call: Call, meeting: Mapping[str, Any]) -> bool:
    """Whether the token's user is the meeting's host or one of its alternative hosts.

    A Server-to-Server token carries no user: it acts as the app's creator (``app_creator_id``,
    else the account owner)."""
    state = call.state
    actor_id = call.token.user_id or call.config.app_creator_id or state.owner_id
    if actor_id is None:
        return False
    if actor_id == meeting["host_id"]:
        return True
    actor = state.users.get(actor_id)
    raw = meeting.get("settings", {}).get("alternative_hosts", "")
    alternatives = {part.strip().lower() for part in str(raw).replace(",", ";").split(";")}
    return actor is not None and str(actor["email"]).lower() in alternatives


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
        if call.config.live_controls_host_only and not _may_control(call, meeting):
            # What a caller who is not the host got from Zoom (reported by a library author;
            # the OpenAPI document lists "No permission." under code 300).
            return error(400, 200, "No permission.")
        if method == "recording.stop":
            was_recording = live.recording_state in ("recording", "paused")
            state.record_stop_request(meeting["id"], was_recording, call.received_at)
            state.stop_recording(meeting["id"])
        elif method == "recording.start":
            host = meeting["host_id"]
            if not state.settings.user_value(host, state.group_of(host), "cloud_recording"):
                return error(400, 300, "Cloud recording is not enabled for this user.")
            state.start_recording(meeting["id"])
        elif method == "recording.pause":
            state.pause_recording(meeting["id"])
        elif method == "recording.resume":
            state.resume_recording(meeting["id"])
        elif method == "ai_companion.start" and not state.start_ai_companion(meeting["id"]):
            return error(400, 300, "AI Companion is disabled for this meeting.")
        elif method in ("ai_companion.stop", "ai_companion.disable"):
            state.control_ai_companion(live, method)
    return Reply(202)
