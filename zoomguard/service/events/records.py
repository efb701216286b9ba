"""Records of a meeting other than its cloud recording, as Zoom keeps them today: AI Companion
(its questions transcribe the meeting), the summary it writes, a live stream, and a file sent in
the meeting chat.

- AI Companion started: stopped, then disabled for the rest of the meeting, through the
  in-meeting controls (``PATCH /live_meetings/{meetingId}/events``);
- a meeting summary written: deleted (``DELETE /meetings/{meetingId}/meeting_summary``);
- a live stream started: stopped (``PATCH /meetings/{meetingId}/livestream/status``);
- a file sent in the meeting chat: the privacy officer is told at once (meeting, host, file name
  and type; never the file's download link). Zoom offers no way to take a sent file back.

Each is audited and alerted at once with the guidance sentence it breaks. A Zoom error that may
pass (5xx, 429) is raised so the worker retries the event; any other refusal is a failure the
officer is told to act on by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zoomguard.errors import ZoomAPIError, ZoomNotFound
from zoomguard.notify import categories
from zoomguard.rules import guidance_quotes as quotes
from zoomguard.rules import policy
from zoomguard.service.events.reactions import (
    audit_and_alert,
    end_meeting,
    first_of,
    reaction_details,
    worth_retrying,
)
from zoomguard.service.events.registry import EventContext, EventRegistry, ZoomEvent
from zoomguard.zoom import webhook_events as zoom
from zoomguard.zoom.client import ZoomClient

# The granular scopes Zoom requires to subscribe to each event (its webhook document).
AI_COMPANION_READ_SCOPE = "meeting:read:ai_companion:admin"
SUMMARY_READ_SCOPE = "meeting:read:summary:admin"
LIVESTREAM_READ_SCOPE = "meeting:read:livestream:admin"
CHAT_MESSAGE_READ_SCOPE = "meeting:read:chat_message:admin"

# The in-meeting controls, in order: stop what runs now, then keep it from being started again.
AI_COMPANION_CONTROLS = ("ai_companion.stop", "ai_companion.disable")

listeners = EventRegistry()


def _meeting_id(event: ZoomEvent) -> Any:
    """The meeting's numeric ID, under whichever name this event gives it."""
    meeting_id = first_of(event.object(), "id", "meeting_id", "meeting_number")
    if meeting_id is None:
        return event.object_id()  # raises UnusableEvent naming the missing field
    return meeting_id


def _refusal(exc: ZoomAPIError, what: str) -> str:
    if worth_retrying(exc):
        raise exc
    return f"Zoom refused to {what} ({exc})"


@listeners.on(
    zoom.MEETING_AI_COMPANION_STARTED,
    category=categories.AI_COMPANION_STARTED,
    urgent=True,
    scopes=(AI_COMPANION_READ_SCOPE,),
)
def ai_companion_started(context: EventContext, event: ZoomEvent) -> None:
    """AI Companion started in a live meeting: stop it, then disable it for the meeting."""
    account = event.enforced_account
    obj = event.object()
    meeting_id = _meeting_id(event)
    client = context.client(account)
    done: list[str] = []
    failures: list[str] = []
    for control in AI_COMPANION_CONTROLS:
        try:
            client.control_live_meeting(meeting_id, control)
            done.append(control)
        except ZoomNotFound:
            failures.append("the meeting had already ended, so AI Companion was not running")
            break
        except ZoomAPIError as exc:
            # A refused stop is still followed by the disable: either keeps the record short.
            failures.append(_refusal(exc, f"apply {control}"))
    started = obj.get("ai_companion")
    features = (
        sorted(k for k, v in started.items() if v is True) if isinstance(started, Mapping) else []
    )
    refused = not done and bool(failures) and "already ended" not in failures[0]
    if refused and context.profile.live.when_stop_refused == "end_meeting":
        # The same ladder as a recording Zoom will not let zoomguard stop ([live] table).
        not_ended = end_meeting(context, event, str(meeting_id))
        failures.append(
            "zoomguard ended the meeting, which ended AI Companion"
            if not_ended is None
            else f"zoomguard could not end the meeting either ({not_ended})"
        )
    failure = "; ".join(failures) or None
    meeting = _meeting_or_none(client, meeting_id)
    audit_and_alert(
        context,
        event,
        action="ai_companion.stop",
        target=f"meeting:{meeting_id}",
        before={"ai_companion": "started", "features": features},
        after={"ai_companion": "stopped and disabled" if not failures else "unknown"},
        confirmed=not failures,
        details=reaction_details(
            meeting_id=meeting_id,
            topic=_get(meeting, "topic"),
            host_email=_get(meeting, "host_email"),
            start_time=_get(meeting, "start_time"),
            rule_id="no_ai_companion",
            rule="AI Companion does not transcribe or summarise meetings",
            guidance=quotes.NOT_RECORDED,
            changes=[{"field": "AI Companion", "before": "started", "after": ", ".join(done)}],
            confirmed=not failures,
            failure=failure,
            officer_action=None
            if failure is None
            else "Ask the host to stop AI Companion in the meeting, and to delete any summary "
            "or transcript it wrote.",
        ),
    )


