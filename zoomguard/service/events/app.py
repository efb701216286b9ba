"""App events: an account removed zoomguard's app (``app_deauthorized``, sent to the app's
deauthorization endpoint), so zoomguard stops enforcing it, purges its tokens and tells the
privacy officer at once. Only a notice for the connected app counts: its ``client_id`` must be
the one zoomguard holds for the account (another app's uninstall says nothing about ours)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from zoomguard.errors import UnusableEvent
from zoomguard.notify import categories
from zoomguard.service.events.registry import EventContext, EventRegistry, ZoomEvent
from zoomguard.zoom import webhook_events as zoom

log = logging.getLogger(__name__)

listeners = EventRegistry()


# Handled for any account zoomguard knows, active or not: the purge must happen regardless.
@listeners.on(
    zoom.APP_DEAUTHORIZED,
    category=categories.ACCOUNT_DEAUTHORIZED,
    urgent=True,
    needs_account=False,
)
def app_deauthorized(context: EventContext, event: ZoomEvent) -> None:
    payload = event.body.get("payload")
    if not isinstance(payload, Mapping):
        raise UnusableEvent("payload is missing")
    zoom_account_id = event.zoom_account_id or payload.get("account_id")
    if not zoom_account_id:
        raise UnusableEvent("payload.account_id is missing")
    client_id = payload.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise UnusableEvent("payload.client_id is missing")
    store = context.store
    known = store.accounts.by_zoom_id(str(zoom_account_id))
    if known is None or known.status != "active":
        log.info("app_deauthorized for an account zoomguard does not enforce: nothing to do")
        return
    if client_id != known.client_id:
        log.warning("app_deauthorized names another app's client_id: ignored")
        return
    now = context.clock()
    with store.transaction() as session:
        account = store.accounts.deauthorize(str(zoom_account_id), now, session=session)
        if account is None:
            return
        store.audit.append(
            account_pk=account.id,
            actor="webhook",
            action="account.deauthorized",
            target=f"account:{zoom_account_id}",
            before={"status": "active"},
            after={"status": "deauthorized", "tokens": "purged"},
            confirmed=True,
            now=now,
            session=session,
        )
        store.outbox.record_alert(
            account_pk=account.id,
            sweep_id=None,
            delivery=categories.IMMEDIATE,
            category=event.alert_category,
            details={
                "meeting_id": None,
                "topic": None,
                "host_email": None,
                "start_time": None,
                "rule_id": None,
                "rule": f"zoomguard's Zoom app was removed from account {zoom_account_id}",
                "guidance": None,
                "changes": [],
                "confirmed": True,
                "failure": "no meeting, recording or setting of this account is checked any more",
                "officer_action": None,
            },
            now=now,
            session=session,
        )
    context.forget_client(account)
