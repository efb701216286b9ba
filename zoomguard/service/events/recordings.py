"""Recording events: a recording that starts is stopped at once; a finished one is trashed or
deleted (``ZOOMGUARD_RECORDING_ACTION``). Each is audited and alerted immediately.

A Zoom error that may pass (5xx, 429) is raised so the worker retries the event; any other
refusal is recorded as a failure the privacy officer must act on. Audit before effect: the
intent is written before the call and settled with the alert after it; a re-run of the same
event (its worker died) inherits an unsettled intent, and records "already done by zoomguard"
when Zoom has nothing left to do, or does nothing at all when the first run settled it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zoomguard.errors import UnusableEvent, ZoomAPIError, ZoomNotFound
from zoomguard.notify import categories
from zoomguard.rules import policy
from zoomguard.service.alerts import delivery
from zoomguard.service.events.registry import EventContext, EventRegistry, ZoomEvent
from zoomguard.store.models import AUDIT_INTENT
from zoomguard.zoom import webhook_events as zoom

# Zoom requires this scope to subscribe to recording.* events.
RECORDING_READ_SCOPE = "cloud_recording:read:recording:admin"

log = logging.getLogger(__name__)

listeners = EventRegistry()


def _worth_retrying(exc: ZoomAPIError) -> bool:
    return exc.status >= 500 or exc.status == 429


# What a re-run of an event records when its earlier run already asked Zoom for the change
# (and died before recording it): Zoom has nothing left to do because zoomguard did it.
ALREADY_DONE = "already done by zoomguard (an earlier attempt made the change before it stopped)"


@dataclass(frozen=True)
class _Intent:
    entry_id: int
    # True when an earlier run of this event wrote it: that run may have reached Zoom.
    inherited: bool


def _intent(
    context: EventContext,
    event: ZoomEvent,
    *,
    action: str,
    target: str,
    before: Mapping[str, Any],
    intended: Mapping[str, Any],
) -> _Intent | None:
    """The audit intent to settle after the call, written now (before the call) or inherited
    from an earlier run of the same event; None when an earlier run settled it already (the
    change was made, audited and alerted: nothing is done again)."""
    if event.inbox_id is not None:
        earlier = context.store.audit.for_event(event.inbox_id, action)
        if earlier is not None:
            if earlier.state != AUDIT_INTENT:
                return None
            return _Intent(earlier.id, inherited=True)
    entry_id = context.store.audit.begin(
        account_pk=event.enforced_account.id,
        actor="webhook",
        action=action,
        target=target,
        before=dict(before),
        intended=dict(intended),
        now=context.clock(),
        event_id=event.inbox_id,
    )
    return _Intent(entry_id, inherited=False)


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
    intent = _intent(
        context,
        event,
        action="recording.stop",
        target=f"meeting:{meeting_id}",
        before={"recording": "started"},
        intended={"recording": "stopped"},
    )
    if intent is None:
        log.info("recording.started for meeting %s: %s", meeting_id, ALREADY_DONE)
        return
    failure: str | None = None
    note: str | None = None
    try:
        context.client(account).stop_recording(meeting_id)
    except ZoomNotFound:
        if intent.inherited:
            note = ALREADY_DONE
        else:
            failure = "the meeting had already ended, so there was no recording to stop"
    except ZoomAPIError as exc:
        if _worth_retrying(exc):
            raise  # the intent stays unsettled: the retry of this event inherits it
        failure = f"Zoom refused to stop the recording ({exc})"
    _settle_and_alert(
        context,
        event,
        intent.entry_id,
        after={"recording": "stopped" if failure is None else "unknown"},
        confirmed=failure is None,
        detail=note,
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
    done = {"trash": "moved to trash", "delete": "deleted", "report": "reported only"}[action]
    intent = _intent(
        context,
        event,
        action=f"recording.{action}",
        target=f"meeting:{obj.get('id', '')}",
        before={"recording": "completed", "files": obj.get("recording_count")},
        intended={"recording": done},
    )
    if intent is None:
        log.info("recording.completed %s: %s", obj.get("id", ""), ALREADY_DONE)
        return
    failure: str | None = None
    note: str | None = None
    removed = False
    if action in ("trash", "delete"):
        try:
            removed = context.client(account).delete_recordings(uuid, action=action)
        except ZoomAPIError as exc:
            if _worth_retrying(exc):
                raise  # the intent stays unsettled: the retry of this event inherits it
            failure = f"Zoom refused to remove the recording ({exc})"
        if not removed and failure is None:
            if intent.inherited:
                # zoomguard's own earlier attempt removed it, then stopped before recording it.
                removed, note = True, ALREADY_DONE
            else:
                failure = "Zoom had no recording to remove (already removed?)"
    confirmed = removed if action != "report" else None
    _settle_and_alert(
        context,
        event,
        intent.entry_id,
        after={"recording": done if failure is None else "unchanged"},
        confirmed=confirmed,
        detail=note,
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


def _settle_and_alert(
    context: EventContext,
    event: ZoomEvent,
    entry_id: int,
    *,
    after: Mapping[str, Any],
    confirmed: bool | None,
    detail: str | None,
    details: dict[str, Any],
) -> None:
    """Complete the audit intent and write the officer's alert, in one transaction: both or
    neither, and only by the one caller that settles the intent (so the alert exists once)."""
    account = event.enforced_account
    category = event.alert_category
    with context.store.transaction() as session:
        if not context.store.audit.complete(
            entry_id, after=dict(after), confirmed=confirmed, detail=detail, session=session
        ):
            log.info("audit entry %d was settled meanwhile: no second alert", entry_id)
            return
        context.store.outbox.record_alert(
            account_pk=account.id,
            sweep_id=None,
            delivery=delivery(context.settings, category),
            category=category,
            details=details,
            now=context.clock(),
            session=session,
        )