@listeners.on(
    zoom.MEETING_SUMMARY_COMPLETED,
    category=categories.MEETING_SUMMARY_COMPLETED,
    urgent=True,
    scopes=(SUMMARY_READ_SCOPE,),
)
def summary_completed(context: EventContext, event: ZoomEvent) -> None:
    """AI Companion wrote a summary of what was said: delete it."""
    account = event.enforced_account
    obj = event.object()
    meeting_id = _meeting_id(event)
    # The instance's UUID names this summary; the numeric ID names the latest instance's.
    summary_ref = first_of(obj, "meeting_uuid") or meeting_id
    failure: str | None = None
    try:
        context.client(account).delete_meeting_summary(summary_ref)
    except ZoomAPIError as exc:
        failure = _refusal(exc, "delete the summary")
    audit_and_alert(
        context,
        event,
        action="meeting_summary.delete",
        target=f"meeting:{meeting_id}",
        before={"meeting_summary": "completed"},
        after={"meeting_summary": "deleted" if failure is None else "unchanged"},
        confirmed=failure is None,
        details=reaction_details(
            meeting_id=meeting_id,
            topic=obj.get("meeting_topic"),
            host_email=obj.get("meeting_host_email"),
            start_time=obj.get("meeting_start_time"),
            rule_id="no_ai_summary",
            rule="AI Companion does not write meeting summaries",
            guidance=quotes.NOT_RECORDED,
            changes=[{"field": "meeting summary", "before": "written", "after": "deleted"}],
            confirmed=failure is None,
            failure=failure,
            officer_action=None
            if failure is None
            else "Delete the meeting summary in the Zoom web portal (Meetings > Summaries), "
            "and ask the host not to share it.",
        ),
    )


@listeners.on(
    zoom.MEETING_LIVE_STREAMING_STARTED,
    category=categories.LIVE_STREAMING_STARTED,
    urgent=True,
    scopes=(LIVESTREAM_READ_SCOPE,),
)
def live_streaming_started(context: EventContext, event: ZoomEvent) -> None:
    """A meeting is being streamed to a service outside the meeting: stop the stream."""
    account = event.enforced_account
    obj = event.object()
    meeting_id = _meeting_id(event)
    client = context.client(account)
    failure: str | None = None
    try:
        client.stop_live_stream(meeting_id)
    except ZoomNotFound:
        failure = "the meeting had already ended, so there was no stream to stop"
    except ZoomAPIError as exc:
        failure = _refusal(exc, "stop the live stream")
    stream = obj.get("live_streaming")
    service = stream.get("service") if isinstance(stream, Mapping) else None
    meeting = _meeting_or_none(client, meeting_id)
    audit_and_alert(
        context,
        event,
        action="live_stream.stop",
        target=f"meeting:{meeting_id}",
        before={"live_stream": "started", "service": service},
        after={"live_stream": "stopped" if failure is None else "unknown"},
        confirmed=failure is None,
        details=reaction_details(
            meeting_id=meeting_id,
            topic=obj.get("topic"),
            host_email=_get(meeting, "host_email"),
            start_time=obj.get("start_time"),
            rule_id="no_live_stream",
            rule="Meetings are not live streamed",
            guidance=quotes.NOT_RECORDED,
            changes=[{"field": "live stream", "before": "streaming", "after": "stopped"}],
            confirmed=failure is None,
            failure=failure,
            officer_action=None
            if failure is None
            else "Ask the host to stop the live stream, and ask the streaming service "
            f"({service or 'unknown'}) to delete what it kept.",
        ),
    )


@listeners.on(
    zoom.MEETING_CHAT_MESSAGE_FILE_SENT,
    category=categories.CHAT_FILE_SENT,
    urgent=True,
    scopes=(CHAT_MESSAGE_READ_SCOPE,),
)
def chat_file_sent(context: EventContext, event: ZoomEvent) -> None:
    """A file was sent in a meeting's chat: only a person can follow it up, so tell the officer.

    The alert names the meeting, its host and the file's name and type; never the download link,
    which would let anyone who reads the email fetch the file.
    """
    account = event.enforced_account
    obj = event.object()
    meeting_id = _meeting_id(event)
    sent = obj.get("chat_message_file")
    sent = sent if isinstance(sent, Mapping) else {}
    # A file name can itself name a person: redacted like a topic.
    file_name = policy.redact(str(sent.get("file_name") or "(no name)"))
    file_type = str(sent.get("file_type") or "unknown type")
    file_text = f"{file_name} ({file_type})"
    meeting = _meeting_or_none(context.client(account), meeting_id)
    audit_and_alert(
        context,
        event,
        action="chat_file.reported",
        target=f"meeting:{meeting_id}",
        before={"chat_file": file_text},
        after={"chat_file": "reported to the privacy officer"},
        confirmed=None,
        details=reaction_details(
            meeting_id=meeting_id,
            topic=_get(meeting, "topic"),
            host_email=_get(meeting, "host_email"),
            start_time=_get(meeting, "start_time"),
            rule_id="no_files_transferred",
            rule="No files are sent in a meeting",
            guidance=quotes.NO_FILES_TRANSFERRED,
            changes=[
                {"field": "file sent in the meeting chat", "before": None, "after": file_text}
            ],
            confirmed=None,
            failure="a file was sent in the meeting's chat; Zoom cannot take it back",
            officer_action="Ask the host what the file held and who received it; if it held "
            "personal information, follow the privacy breach process. The account baseline keeps "
            "file transfer in meeting chat off and locked.",
        ),
    )


def _meeting_or_none(client: ZoomClient, meeting_id: Any) -> Mapping[str, Any] | None:
    """The meeting (for its topic and host), or None if it cannot be read: the reaction has been
    made already, and the alert must go out even without these details."""
    try:
        return client.get_meeting(meeting_id)
    except ZoomAPIError:
        return None


def _get(meeting: Mapping[str, Any] | None, key: str) -> Any:
    return meeting.get(key) if meeting is not None else None
