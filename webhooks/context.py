"""The one context of the app (receiver and dashboard), made by ``create_app`` and kept on
``app.extensions[EXTENSION_KEY]``; routes read it with ``app_context()``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app

from zoomguard.config import Settings
from zoomguard.store import Store
from zoomguard.store.inbox_writer import InboxWriter
from zoomguard.webhooks.launcher import SweepLauncher

EXTENSION_KEY = "zoomguard"


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    store: Store
    secret: str = field(repr=False)  # the webhook secret token Zoom signs with
    clock: Callable[[], float]  # unix seconds, for the webhook timestamp window
    launcher: SweepLauncher  # the dashboard's "sweep now" button
    inbox_writer: InboxWriter  # the receiver's group commit (one writer thread per app)


def app_context() -> AppContext:
    context = current_app.extensions[EXTENSION_KEY]
    assert isinstance(context, AppContext)
    return context
