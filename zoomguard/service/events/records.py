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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Record:
    """What differs between the records' reactions as they are written down: one audit entry and
    the officer's alert, in the same shape for each (``_write_down``)."""

    action: str  # the audit entry's action
    audited: str  # the audit entry's key for the record's state
    acted: str  # that state once zoomguard acted
    change_field: str  # the field the alert's one change names
    rule_id: str
    rule: str
    guidance: str
    # What the officer is asked to do when zoomguard could not act; ``{service}`` is filled in.
    officer_action: str
    # That state when Zoom refused (or the meeting had ended).
    not_acted: str = "unknown"
    # False when zoomguard can only tell the officer: the entry is neither confirmed nor not.
    acts: bool = True


AI_COMPANION = _Record(
    action="ai_companion.stop",
    audited="ai_companion",
    acted="stopped and disabled",
    change_field="AI Companion",
    rule_id="no_ai_companion",
    rule="AI Companion does not transcribe or summarise meetings",
    guidance=quotes.NOT_RECORDED,
    officer_action="Ask the host to stop AI Companion in the meeting, and to delete any summary "
    "or transcript it wrote.",
)
MEETING_SUMMARY = _Record(
    action="meeting_summary.delete",
    audited="meeting_summary",
    acted="deleted",
    not_acted="unchanged",
    change_field="meeting summary",
    rule_id="no_ai_summary",
    rule="AI Companion does not write meeting summaries",
    guidance=quotes.NOT_RECORDED,
    officer_action="Delete the meeting summary in the Zoom web portal (Meetings > Summaries), "
    "and ask the host not to share it.",
)
LIVE_STREAM = _Record(
    action="live_stream.stop",
    audited="live_stream",
    acted="stopped",
    change_field="live stream",
    rule_id="no_live_stream",
    rule="Meetings are not live streamed",
    guidance=quotes.NOT_RECORDED,
    officer_action="Ask the host to stop the live stream, and ask the streaming service "
    "({service}) to delete what it kept.",
)
CHAT_FILE = _Record(
    action="chat_file.reported",
    audited="chat_file",
    acted="reported to the privacy officer",
    change_field="file sent in the meeting chat",
    rule_id="no_files_transferred",
    rule="No files are sent in a meeting",
    guidance=quotes.NO_FILES_TRANSFERRED,
    officer_action="Ask the host what the file held and who received it; if it held "
    "personal information, follow the privacy breach process. The account baseline keeps "
    "file transfer in meeting chat off and locked.",
    acts=False,
)

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
    _write_down(
        context,
        event,
        AI_COMPANION,
        meeting_id,
        _meeting_or_none(client, meeting_id),
        before={"ai_companion": "started", "features": features},
        change=("started", ", ".join(done)),
        failure="; ".join(failures) or None,
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
    # The event itself names the meeting: no need to ask Zoom.
    meeting = {
        "topic": obj.get("meeting_topic"),
        "host_email": obj.get("meeting_host_email"),
        "start_time": obj.get("meeting_start_time"),
    }
    _write_down(
        context,
        event,
        MEETING_SUMMARY,
        meeting_id,
        meeting,
        before={"meeting_summary": "completed"},
        change=("written", "deleted"),
        failure=failure,
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
    # The event names the topic and start; only the host is asked of Zoom.
    meeting = {
        "topic": obj.get("topic"),
        "host_email": _get(_meeting_or_none(client, meeting_id), "host_email"),
        "start_time": obj.get("start_time"),
    }
    _write_down(
        context,
        event,
        LIVE_STREAM,
        meeting_id,
        meeting,
        before={"live_stream": "started", "service": service},
        change=("streaming", "stopped"),
        failure=failure,
        service=service or "unknown",
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
    _write_down(
        context,
        event,
        CHAT_FILE,
        meeting_id,
        _meeting_or_none(context.client(account), meeting_id),
        before={"chat_file": file_text},
        change=(None, file_text),
        failure="a file was sent in the meeting's chat; Zoom cannot take it back",
    )


def _write_down(
    context: EventContext,
    event: ZoomEvent,
    record: _Record,
    meeting_id: Any,
    meeting: Mapping[str, Any] | None,
    *,
    before: Mapping[str, Any],
    change: tuple[str | None, str],
    failure: str | None,
    service: str = "",
) -> None:
    """The reaction's audit entry and the officer's alert, with ``meeting``'s topic, host and
    start (None when Zoom could not say) and the ``change`` as (before, after)."""
    confirmed = failure is None if record.acts else None
    audit_and_alert(
        context,
        event,
        action=record.action,
        target=f"meeting:{meeting_id}",
        before=before,
        after={record.audited: record.not_acted if confirmed is False else record.acted},
        confirmed=confirmed,
        details=reaction_details(
            meeting_id=meeting_id,
            topic=_get(meeting, "topic"),
            host_email=_get(meeting, "host_email"),
            start_time=_get(meeting, "start_time"),
            rule_id=record.rule_id,
            rule=record.rule,
            guidance=record.guidance,
            changes=[{"field": record.change_field, "before": change[0], "after": change[1]}],
            confirmed=confirmed,
            failure=failure,
            officer_action=None
            if failure is None
            else record.officer_action.format(service=service),
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
