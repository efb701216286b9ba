"""The app factory: ``create_app(settings, store)`` (Flask tutorial style, nothing at import).

One app serves the Zoom webhook endpoint (unauthenticated: it checks Zoom's signature) and the
dashboard for IT and the privacy officer (signed-in users only; see webhooks/ui.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import Flask, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from zoomguard.config import Settings
from zoomguard.errors import ConfigError, StoreError
from zoomguard.service.clients import register_env_account
from zoomguard.store import Store
from zoomguard.store.inbox_writer import InboxWriter
from zoomguard.webhooks import health
from zoomguard.webhooks.context import EXTENSION_KEY, AppContext
from zoomguard.webhooks.dashboard.setup import install_dashboard
from zoomguard.webhooks.launcher import SweepLauncher
from zoomguard.webhooks.receiver.endpoint import WebhookEndpoint

log = logging.getLogger("zoomguard.webhooks")

# A JSON API that no browser should render, frame, cache or leak a referrer from.
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000",
}


def create_app(
    settings: Settings | None = None,
    store: Store | None = None,
    *,
    clock: Callable[[], float] = time.time,
    insecure_loopback_cookies: bool = False,
) -> Flask:
    """Build the webhook receiver and the dashboard. Raises ``ConfigError`` when no webhook
    secret is set.

    ``store`` defaults to one opened from ``settings.database_url``; ``clock`` (unix seconds)
    is what the timestamp window is checked against. ``insecure_loopback_cookies`` lets the
    dashboard's session cookie go without the Secure flag on plain http to 127.0.0.1 only
    (tests and the local demo).
    """
    standalone = settings is None
    if settings is None:
        # The web process (waitress --call zoomguard.webhooks:create_app): configure logging here,
        # since no
        # zoomguard command runs first; the secret filter applies to everything it logs.
        from zoomguard.runtime.logs import configure_logging

        settings = Settings.from_env()
        configure_logging(settings)
    secret = settings.zoom_webhook_secret_token
    if not secret:
        raise ConfigError(
            "ZOOM_WEBHOOK_SECRET_TOKEN is not set: the webhook receiver cannot verify Zoom's "
            "signatures and will not start"
        )
    if store is None:
        # No liveness ping per request: a webhook that meets a dead connection gets a 503 and
        # Zoom delivers it again (make_engine).
        store = Store.open(settings, pre_ping=False)
    if standalone:
        # The web process: register the account the environment names, so its events are
        # enforced from the first second (the worker and clock do the same when they start).
        register_env_account(settings, store)

    app = Flask(__name__)
    # The dashboard's forms; the webhook endpoint enforces the same bound itself.
    app.config["MAX_CONTENT_LENGTH"] = settings.webhook_max_body_bytes
    context = AppContext(
        settings=settings,
        store=store,
        secret=secret,
        clock=clock,
        launcher=SweepLauncher(settings, store),
        inbox_writer=InboxWriter(store.db),
    )
    app.extensions[EXTENSION_KEY] = context
    app.register_blueprint(health.bp)  # GET /healthz, GET /metrics
    install_dashboard(app, settings, insecure_loopback_cookies=insecure_loopback_cookies)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(SQLAlchemyError, _storage_error)
    app.register_error_handler(StoreError, _storage_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.after_request(_add_security_headers)
    # POST /webhooks/zoom is answered in front of Flask (receiver/endpoint.py); the rest is Flask's.
    app.wsgi_app = WebhookEndpoint(app.wsgi_app, context, SECURITY_HEADERS)  # type: ignore[method-assign]
    return app


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    if status == 413:
        log.warning("webhook rejected: body too large")
    return jsonify(error=(exc.name or "error").lower()), status


def _storage_error(exc: Exception) -> tuple[Response, int]:
    # Only the class: a database error's text can carry the statement's parameters (the body).
    # 503 makes Zoom retry the delivery later, so nothing is lost while the database is away.
    log.error("webhook not stored: database error %s", type(exc).__name__)
    return jsonify(error="temporarily unavailable"), 503


def _unexpected_error(exc: Exception) -> tuple[Response, int]:
    log.error("webhook failed: unexpected %s", type(exc).__name__)
    return jsonify(error="internal error"), 500


def _add_security_headers(response: Response) -> Response:
    # One pass over the few headers already set (the dashboard sets its own CSP), then one
    # extend: seven setdefault calls each scanned the list again.
    present = {name.lower() for name in response.headers.keys()}  # noqa: SIM118
    response.headers.extend(
        (name, value) for name, value in SECURITY_HEADERS.items() if name.lower() not in present
    )
    return response
