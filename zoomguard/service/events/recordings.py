"""Recording events: a recording that starts (or is resumed after a pause) is stopped at once; a
finished one, a recovered one and a finished transcript are trashed or deleted
(``ZOOMGUARD_RECORDING_ACTION``). Each is audited and alerted immediately.

Zoom lets only a meeting's host or alternative host stop its recording, and a Server-to-Server
app acts as the user who created it, so the stop may be refused. Then the policy's ``[live]``
table decides: "alert" tells the officer at once (naming the meeting and its host) and the
recording is removed when it completes, even with ``ZOOMGUARD_RECORDING_ACTION=report``;
"end_meeting" ends the meeting (PUT /meetings/{id}/status, action end) and then tells the officer.
The refusal, the end and the escalation are each an audit entry.

A Zoom error that may pass (5xx, 429) is raised so the worker retries the event; any other
refusal is recorded as a failure the privacy officer must act on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from zoomguard.errors import UnusableEvent, ZoomAPIError, ZoomNotFound
from zoomguard.notify import categories
from zoomguard.rules import guidance_quotes as quotes
from zoomguard.service.alerts import delivery
from zoomguard.service.events.reactions import (
    audit_and_alert,
    end_meeting,
    reaction_details,
    worth_retrying,
)
from zoomguard.service.events.registry import EventContext, EventRegistry, ZoomEvent
from zoomguard.store.models import AUDIT_INTENT
from zoomguard.zoom import scopes
from zoomguard.zoom import webhook_events as zoom

# Zoom requires this scope to subscribe to recording.* events.
RECORDING_READ_SCOPE = scopes.READ_RECORDING

# What each event means, in the audit log's "before" and the officer's alert.
WHAT_HAPPENED = {
    zoom.RECORDING_STARTED: "started",
    zoom.RECORDING_RESUMED: "resumed after a pause",
    zoom.RECORDING_COMPLETED: "completed",
    zoom.RECORDING_RECOVERED: "recovered from the trash",
    zoom.RECORDING_TRANSCRIPT_COMPLETED: "transcript completed",
}

log = logging.getLogger(__name__)

listeners = EventRegistry()


# What a re-run of an event records when its earlier run already asked Zoom for the change
# (and died before recording it): Zoom has nothing left to do because zoomguard did it.
ALREADY_DONE = "already done by zoomguard (an earlier attempt made the change before it stopped)"

# The audit actions of the reactions here (``zoomguard.service.reconcile`` settles them too).
STOP_ACTION = "recording.stop"
REMOVAL_ACTIONS = frozenset({"recording.trash", "recording.delete"})
# The key of a removal intent's "before" that names the recording instance (the meeting's UUID
# from the event): the event's body is blanked once it is done, so a reconciliation finds it here.
INSTANCE_KEY = "instance"


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
    zoom.RECORDING_RESUMED,
    category=categories.RECORDING_STARTED,
    urgent=True,
    scopes=(RECORDING_READ_SCOPE,),
)
def recording_started(context: EventContext, event: ZoomEvent) -> None:
    """A cloud recording is running (started, or resumed after a pause): stop it; if Zoom
    refuses, escalate as the policy's ``[live]`` table says."""
    account = event.enforced_account
    meeting_id = event.object_id()
    intent = _intent(
        context,
        event,
        action=STOP_ACTION,
        target=f"meeting:{meeting_id}",
        before={"recording": WHAT_HAPPENED[event.name]},
        intended={"recording": "stopped"},
    )
    if intent is None:
        log.info("%s for meeting %s: %s", event.name, meeting_id, ALREADY_DONE)
        return
    try:
        context.client(account).stop_recording(meeting_id)
    except ZoomNotFound:
        if intent.inherited:
            _record_stop(context, event, intent, failure=None, note=ALREADY_DONE)
        else:
            failure = "the meeting had already ended, so there was no recording to stop"
            _record_stop(context, event, intent, failure=failure)
        return
    except ZoomAPIError as exc:
        if worth_retrying(exc):
            raise  # the intent stays unsettled: the retry of this event inherits it
        # Zoom lets only the host or an alternative host stop a live recording, and says so
        # with a 4xx whose code varies (200 or 300, "No permission."): any 4xx is a refusal.
        _escalate(context, event, intent, refusal=exc)
        return
    _record_stop(context, event, intent, failure=None)


