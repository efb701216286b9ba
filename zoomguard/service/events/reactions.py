"""What the live reactions share: when a Zoom refusal is worth a retry, how a reaction is written
down (one audit entry and the officer's alert, in one transaction), and the alert's details.

Used by the recording family and the records family (AI Companion, summaries, live streams,
chat files).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from zoomguard.errors import ZoomAPIError, ZoomNotFound
from zoomguard.rules import policy
from zoomguard.service.alerts import delivery
from zoomguard.service.events.registry import EventContext, ZoomEvent


def worth_retrying(exc: ZoomAPIError) -> bool:
    """A refusal that may pass (5xx, 429): the event is raised again so the worker retries it."""
    return exc.status >= 500 or exc.status == 429


def first_of(obj: Mapping[str, Any], *keys: str) -> Any:
    """The first of ``keys`` the object has: Zoom names one meeting field differently per event
    (``id``, ``meeting_id``, ``meeting_number``)."""
    for key in keys:
        value = obj.get(key)
        if value is not None and value != "":
            return value
    return None


def reaction_details(
    *,
    meeting_id: Any,
    topic: Any,
    host_email: Any,
    start_time: Any,
    rule_id: str,
    rule: str,
    guidance: str,
    changes: Sequence[Mapping[str, Any]],
    confirmed: bool | None,
    failure: str | None,
    officer_action: str | None,
) -> dict[str, Any]:
    """The officer's alert details, in the shape every alert has; the topic is redacted."""
    return {
        "meeting_id": "" if meeting_id is None else str(meeting_id),
        "topic": policy.redact(str(topic)) if isinstance(topic, str) and topic else None,
        "host_email": host_email if isinstance(host_email, str) else None,
        "start_time": start_time if isinstance(start_time, str) else None,
        "rule_id": rule_id,
        "rule": rule,
        "guidance": guidance,
        "changes": [dict(c) for c in changes],
        "confirmed": confirmed,
        "failure": failure,
        "officer_action": officer_action,
    }


def audit_and_alert(
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


def end_meeting(context: EventContext, event: ZoomEvent, meeting_id: str) -> str | None:
    """End the live meeting (the last step of the ``[live]`` escalation, when Zoom refused to
    stop what it records); None when it ended, else why not. Audited either way."""
    account = event.enforced_account
    failure: str | None = None
    try:
        context.client(account).end_meeting(meeting_id)
    except ZoomNotFound:
        pass  # gone already: it has ended, and its recording with it
    except ZoomAPIError as exc:
        if worth_retrying(exc):
            try:
                context.client(account).end_meeting(meeting_id)
            except ZoomAPIError as again:
                failure = str(again)
        else:
            failure = str(exc)
    context.store.audit.append(
        account_pk=account.id,
        actor="webhook",
        action="meeting.end",
        target=f"meeting:{meeting_id}",
        before={"meeting": "live"},
        after={"meeting": "ended" if failure is None else "live"},
        confirmed=failure is None,
        now=context.clock(),
    )
    return failure
