"""Helpers for the sandbox tests: an API client that checks every response against Zoom's
OpenAPI documents, and a tiny webhook receiver on loopback that keeps the raw bytes."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import requests

from support.openapi import match_operation, validate_response
from zoomguard.rules.policy import HostSettings
from zoomguard.sandbox import SandboxConfig, SandboxServer

# A documentation defect, not a sandbox choice: Zoom's document gives PATCH
# /accounts/{accountId}/lock_settings a "200" whose description is an error message ("Only
# available for Paid account"); Zoom answers 204 like every other settings PATCH.
UNDOCUMENTED_SUCCESS = {("PATCH", "/accounts/{accountId}/lock_settings"): 204}

# The sandbox account's own waiting-room setting unless a test changes it: it places everyone.
# A meeting without waiting_room_options follows it, so a test's own policy.evaluate of such a
# meeting passes it as the host's settings, as zoomguard reads them.
SANDBOX_HOST_DEFAULT = HostSettings(waiting_room_places=0)


def double_encode(value: str) -> str:
    return quote(quote(value, safe=""), safe="")


def s2s_token(server: SandboxServer) -> str:
    cfg = server.config
    response = requests.post(
        server.oauth_url + "/oauth/token",
        params={"grant_type": "account_credentials", "account_id": cfg.account_id},
        auth=(cfg.client_id, cfg.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@dataclass
class Api:
    """Calls the sandbox's /v2 API; every response is validated against the OpenAPI documents
    (``validated`` counts them) unless ``check=False``."""

    server: SandboxServer
    token: str
    session: requests.Session = field(default_factory=requests.Session)
    validated: int = 0

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        check: bool = True,
        token: str | None = None,
    ) -> requests.Response:
        response = self.session.request(
            method,
            self.server.api_url + path,
            params=params,
            json=json_body,
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=10,
        )
        if check:
            self.check(method, path, response)
        return response

    def check(self, method: str, path: str, response: requests.Response) -> None:
        body = response.content or None
        try:
            validate_response(method, path, response.status_code, body)
        except AssertionError:
            template = match_operation(method, path).template
            if UNDOCUMENTED_SUCCESS.get((method, template)) != response.status_code:
                raise
            assert not response.content
        self.validated += 1

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.call("PATCH", path, json_body=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def close(self) -> None:
        self.session.close()


@contextmanager
def running(config: SandboxConfig | None = None) -> Iterator[tuple[SandboxServer, Api]]:
    with SandboxServer(config or SandboxConfig()) as server:
        api = Api(server, s2s_token(server))
        try:
            yield server, api
        finally:
            api.close()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class WebhookReceiver:
    """A loopback HTTP endpoint that records every POST's raw bytes and answers with the next
    status from ``statuses`` (200 once they run out); answers endpoint.url_validation with
    ``secret`` like a correct webhook endpoint would."""

    def __init__(self, secret: str, statuses: list[int] | None = None) -> None:
        self.secret = secret
        self.statuses = list(statuses or [])
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, dict(self.headers.items()), raw, time.time())
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = b""
                event = json.loads(raw)
                if event.get("event") == "endpoint.url_validation" and status == 200:
                    plain = event["payload"]["plainToken"]
                    digest = hmac.new(receiver.secret.encode(), plain.encode(), hashlib.sha256)
                    answer = json.dumps(
                        {"plainToken": plain, "encryptedToken": digest.hexdigest()}
                    ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/zoom/webhooks"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            bodies = [json.loads(r.body) for r in self.received]
        return [b for b in bodies if name is None or b.get("event") == name]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        with self._lock:
            return list(self.received)
