"""Webinar events, like their meeting twins: a webinar created or changed is enforced at once
with the webinar rules; one deleted has its findings resolved. (Webinar recordings arrive as
recording.* events, handled in ``recordings``.)

zoomguard's own PATCH comes back as webinar.updated and finds the webinar compliant; a fix Zoom
overrode is not sent again within ``LOOP_GUARD``, as for meetings.
"""

from __future__ import annotations

from typing import Any

from zoomguard.rules import policy
from zoomguard.service.enforce import MeetingEnforcer
from zoomguard.service.events.meetings import LOOP_GUARD
from zoomguard.service.events.registry import EventContext, EventRegistry, ZoomEvent
from zoomguard.store import AccountRecord
from zoomguard.zoom import webhook_events as zoom

# Zoom requires this scope to subscribe to webinar.created, .updated and .deleted.
WEBINAR_READ_SCOPE = "webinar:read:webinar:admin"

listeners = EventRegistry()


@listeners.on(zoom.WEBINAR_CREATED, zoom.WEBINAR_UPDATED, scopes=(WEBINAR_READ_SCOPE,))
def webinar_changed(context: EventContext, event: ZoomEvent) -> None:
    """Enforce the webinar rules on the webinar as it is now (alerts come from the enforcer)."""
    _enforce_webinar(context, event.enforced_account, event.object_id())


@listeners.on(zoom.WEBINAR_DELETED, scopes=(WEBINAR_READ_SCOPE,))
def webinar_deleted(context: EventContext, event: ZoomEvent) -> None:
    with context.store.transaction() as session:
        context.store.findings.resolve_meeting(
            account_pk=event.enforced_account.id,
            meeting_id=str(event.object_id()),
            now=context.clock(),
            session=session,
        )


def _enforce_webinar(context: EventContext, account: AccountRecord, webinar_id: Any) -> None:
    client = context.client(account)
    webinar = client.get_webinar(webinar_id)
    if webinar is None:
        return  # deleted since: nothing to enforce
    now = context.clock()
    hold_back = None
    last = context.store.audit.last_change(
        account.id, f"webinar:{webinar_id}", "webinar.update", since=now - LOOP_GUARD
    )
    if last is not None and last.confirmed is False:
        hold_back = "not sent again: Zoom overrode zoomguard's last fix of this webinar"
    enforcer = MeetingEnforcer(
        context.settings,
        context.store,
        client,
        account,
        profile=context.profile,
        actor="webhook",
        clock=context.clock,
    )
    host = webinar.get("host_email")
    host_email = host if isinstance(host, str) else None
    outcome = enforcer.enforce(
        webinar, host_email=host_email, today=now.date(), hold_back=hold_back, kind=policy.WEBINAR
    )
    if outcome is not None:
        enforcer.record(None, outcome, host_email)
