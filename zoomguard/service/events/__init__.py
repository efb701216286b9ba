"""Acting on Zoom's webhook events, one inbox item at a time (the `worker` process).

The receiver has already verified and stored the event; this package decides what it means. One
module per family declares its handlers with ``EventRegistry.on`` (see ``registry``):

meetings    meeting created or updated: enforce it; deleted: resolve its findings; someone
            joined before the host: fix the meeting and alert
recordings  a recording started: stop it; completed: trash or delete it; alert at once
settings    account, group or user settings changed: re-check that target's baseline
app         the app was deauthorized: stop enforcing the account and purge its tokens
dispatcher  ``EventDispatcher`` (what the worker calls), ``on_dead``, and the combined
            ``REGISTRY`` with the ``HANDLED_EVENTS`` and ``URGENT_EVENTS`` derived from it
"""

from zoomguard.service.events.dispatcher import (
    HANDLED_EVENTS,
    REGISTRY,
    URGENT_EVENTS,
    EventDispatcher,
    on_dead,
)
from zoomguard.service.events.registry import (
    EventContext,
    EventRegistry,
    Listener,
    UnusableEvent,
    ZoomEvent,
)

__all__ = [
    "HANDLED_EVENTS",
    "REGISTRY",
    "URGENT_EVENTS",
    "EventContext",
    "EventDispatcher",
    "EventRegistry",
    "Listener",
    "UnusableEvent",
    "ZoomEvent",
    "on_dead",
]
