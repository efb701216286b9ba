"""What the webhook routes need from create_app, kept on ``app.extensions``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from zoomguard.config import Settings
from zoomguard.store import Store


@dataclass(frozen=True)
class WebhookContext:
    settings: Settings
    secret: str = field(repr=False)
    store: Store
    clock: Callable[[], float]  # unix seconds
