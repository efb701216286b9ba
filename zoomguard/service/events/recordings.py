"""Recording events: a recording that starts (or is resumed after a pause) is stopped at once; a
finished one, a recovered one and a finished transcript are trashed or deleted
(``ZOOMGUARD_RECORDING_ACTION``). Each is audited and alerted immediately.

A Zoom error that may pass (5xx, 429) is raised so the worker retries the event; any other
refusal is recorded as a failure the privacy officer must act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zoomguard.errors import UnusableEvent, ZoomAPIError, ZoomNotFound
from zoomguard.notify import categories
from zoomguard.rules import guidance_quotes as quotes
from zoomguard.service.events.reactions import (
    audit_and_alert,
    reaction_details,
    worth_retrying,
)
from zoomguard.service.events.registry import EventContext, EventRegistry, ZoomEvent
from zoomguard.zoom import webhook_events as zoom

# Zoom requires this scope to subscribe to recording.* events.
RECORDING_READ_SCOPE = "cloud_recording:read:recording:admin"

# What each event means, in the audit log's "before" and the officer's alert.
WHAT_HAPPENED = {
    zoom.RECORDING_STARTED: "started",
    zoom.RECORDING_RESUMED: "resumed after a pause",
    zoom.RECORDING_COMPLETED: "completed",
    zoom.RECORDING_RECOVERED: "recovered from the trash",
    zoom.RECORDING_TRANSCRIPT_COMPLETED: "transcript completed",
}

listeners = EventRegistry()


@listeners.on(
    zoom.RECORDING_STARTED,
    zoom.RECORDING_RESUMED,
    category=categories.RECORDING_STARTED,
    urgent=True,
    scopes=(RECORDING_READ_SCOPE,),
)
def recording_started(context: EventContext, event: ZoomEvent) -> None:
    """A cloud recording is running (started, or resumed after a pause): stop it."""
    account = event.enforced_account
    obj = event.object()
    meeting_id = event.object_id()
    failure: str | None = None
    try:
        context.client(account).stop_recording(meeting_id)
    except ZoomNotFound:
        failure = "the meeting had already ended, so there was no recording to stop"
    except ZoomAPIError as exc:
        if worth_retrying(exc):
            raise
        failure = f"Zoom refused to stop the recording ({exc})"
    audit_and_alert(
        context,
        event,
        action="recording.stop",
        target=f"meeting:{meeting_id}",
        before={"recording": WHAT_HAPPENED[event.name]},
        after={"recording": "stopped" if failure is None else "unknown"},
        confirmed=failure is None,
        details=_recording_details(
            obj, failure=failure, action="stopped", confirmed=failure is None
        ),
    )


@listeners.on(
    zoom.RECORDING_COMPLETED,
    zoom.RECORDING_RECOVERED,
    zoom.RECORDING_TRANSCRIPT_COMPLETED,
    category=categories.RECORDING_COMPLETED,
    urgent=True,
    scopes=(RECORDING_READ_SCOPE,),
)
def recording_completed(context: EventContext, event: ZoomEvent) -> None:
    """A recording is kept in Zoom (finished, recovered from the trash, or its transcript is
    ready): remove it again as configured."""
    account = event.enforced_account
    obj = event.object()
    uuid = obj.get("uuid")
    if not isinstance(uuid, str) or not uuid:
        raise UnusableEvent("payload.object.uuid is missing")
    action = context.settings.recording_action
    failure: str | None = None
    removed = False
    if action in ("trash", "delete"):
        try:
            removed = context.client(account).delete_recordings(uuid, action=action)
        except ZoomAPIError as exc:
            if worth_retrying(exc):
                raise
            failure = f"Zoom refused to remove the recording ({exc})"
        if not removed and failure is None:
            failure = "Zoom had no recording to remove (already removed?)"
    done = {"trash": "moved to trash", "delete": "deleted", "report": "reported only"}[action]
    confirmed = removed if action != "report" else None
    audit_and_alert(
        context,
        event,
        action=f"recording.{action}",
        target=f"meeting:{obj.get('id', '')}",
        before={"recording": WHAT_HAPPENED[event.name], "files": obj.get("recording_count")},
        after={"recording": done if failure is None else "unchanged"},
        confirmed=confirmed,
        details=_recording_details(obj, failure=failure, action=done, confirmed=confirmed),
    )


def _recording_details(
    obj: Mapping[str, Any], *, failure: str | None, action: str, confirmed: bool | None
) -> dict[str, Any]:
    return reaction_details(
        meeting_id=obj.get("id", ""),
        topic=obj.get("topic"),
        host_email=obj.get("host_email"),
        start_time=obj.get("start_time"),
        rule_id="no_auto_recording",
        rule="Meetings are never recorded",
        guidance=quotes.NOT_RECORDED,
        changes=[{"field": "recording", "before": "recording", "after": action}],
        confirmed=confirmed,
        failure=failure,
        officer_action=None
        if failure is None
        else "Check the meeting in the Zoom web portal and remove the recording by hand.",
    )
