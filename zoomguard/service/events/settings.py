"""Settings events: someone changed the account's, a group's or a user's settings (or locks), so
the account baseline of that one target is checked again, and in enforce mode fixed and locked
(``zoomguard.service.baseline.recheck_baseline``; it writes the findings and alerts)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from zoomguard.rules import baseline as bl
from zoomguard.service.baseline import Scope, recheck_baseline
from zoomguard.service.events.registry import EventContext, EventRegistry, ZoomEvent
from zoomguard.zoom import scopes
from zoomguard.zoom import webhook_events as zoom

log = logging.getLogger(__name__)

# Which level of settings each event is about.
EVENT_LEVELS: dict[str, str] = {
    zoom.ACCOUNT_SETTINGS_UPDATED: bl.ACCOUNT,
    zoom.ACCOUNT_LOCK_SETTINGS_UPDATED: bl.ACCOUNT,
    zoom.GROUP_SETTINGS_UPDATED: bl.GROUP,
    zoom.GROUP_LOCK_SETTINGS_UPDATED: bl.GROUP,
    zoom.USER_SETTINGS_UPDATED: bl.USER,
}

listeners = EventRegistry()


def scope_for_event(event: str, payload: Mapping[str, Any]) -> Scope | None:
    """The scope a settings webhook asks to re-check, or None if it is not one of them.

    ``payload`` is the envelope's ``payload``; its ``object.id`` names the group or user.
    """
    level = EVENT_LEVELS.get(event)
    if level is None:
        return None
    if level == bl.ACCOUNT:
        return bl.ACCOUNT
    obj = payload.get("object")
    ident = obj.get("id") if isinstance(obj, Mapping) else None
    if not isinstance(ident, str) or not ident:
        return None
    return (level, ident)


@listeners.on(*EVENT_LEVELS, scopes=(scopes.READ_ACCOUNT_SETTING, scopes.READ_ACCOUNT_LOCKS))
def settings_changed(context: EventContext, event: ZoomEvent) -> None:
    payload = event.body.get("payload")
    scope = scope_for_event(event.name, payload if isinstance(payload, Mapping) else {})
    if scope is None:
        log.info("settings event %s names no group or user: nothing to re-check", event.name)
        return
    account = event.enforced_account
    recheck_baseline(
        context.settings,
        context.store,
        context.client(account),
        account,
        scope,
        profile=context.profile,
        clock=context.clock,
    )
