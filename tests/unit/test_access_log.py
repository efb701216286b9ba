"""Access logs keep no query string (issue #16, item 5): the OAuth callback's ``code`` and
``state`` never reach gunicorn's or werkzeug's access log."""

from __future__ import annotations

import datetime
import logging
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from flask import Flask, request
from gunicorn.config import Config
from werkzeug.serving import make_server

from zoomguard.webhooks.access_log import ScrubbingLogger, ScrubbingRequestHandler, without_query

CALLBACK = "/connect/oauth/callback?code=SECRET-CODE-123&state=SECRET-STATE-456"


def test_without_query_keeps_the_path_and_marks_the_cut() -> None:
    assert without_query(CALLBACK) == "/connect/oauth/callback?…"
    assert without_query("/healthz") == "/healthz"


def test_gunicorn_access_log_line_has_no_query(tmp_path: Path) -> None:
    log_file = tmp_path / "access.log"
    config = Config()
    config.set("accesslog", str(log_file))
    config.set("access_log_format", '%(r)s %(q)s "%(f)s" %({referer}i)s %(U)s %(s)s')
    logger = ScrubbingLogger(config)
    referer = f"https://zoomguard.example{CALLBACK}"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": CALLBACK,
        "PATH_INFO": "/connect/oauth/callback",
        "QUERY_STRING": CALLBACK.split("?", 1)[1],
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": referer,
        "REMOTE_ADDR": "127.0.0.1",
    }
    request = SimpleNamespace(headers=[("REFERER", referer)])
    response = SimpleNamespace(status="302 FOUND", sent=0, headers=[])
    logger.access(response, request, environ, datetime.timedelta(milliseconds=3))
    for handler in logger.access_log.handlers:
        handler.flush()
    line = log_file.read_text()
    assert "GET /connect/oauth/callback?… HTTP/1.1" in line
    assert " 302" in line
    assert "SECRET" not in line


def test_werkzeug_access_log_has_no_query(caplog: pytest.LogCaptureFixture) -> None:
    app = Flask(__name__)
    seen: list[str] = []

    @app.get("/connect/oauth/callback")
    def callback() -> str:
        seen.append(str(dict(request.args)))
        return "ok"

    server = make_server("127.0.0.1", 0, app, request_handler=ScrubbingRequestHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            response = requests.get(f"http://127.0.0.1:{server.port}{CALLBACK}", timeout=5)
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
    assert response.status_code == 200
    assert "SECRET-CODE-123" in seen[0]  # the app still read the query
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("GET /connect/oauth/callback?… HTTP/1.1" in line for line in lines), lines
    assert not any("SECRET" in line for line in lines)
