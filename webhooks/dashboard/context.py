"""What the dashboard's blueprints need from ``install_dashboard``, kept on ``app.extensions``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from zoomguard.config import Settings
from zoomguard.store import Store
from zoomguard.webhooks.dashboard.sweeps import SweepLauncher

EXTENSION_KEY = "zoomguard_dashboard"


@dataclass(frozen=True)
class DashboardContext:
    settings: Settings
    store: Store
    launcher: SweepLauncher


def dashboard_context() -> DashboardContext:
    context = current_app.extensions[EXTENSION_KEY]
    assert isinstance(context, DashboardContext)
    return context
