"""Adds the dashboard (sign-in, connect, dashboard pages) to the app ``create_app`` builds."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response

from zoomguard.config import Settings
from zoomguard.crypto import Vault
from zoomguard.notify.render import format_value
from zoomguard.store.users import ROLE_ADMIN
from zoomguard.webhooks.dashboard import auth, connect
from zoomguard.webhooks.dashboard import views as dashboard
from zoomguard.webhooks.dashboard.compliance import percent

log = logging.getLogger("zoomguard.dashboard")

DISABLED_MESSAGE = (
    "The zoomguard dashboard is off: ZOOMGUARD_SECRET_KEY is not set. It signs the dashboard's "
    "sessions and encrypts Zoom credentials; set it and restart.\n"
)


def install_dashboard(
    app: Flask,
    settings: Settings,
    *,
    insecure_loopback_cookies: bool = False,
) -> None:
    """Register the dashboard's blueprints. Without a secret key, "/" only says how to enable it.

    ``insecure_loopback_cookies`` drops the Secure cookie flag for plain-http requests to a
    loopback address only (tests and the local demo); never set it for a deployed dashboard.
    """
    if not settings.secret_key:
        log.warning("dashboard disabled: ZOOMGUARD_SECRET_KEY is not set")
        app.add_url_rule("/", "dashboard_disabled", _disabled)
        return
    auth.configure_sessions(
        app,
        Vault(settings.secret_key).signing_key(),
        insecure_loopback_cookies=insecure_loopback_cookies,
    )
    app.jinja_env.filters["when"] = _when
    app.jinja_env.filters["value"] = format_value
    app.jinja_env.filters["pct"] = percent
    app.jinja_env.filters["starts"] = _starts
    app.context_processor(_template_globals)
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(connect.bp)


def _disabled() -> Response:
    return Response(DISABLED_MESSAGE, status=503, mimetype="text/plain")


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _starts(value: str | None) -> str:
    """Zoom's ``start_time`` (ISO 8601, UTC) as people read it; anything else as it is."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        return value
    return _when(moment.astimezone(UTC))


def _template_globals() -> dict[str, Any]:
    user = auth.current_user()
    return {
        "csrf_token": auth.csrf_token,
        "csrf_field": auth.CSRF_FIELD,
        "user": user,
        "is_admin": user is not None and user.role == ROLE_ADMIN,
    }
