"""Recording events: a recording that starts is stopped at once; a finished one is trashed or
deleted (``ZOOMGUARD_RECORDING_ACTION``). Each is audited and alerted immediately.

A Zoom error that may pass (5xx, 429) is raised so the worker retries the event; any other
refusal is recorded as a failure the privacy officer must act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zoomguard.errors import UnusableEvent, ZoomAPIError, ZoomNotFound
from zoomguard.notify import categories
from zoomguard.rules import policy
from zoomguard.service.alerts import delivery
from zoomguard.service.events.registry import EventContext, EventRegistry, ZoomEvent
from zoomguard.zoom import scopes
from zoomguard.zoom import webhook_events as zoom

# Zoom requires this scope to subscribe to recording.* events.
RECORDING_READ_SCOPE = scopes.READ_RECORDING

listeners = EventRegistry()


def _worth_retrying(exc: ZoomAPIError) -> bool:
    return exc.status >= 500 or exc.status == 429


@listeners.on(
    zoom.RECORDING_STARTED,
    category=categories.RECORDING_STARTED,
    urgent=True,
    scopes=(RECORDING_READ_SCOPE,),
)
def recording_started(context: EventContext, event: ZoomEvent) -> None:
    account = event.enforced_account
    obj = event.object()
    meeting_id = event.object_id()
    failure: str | None = None
    try:
        context.client(account).stop_recording(meeting_id)
    except ZoomNotFound:
        failure = "the meeting had already ended, so there was no recording to stop"
    except ZoomAPIError as exc:
        if _worth_retrying(exc):
            raise
        failure = f"Zoom refused to stop the recording ({exc})"
    _audit_and_alert(
        context,
        event,
        action="recording.stop",
        target=f"meeting:{meeting_id}",
        before={"recording": "started"},
        after={"recording": "stopped" if failure is None else "unknown"},
        confirmed=failure is None,
        details=_recording_details(
            obj, failure=failure, action="stopped", confirmed=failure is None
        ),
    )


@listeners.on(
    zoom.RECORDING_COMPLETED,
    category=categories.RECORDING_COMPLETED,
    urgent=True,
    scopes=(RECORDING_READ_SCOPE,),
)
def recording_completed(context: EventContext, event: ZoomEvent) -> None:
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
            if _worth_retrying(exc):
                raise
            failure = f"Zoom refused to remove the recording ({exc})"
        if not removed and failure is None:
            failure = "Zoom had no recording to remove (already removed?)"
    done = {"trash": "moved to trash", "delete": "deleted", "report": "reported only"}[action]
    confirmed = removed if action != "report" else None
    _audit_and_alert(
        context,
        event,
        action=f"recording.{action}",
        target=f"meeting:{obj.get('id', '')}",
        before={"recording": "completed", "files": obj.get("recording_count")},
        after={"recording": done if failure is None else "unchanged"},
        confirmed=confirmed,
        details=_recording_details(obj, failure=failure, action=done, confirmed=confirmed),
    )


def _recording_details(
    obj: Mapping[str, Any], *, failure: str | None, action: str, confirmed: bool | None
) -> dict[str, Any]:
    rule = policy.RULES.get("no_auto_recording")
    return {
        "meeting_id": str(obj.get("id", "")),
        "topic": policy.redact(str(obj.get("topic", ""))) or None,
        "host_email": obj.get("host_email"),
        "start_time": obj.get("start_time"),
        "rule_id": "no_auto_recording",
        "rule": "Meetings are never recorded",
        "guidance": rule.guidance if rule else None,
        "changes": [{"field": "recording", "before": "recording", "after": action}],
        "confirmed": confirmed,
        "failure": failure,
        "officer_action": None
        if failure is None
        else "Check the meeting in the Zoom web portal and remove the recording by hand.",
    }


def _audit_and_alert(
    context: EventContext,
    event: ZoomEvent,
    *,
    action: str,
    target: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    confirmed: bool | None,
    details: dict[str, Any],
) -> None:
    """The audit entry of what zoomguard did and the officer's alert, in one transaction."""
    account = event.enforced_account
    category = event.alert_category
    now = context.clock()
    with context.store.transaction() as session:
        context.store.audit.append(
            account_pk=account.id,
            actor="webhook",
            action=action,
            target=target,
            before=dict(before),
            after=dict(after),
            confirmed=confirmed,
            now=now,
            session=session,
        )
        context.store.outbox.record_alert(
            account_pk=account.id,
            sweep_id=None,
            delivery=delivery(context.settings, category),
            category=category,
            details=details,
            now=now,
            session=session,
        )
