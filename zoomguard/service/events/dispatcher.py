"""The dispatcher: hands each inbox item to the listener declared for its event (the `worker`).

``REGISTRY`` combines the families; adding a family module means adding it here. An event with
no listener is logged and done (the receiver stores only handled events as pending, so this
happens only after a handler was removed). A listener raises to have the event retried with
backoff; the worker marks it dead after a bounded number of attempts and ``on_dead`` tells the
privacy officer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from zoomguard.config import Settings
from zoomguard.errors import UnknownAccount
from zoomguard.notify import categories
from zoomguard.rules import policy
from zoomguard.service.clients import (
    WORKER_RATE_PART,
    Clock,
    client_for_account,
    load_profile,
    utcnow,
)
from zoomguard.service.events.app import listeners as app_listeners
from zoomguard.service.events.meetings import listeners as meeting_listeners
from zoomguard.service.events.recordings import listeners as recording_listeners
from zoomguard.service.events.records import listeners as records_listeners
from zoomguard.service.events.registry import EventRegistry, ZoomEvent
from zoomguard.service.events.settings import listeners as settings_listeners
from zoomguard.service.events.stored_body import from_store
from zoomguard.service.events.webinars import listeners as webinar_listeners
from zoomguard.store import AccountRecord, InboxItem, Store
from zoomguard.store.models import ACCOUNT_ACTIVE
from zoomguard.zoom.client import ZoomClient

log = logging.getLogger(__name__)

REGISTRY = EventRegistry(
    meeting_listeners,
    webinar_listeners,
    recording_listeners,
    records_listeners,
    settings_listeners,
    app_listeners,
)
# The events the receiver stores for the worker; any other is recorded by name only, as ignored.
HANDLED_EVENTS: frozenset[str] = REGISTRY.handled_events
# Events whose alert goes out at once, from the worker, rather than at the clock's next run.
URGENT_EVENTS: frozenset[str] = REGISTRY.urgent_events

ClientFactory = Callable[[AccountRecord], ZoomClient]


class EventDispatcher:
    """Callable for zoomguard.runtime.worker: handles one InboxItem or raises to have it retried.

    It is also the listeners' ``EventContext``: settings, store, profile, clock and one Zoom
    client per account, kept between events.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        client_factory: ClientFactory | None = None,
        profile: policy.Profile | None = None,
        clock: Clock = utcnow,
        registry: EventRegistry = REGISTRY,
    ) -> None:
        self.settings = settings
        self.store = store
        self.profile = profile if profile is not None else load_profile(settings)
        self.clock = clock
        self.registry = registry
        self._client_factory = client_factory or (
            lambda account: client_for_account(settings, store, account, rate_part=WORKER_RATE_PART)
        )
        self._clients: dict[int, ZoomClient] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def client(self, account: AccountRecord) -> ZoomClient:
        # One client per account keeps its token and connection pool between events.
        with self._lock:
            client = self._clients.get(account.id)
            if client is None:
                client = self._clients[account.id] = self._client_factory(account)
            return client

    def forget_client(self, account: AccountRecord) -> None:
        with self._lock:
            client = self._clients.pop(account.id, None)
        if client is not None:
            client.close()

    def __call__(self, item: InboxItem) -> None:
        body = from_store(item.body, self.store.db.vault)
        listener = self.registry.listener_for(item.event)
        if listener is None:
            log.info("event %s has no handler: nothing to do", item.event)
            return
        zoom_account_id = self._zoom_account_id(item, body)
        known = self.store.accounts.by_zoom_id(zoom_account_id) if zoom_account_id else None
        account = known if known is not None and known.status == ACCOUNT_ACTIVE else None
        if account is None and listener.needs_account:
            if known is None:
                # Kept for the officer (report, /healthz, dashboard), never silently done.
                raise UnknownAccount(
                    f"Zoom account {zoom_account_id or '(none named)'} is not connected",
                )
            log.info("event %s for an account no longer enforced: ignored", item.event)
            return
        event = ZoomEvent(
            name=item.event,
            body=body,
            zoom_account_id=item.zoom_account_id,
            account=account,
            category=listener.category,
            inbox_id=item.id,
        )
        listener.handler(self, event)

    @staticmethod
    def _zoom_account_id(item: InboxItem, body: Mapping[str, Any]) -> str | None:
        """The Zoom account the event concerns, from the inbox row or the payload."""
        payload = body.get("payload")
        zoom_account_id = item.zoom_account_id or (
            payload.get("account_id") if isinstance(payload, Mapping) else None
        )
        return str(zoom_account_id) if zoom_account_id else None


def on_dead(
    settings: Settings, store: Store, clock: Clock = utcnow
) -> Callable[[InboxItem, str], None]:
    """The worker's callback for an event given up on: the privacy officer is told at once."""

    def tell_officer(item: InboxItem, error: str) -> None:
        zoom_id = item.zoom_account_id
        account = store.accounts.by_zoom_id(zoom_id) if zoom_id else None
        with store.transaction() as session:
            store.outbox.record_alert(
                account_pk=account.id if account is not None else None,
                sweep_id=None,
                delivery=categories.IMMEDIATE,
                category=categories.EVENT_DEAD,
                details={
                    "meeting_id": None,
                    "topic": None,
                    "host_email": None,
                    "start_time": None,
                    "rule_id": None,
                    "rule": f"Zoom event {item.event} (inbox #{item.id}) could not be processed",
                    "guidance": None,
                    "changes": [],
                    "confirmed": None,
                    "failure": error[:500],
                    "officer_action": (
                        "zoomguard gave up after repeated attempts; `zoomguard report` lists the "
                        "event. The next sweep re-checks every scheduled meeting, but a recording "
                        "may need to be removed by hand."
                    ),
                },
                now=clock(),
                session=session,
            )

    return tell_officer
