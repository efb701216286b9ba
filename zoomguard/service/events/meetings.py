"""Meeting events: a meeting created or changed is enforced at once; one deleted has its findings
resolved; someone joining before the host gets the meeting fixed and the officer told.

zoomguard's own PATCH comes back as meeting.updated: the re-read meeting is then compliant and
nothing is sent. A fix that Zoom overrode is not sent again within ``LOOP_GUARD`` (it is reported
instead), so zoomguard and a locked setting can never ping-pong.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from zoomguard.notify import categories
from zoomguard.rules import policy
from zoomguard.service.alerts import delivery
from zoomguard.service.enforce import OCCURRENCE_SEPARATOR, MeetingEnforcer
from zoomguard.service.events.registry import EventContext, EventRegistry, ZoomEvent
from zoomguard.store import AccountRecord
from zoomguard.zoom import scopes
from zoomguard.zoom import webhook_events as zoom

LOOP_GUARD = timedelta(minutes=10)

# Zoom requires READ_MEETING to subscribe to any meeting.* event but the participant ones.
MEETING_READ_SCOPE = scopes.READ_MEETING
PARTICIPANT_READ_SCOPE = scopes.READ_PARTICIPANT

listeners = EventRegistry()


@listeners.on(zoom.MEETING_CREATED, zoom.MEETING_UPDATED, scopes=(MEETING_READ_SCOPE,))
def meeting_changed(context: EventContext, event: ZoomEvent) -> None:
    """Enforce the policy on the meeting as it is now (alerts come from the enforcer); a change
    to single occurrences (``scope: "single"``) has each of those occurrences checked."""
    occurrence_ids = _single_occurrences(event)
    if not occurrence_ids:
        _enforce_meeting(context, event.enforced_account, event.object_id())
    for occurrence_id in occurrence_ids:
        _enforce_meeting(context, event.enforced_account, event.object_id(), occurrence_id)


def _single_occurrences(event: ZoomEvent) -> list[str]:
    """The occurrence ids of a meeting.updated that changed single occurrences only."""
    payload = event.body.get("payload")
    if not isinstance(payload, Mapping) or payload.get("scope") != "single":
        return []
    occurrences = event.object().get("occurrences")
    if not isinstance(occurrences, list):
        return []
    return [
        o["occurrence_id"]
        for o in occurrences
        if isinstance(o, Mapping) and isinstance(o.get("occurrence_id"), str)
    ]


@listeners.on(
    zoom.MEETING_PARTICIPANT_JBH_JOINED,
    zoom.MEETING_PARTICIPANT_JBH_WAITING,
    category=categories.MEETING_FIX_FAILED,
    scopes=(PARTICIPANT_READ_SCOPE,),
)
def joined_before_host(context: EventContext, event: ZoomEvent) -> None:
    """Someone is joining before the host: fix the meeting, and tell the officer either way."""
    account = event.enforced_account
    meeting = _enforce_meeting(context, account, event.object_id())
    if meeting is not None:  # a meeting deleted since has no one left in it
        _alert_joined_before_host(context, account, event, _host_email(meeting))


@listeners.on(zoom.MEETING_DELETED, scopes=(MEETING_READ_SCOPE,))
def meeting_deleted(context: EventContext, event: ZoomEvent) -> None:
    meeting_id = event.object_id()
    # One occurrence deleted (``scope: "single"``): only it is forgotten; else the meeting.
    occurrence_ids = _single_occurrences(event) or None
    with context.store.transaction() as session:
        context.store.occurrences.forget(
            event.enforced_account.id, str(meeting_id), occurrence_ids, session=session
        )
        context.store.findings.resolve_meeting(
            account_pk=event.enforced_account.id,
            meeting_id=str(meeting_id),
            now=context.clock(),
            session=session,
        )


def _host_email(meeting: Mapping[str, Any]) -> str | None:
    host = meeting.get("host_email")
    return host if isinstance(host, str) else None


def _enforce_meeting(
    context: EventContext,
    account: AccountRecord,
    meeting_id: Any,
    occurrence_id: str | None = None,
) -> Mapping[str, Any] | None:
    """Read the meeting (or one occurrence of it), enforce and record; returns the meeting as
    read (None: it is gone)."""
    client = context.client(account)
    meeting = client.get_meeting(meeting_id, occurrence_id)
    if meeting is None:
        return None  # deleted since: nothing to enforce
    now = context.clock()
    if occurrence_id is not None:
        # It has settings of its own now: every sweep reads it until it has passed.
        context.store.occurrences.remember(
            account.id, str(meeting_id), occurrence_id, noted_by="event", now=now
        )
    # The id findings and audit entries are filed under (see MeetingEnforcer.enforce).
    key = f"{meeting_id}{OCCURRENCE_SEPARATOR}{occurrence_id}" if occurrence_id else meeting_id
    hold_back = None
    last = context.store.audit.last_change(
        account.id, f"meeting:{key}", "meeting.update", since=now - LOOP_GUARD
    )
    if last is not None and last.confirmed is False:
        hold_back = "not sent again: Zoom overrode zoomguard's last fix of this meeting"
    enforcer = MeetingEnforcer(
        context.settings,
        context.store,
        client,
        account,
        profile=context.profile,
        actor="webhook",
        clock=context.clock,
    )
    host_email = _host_email(meeting)
    outcome = enforcer.enforce(
        meeting,
        host_email=host_email,
        today=now.date(),
        hold_back=hold_back,
        occurrence_id=occurrence_id,
    )
    if outcome is not None:
        enforcer.record(None, outcome, host_email)
    return meeting


def _alert_joined_before_host(
    context: EventContext, account: AccountRecord, event: ZoomEvent, host_email: str | None
) -> None:
    obj: Mapping[str, Any] = event.object()
    rule = policy.RULES.get("join_before_host_off")
    with context.store.transaction() as session:
        context.store.outbox.record_alert(
            account_pk=account.id,
            sweep_id=None,
            delivery=delivery(context.settings, event.alert_category),
            category=event.alert_category,
            details={
                "meeting_id": str(obj.get("id", "")),
                "topic": policy.redact(str(obj.get("topic", ""))) or None,
                "host_email": host_email,
                "start_time": obj.get("start_time"),
                "rule_id": "join_before_host_off",
                "rule": rule.title if rule else "No one joins before the host",
                "guidance": rule.guidance if rule else None,
                "changes": [],
                "confirmed": None,
                "failure": "a participant joined (or waited to join) before the host",
                "officer_action": (
                    "zoomguard has turned join-before-host off for this meeting; confirm with "
                    "the host who joined early and whether anything was discussed."
                ),
            },
            now=context.clock(),
            session=session,
        )
