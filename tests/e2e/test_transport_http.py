"""The transport over a real socket: what requests does per request that the client saves."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from zoomguard.zoom.client import ZoomClient
from zoomguard.zoom.tokens import StaticTokenProvider


class _MeetingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = json.dumps({"id": 85746065, "topic": "Weekly sync"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MeetingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v2"
    finally:
        server.shutdown()
        server.server_close()


def test_a_ca_bundle_from_the_environment_is_looked_at_once_not_per_request(
    api_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca-bundle.crt"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    looked_at: list[str] = []
    isdir = os.path.isdir

    def counting_isdir(path: str | os.PathLike[str]) -> bool:
        if os.fspath(path) == str(bundle):
            looked_at.append(os.fspath(path))
        return isdir(path)

    monkeypatch.setattr(os.path, "isdir", counting_isdir)
    with ZoomClient(api_url, StaticTokenProvider("t"), rate_light=1000, rate_medium=1000) as client:
        meetings = [client.get_meeting("85746065") for _ in range(5)]
    assert [m["topic"] if m else None for m in meetings] == ["Weekly sync"] * 5
    # requests would ask on each of the five requests whether the bundle is a directory.
    assert len(looked_at) == 1
