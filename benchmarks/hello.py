"""The reference for the ingest benchmark: a Flask hello-world POST, served by the same command
line as the receiver (only the application named differs), so the ratio shows what the
receiver's own work costs on top of the server and Flask."""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks/zoom")
    def hello() -> tuple[str, int]:
        return "hello", 200

    return app
