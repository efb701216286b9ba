"""/v2 cloud-recording endpoints: a meeting's recordings, deleting them, a user's recordings."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from zoomguard.sandbox.meetings import EXAMPLE_BASE
from zoomguard.sandbox.model import parse_iso
from zoomguard.sandbox.replies import (
    Call,
    Reply,
    bad_page_token,
    date_arg,
    error,
    page_size_arg,
    paging_fields,
    user_or_reply,
)

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
    user = user_or_reply(call, user_id)
    if isinstance(user, Reply):
        return user
    size = page_size_arg(call, 30, 300)
    if isinstance(size, Reply):
        return size
    start, end = date_arg(call, "from"), date_arg(call, "to")
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
            return bad_page_token()
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
            **paging_fields(total, size, token),
            "meetings": items,
        },
    )
