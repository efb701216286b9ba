"""Helpers for the dashboard tests: settings pointing at a sandbox Zoom, dashboard users, and the
app served for real on 127.0.0.1 (for the browser). Fixtures are in dashboard_fixtures.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from zoomguard.config import Settings
from zoomguard.sandbox import SandboxServer
from zoomguard.store import Store
from zoomguard.webhooks import create_app

SECRET_KEY = "a dashboard test passphrase (not for production)"
WEBHOOK_SECRET = "dashboard-test-webhook-secret"
ADMIN = ("alice", "alice's long passphrase")
OFFICER = ("priya", "priya's long passphrase")


def sandbox_settings(sandbox: SandboxServer, database_url: str, **overrides: object) -> Settings:
    env = dict(sandbox.env())
    env["ZOOMGUARD_DATABASE_URL"] = database_url
    env["ZOOMGUARD_SECRET_KEY"] = SECRET_KEY
    env["ZOOM_WEBHOOK_SECRET_TOKEN"] = WEBHOOK_SECRET
    # Small pools: the machine has two cores and the sandbox is local.
    env["ZOOMGUARD_CONCURRENCY"] = "4"
    return Settings.from_env(env).with_overrides(**overrides)


def db_url_of(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def add_users(store: Store) -> None:
    store.users.create(ADMIN[0], ADMIN[1], "admin")
    store.users.create(OFFICER[0], OFFICER[1], "privacy_officer")


@dataclass
class RunningApp:
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


@contextmanager
def serve(app: Flask) -> Iterator[RunningApp]:
    """The app on 127.0.0.1 on a free port, in a thread, as a browser would reach it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield RunningApp(app, server, thread)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def dashboard_app(settings: Settings, store: Store, *, insecure_cookies: bool = True) -> Flask:
    return create_app(settings, store, insecure_loopback_cookies=insecure_cookies)
