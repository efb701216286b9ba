"""App events: an account removed zoomguard's OAuth app, so zoomguard stops enforcing it and
purges its tokens."""

from __future__ import annotations

from collections.abc import Mapping

from zoomguard.service.events.registry import EventContext, EventRegistry, UnusableEvent, ZoomEvent
from zoomguard.zoom import webhook_events as zoom

listeners = EventRegistry()


# Handled for any account zoomguard knows, active or not: the purge must happen regardless.
@listeners.on(zoom.APP_DEAUTHORIZED, needs_account=False)
def app_deauthorized(context: EventContext, event: ZoomEvent) -> None:
    payload = event.body.get("payload")
    zoom_account_id = event.zoom_account_id or (
        payload.get("account_id") if isinstance(payload, Mapping) else None
    )
    if not zoom_account_id:
        raise UnusableEvent("payload.account_id is missing")
    now = context.clock()
    store = context.store
    with store.transaction() as session:
        account = store.deauthorize(str(zoom_account_id), now, session=session)
        if account is not None:
            store.append_audit(
                session,
                account_pk=account.id,
                actor="webhook",
                action="account.deauthorized",
                target=f"account:{zoom_account_id}",
                before={"status": "active"},
                after={"status": "deauthorized", "tokens": "purged"},
                confirmed=True,
                now=now,
            )
    if account is not None:
        context.forget_client(account)
