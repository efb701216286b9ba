"""The Procfile's web process over real sockets: idle and slow-sending connections, and a flood
of sign-ins, do not keep Zoom's signed webhooks from being answered 200 in time."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from benchmarks.common import base_env, sqlite_url
from benchmarks.ingest import inbox_rows
from benchmarks.receiver import signed_headers, web_process
from benchmarks.signin_flood import (
    idle_and_slow_connections,
    prepare_database,
    probe_webhooks,
    sign_in_flood_process,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(webhook URL, webhook secret, database URL) of a running Procfile web process."""
    database_url = sqlite_url(tmp_path)
    secret = secrets.token_urlsafe(16)
    env = base_env(database_url, ZOOM_WEBHOOK_SECRET_TOKEN=secret, WEB_IDLE_TIMEOUT="60")
    prepare_database(database_url, env["ZOOMGUARD_SECRET_KEY"])
    with web_process(env, tmp_path / "logs") as url:
        yield url, secret, database_url


def port_of(url: str) -> int:
    return int(url.split(":")[2].split("/")[0])


def test_idle_and_slow_connections_do_not_hold_back_webhooks(web: tuple[str, str, str]) -> None:
    url, secret, database_url = web
    # More silent and trickling connections than the server has threads (4) several times over.
    with idle_and_slow_connections(port_of(url), idle=50, slow=20) as held:
        time.sleep(0.5)
        probe = probe_webhooks(url, secret, seconds=3.0, interval=0.05)
        # The held connections are still open: the server neither served nor dropped them.
        still_open = 0
        for sock in held:
            sock.setblocking(False)
            try:
                still_open += sock.recv(1) == b""  # b"" would mean closed by the server
            except BlockingIOError:
                still_open += 1
            finally:
                sock.setblocking(True)
    assert probe.not_200 == 0
    assert len(probe.latencies_ms) >= 20
    assert sorted(probe.latencies_ms)[int(len(probe.latencies_ms) * 0.95)] < 1000
    assert still_open == len(held)
    assert inbox_rows(database_url) == len(probe.latencies_ms)


def test_a_slow_sender_s_request_is_served_once_it_is_complete(web: tuple[str, str, str]) -> None:
    url, secret, _ = web
    body = b'{"event":"endpoint.url_validation","event_ts":1,"payload":{"plainToken":"slow"}}'
    head = "".join(f"{k}: {v}\r\n" for k, v in signed_headers(body, secret).items())
    request = (
        f"POST /webhooks/zoom HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=10) as sock:
        for start in range(0, len(request), 16):
            sock.sendall(request[start : start + 16])
            time.sleep(0.01)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'"plainToken":"slow"' in answer


def test_webhooks_are_answered_under_a_sign_in_flood(web: tuple[str, str, str]) -> None:
    url, secret, _ = web
    base_url = url.removesuffix("/webhooks/zoom")
    with (
        idle_and_slow_connections(port_of(url), idle=50, slow=0),
        sign_in_flood_process(base_url, attackers=24, seconds=6.0) as tally_of,
    ):
        time.sleep(2.0)
        probe = probe_webhooks(url, secret, seconds=3.0, interval=0.05)
        statuses, errors = tally_of()
    assert probe.not_200 == 0
    assert sorted(probe.latencies_ms)[int(len(probe.latencies_ms) * 0.95)] < 1000
    # The flood was met by the bounds: 429s (hash slot or attempt limits), a few 401s, no 5xx.
    assert statuses.get(429, 0) > 0
    assert not [status for status in statuses if status >= 500]
    assert errors == 0
    # A real user still gets an answer: the bounds refuse quickly, they do not hang.
    started = time.monotonic()
    response = requests.get(f"{base_url}/login", timeout=5)
    assert response.status_code == 200
    assert time.monotonic() - started < 2
