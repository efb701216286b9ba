"""/v2 endpoints for a meeting's other records: its AI Companion summary and its live stream."""

from __future__ import annotations

from zoomguard.sandbox.replies import Call, Reply, error

LIVESTREAM_ACTIONS = ("start", "stop", "mode")


def get_meeting_summary(call: Call, meeting_id: str) -> Reply:
    with call.state.lock:
        if call.state.find_meeting(meeting_id) is None and not meeting_id.isdigit():
            return error(400, 300, "Invalid meeting ID.")
        summary = call.state.summary_for(meeting_id)
        if summary is None:
            return error(404, 3001, f"Meeting does not exist: {meeting_id}.")
        return Reply(200, dict(summary))


def delete_meeting_summary(call: Call, meeting_id: str) -> Reply:
    with call.state.lock:
        summary = call.state.summary_for(meeting_id)
        if summary is None:
            # Zoom documents no "no summary" error; its "Meeting does not exist" is the nearest.
            return error(404, 3001, f"Meeting does not exist: {meeting_id}.")
        call.state.delete_summary(summary, call.token.user_id)
    return Reply(204)


def livestream_status(call: Call, meeting_id: str) -> Reply:
    body = call.body if isinstance(call.body, dict) else {}
    action = body.get("action")
    if action not in LIVESTREAM_ACTIONS:
        return error(400, 300, "Invalid field: action.")
    state = call.state
    with state.lock:
        meeting = state.find_meeting(meeting_id)
        if meeting is None:
            return error(404, 3001, f"Meeting does not exist: {meeting_id}.")
        live = state.live.get(meeting["id"])
        if live is None:
            return error(400, 4927, f"Meeting {meeting_id} has not started.")
        if action == "start":
            state.start_live_stream(meeting["id"])
        elif action == "stop":
            state.stop_live_stream(live, call.token.user_id)
    return Reply(204)