def _record_stop(
    context: EventContext,
    event: ZoomEvent,
    intent: _Intent,
    *,
    failure: str | None,
    note: str | None = None,
) -> None:
    _settle_and_alert(
        context,
        event,
        intent.entry_id,
        after={"recording": "stopped" if failure is None else "unknown"},
        confirmed=failure is None,
        detail=note,
        details=_recording_details(
            event.object(), failure=failure, action="stopped", confirmed=failure is None
        ),
    )


def _escalate(
    context: EventContext, event: ZoomEvent, intent: _Intent, *, refusal: ZoomAPIError
) -> None:
    """Zoom refused the stop: audit the refusal, then end the meeting or not, then alert."""
    obj = event.object()
    meeting_id = event.object_id()
    target = f"meeting:{meeting_id}"
    host_email = _host_email(context, event)
    refused = f"Zoom refused to stop the recording ({refusal})"
    # The stop's intent is settled as refused; the escalation is an audit entry of its own.
    context.store.audit.complete(
        intent.entry_id,
        after={"recording": "refused", "zoom_code": refusal.code},
        confirmed=False,
        detail=refused,
    )
    details = _recording_details(
        {**obj, "host_email": host_email},
        failure=refused,
        action="still recording",
        confirmed=False,
    )
    if context.profile.live.when_stop_refused == "end_meeting":
        ended = end_meeting(context, event, event.object_id())
        details["failure"] = refused + (
            "; zoomguard ended the meeting, which ended the recording"
            if ended is None
            else f"; zoomguard could not end the meeting either ({ended})"
        )
        details["changes"] = [
            {
                "field": "meeting",
                "before": "live, recording",
                "after": "ended" if ended is None else "still live",
            }
        ]
        details["confirmed"] = ended is None
        details["officer_action"] = (
            "Tell the host why the meeting was ended; zoomguard removes the recording when Zoom "
            "finishes processing it."
            if ended is None
            else "Reach the host now and have the recording stopped; zoomguard removes it when "
            "Zoom finishes processing it."
        )
    else:
        details["officer_action"] = (
            "Reach the host now and have the recording stopped (only the host or an alternative "
            "host may stop it); zoomguard removes the recording when Zoom finishes processing it."
        )
    audit_and_alert(
        context,
        event,
        action="recording.escalate",
        target=target,
        before={"recording": "refused"},
        after={"escalation": context.profile.live.when_stop_refused},
        confirmed=details["confirmed"],
        details=details,
    )


def _host_email(context: EventContext, event: ZoomEvent) -> str | None:
    """The host's email, so the officer knows whom to call (recording.started has only the id)."""
    obj = event.object()
    given = obj.get("host_email")
    if isinstance(given, str) and given:
        return given
    host_id = obj.get("host_id")
    if not isinstance(host_id, str) or not host_id:
        return None
    try:
        user = context.client(event.enforced_account).get_user(host_id)
    except ZoomAPIError:
        user = None
    email = user.get("email") if user else None
    return email if isinstance(email, str) else f"the user with Zoom id {host_id}"


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
    if action == "report" and _stop_was_refused(context, event):
        action = "trash"  # the escalation promised the officer it would be removed
    done = {"trash": "moved to trash", "delete": "deleted", "report": "reported only"}[action]
    intent = _intent(
        context,
        event,
        action=f"recording.{action}",
        target=f"meeting:{obj.get('id', '')}",
        before={
            "recording": WHAT_HAPPENED[event.name],
            "files": obj.get("recording_count"),
            INSTANCE_KEY: uuid,
        },
        intended={"recording": done},
    )
    if intent is None:
        log.info("%s %s: %s", event.name, obj.get("id", ""), ALREADY_DONE)
        return
    failure: str | None = None
    note: str | None = None
    removed = False
    if action in ("trash", "delete"):
        try:
            removed = context.client(account).delete_recordings(uuid, action=action)
        except ZoomAPIError as exc:
            if worth_retrying(exc):
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


def _stop_was_refused(context: EventContext, event: ZoomEvent) -> bool:
    """Whether Zoom refused zoomguard's stop of this meeting's recording in the last day."""
    last = context.store.audit.last_change(
        event.enforced_account.id,
        f"meeting:{event.object().get('id', '')}",
        STOP_ACTION,
        since=context.clock() - timedelta(days=1),
    )
    return last is not None and last.confirmed is False


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
