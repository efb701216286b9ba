"""The event registry: each handler declares the Zoom events it handles, in the manner of Slack
Bolt's listeners, and everything that needs the list of events derives it from here.

A family module (meetings, recordings, settings, app) keeps one ``EventRegistry`` and decorates
its handlers::

    listeners = EventRegistry()

    @listeners.on(RECORDING_STARTED, category=categories.RECORDING_STARTED, urgent=True,
                  scopes=("cloud_recording:read:recording:admin",))
    def recording_started(context: EventContext, event: ZoomEvent) -> None: ...

The dispatcher combines the families into one registry; from it come the events the receiver
stores for the worker (``handled_events``), the events whose alert the worker sends at once
(``urgent_events``) and the README's event subscriptions and their scopes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from zoomguard.config import Settings
from zoomguard.errors import UnusableEvent
from zoomguard.rules import policy
from zoomguard.service.clients import Clock
from zoomguard.store import AccountRecord, Store
from zoomguard.zoom.client import ZoomClient


class EventContext(Protocol):
    """What a handler may use: the dispatcher provides it, one per worker process."""

    settings: Settings
    store: Store
    profile: policy.Profile
    clock: Clock

    def client(self, account: AccountRecord) -> ZoomClient:
        """The account's Zoom client, kept between events (token and connection pool)."""
        ...

    def forget_client(self, account: AccountRecord) -> None:
        """Close and drop the account's client (it was deauthorized)."""
        ...


@dataclass(frozen=True)
class ZoomEvent:
    """One webhook event as a handler sees it."""

    name: str
    body: Mapping[str, Any]
    zoom_account_id: str | None
    # The active account it concerns. None only for a listener declared with
    # ``needs_account=False``; the dispatcher skips the others when there is none.
    account: AccountRecord | None
    # The alert category its listener declared (None: it writes no alert of its own).
    category: str | None
    # The inbox row it came from (None when handled outside the worker): what the handler did
    # is audited under it, so a re-run after a crash does not do it twice.
    inbox_id: int | None = None

    @property
    def enforced_account(self) -> AccountRecord:
        if self.account is None:
            raise UnusableEvent(f"{self.name} names no account zoomguard enforces")
        return self.account

    @property
    def alert_category(self) -> str:
        if self.category is None:
            raise LookupError(f"the listener of {self.name} declared no alert category")
        return self.category

    def object(self) -> Mapping[str, Any]:
        """``payload.object``, which every meeting and recording event carries."""
        payload = self.body.get("payload")
        obj = payload.get("object") if isinstance(payload, Mapping) else None
        if not isinstance(obj, Mapping):
            raise UnusableEvent("payload.object is missing")
        return obj

    def object_id(self) -> Any:
        ident = self.object().get("id")
        if ident is None:
            raise UnusableEvent("payload.object.id is missing")
        return ident


EventHandler = Callable[[EventContext, ZoomEvent], None]


@dataclass(frozen=True)
class Listener:
    """One handler and what it declared about the events it handles."""

    events: tuple[str, ...]
    handler: EventHandler
    # The category of the alert the handler itself writes; None when it writes none, or when a
    # use case it calls decides the category per finding (enforce, the baseline).
    category: str | None
    # The alert must reach the privacy officer at once: the worker sends it right after the
    # event instead of leaving it to the clock's next outbox run.
    urgent: bool
    # The granular scopes Zoom requires for the app to subscribe to these events.
    scopes: tuple[str, ...]
    # False only for events about the account itself (the app was removed): they are handled
    # whether or not zoomguard still enforces that account.
    needs_account: bool


class EventRegistry:
    """Listeners by event name. ``EventRegistry(a, b)`` combines family registries."""

    def __init__(self, *parts: EventRegistry) -> None:
        self._listeners: dict[str, Listener] = {}
        self._lock = threading.Lock()
        for part in parts:
            for listener in part.listeners():
                self._add(listener)

    def on(
        self,
        *events: str,
        category: str | None = None,
        urgent: bool = False,
        scopes: Iterable[str] = (),
        needs_account: bool = True,
    ) -> Callable[[EventHandler], EventHandler]:
        """Decorator: the function handles ``events``; see ``Listener`` for the rest."""
        if not events:
            raise ValueError("a listener handles at least one event")

        def register(handler: EventHandler) -> EventHandler:
            self._add(
                Listener(
                    events=tuple(events),
                    handler=handler,
                    category=category,
                    urgent=urgent,
                    scopes=tuple(scopes),
                    needs_account=needs_account,
                )
            )
            return handler

        return register

    def _add(self, listener: Listener) -> None:
        with self._lock:
            for event in listener.events:
                if event in self._listeners:
                    # Two handlers for one event would make dispatch depend on import order.
                    raise ValueError(f"{event} already has a handler")
            for event in listener.events:
                self._listeners[event] = listener

    def listener_for(self, event: str) -> Listener | None:
        return self._listeners.get(event)

    def listeners(self) -> list[Listener]:
        """Each listener once, in the order they were declared."""
        return list(dict.fromkeys(self._listeners.values()))

    @property
    def handled_events(self) -> frozenset[str]:
        return frozenset(self._listeners)

    @property
    def urgent_events(self) -> frozenset[str]:
        return frozenset(name for name, lis in self._listeners.items() if lis.urgent)

    def subscriptions(self) -> list[str]:
        """The event names to subscribe to in the Zoom app, in declaration order."""
        return list(self._listeners)

    def subscription_scopes(self) -> list[str]:
        """Every scope the subscriptions need, each once, in declaration order."""
        return list(dict.fromkeys(s for lis in self.listeners() for s in lis.scopes))
