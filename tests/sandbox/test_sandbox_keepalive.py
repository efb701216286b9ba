"""Kept-alive connections: the sandbox answers several requests on one connection, as Zoom
does, and a body it answered without reading never leaks into the next request."""

from __future__ import annotations

import http.client
import json
import socket

from support.sandbox import running, s2s_token

from zoomguard.sandbox import SandboxConfig
from zoomguard.zoom.client import ZoomClient
from zoomguard.zoom.tokens import S2STokenProvider


def _connection_port(connection: http.client.HTTPConnection) -> int:
    assert connection.sock is not None
    port: int = connection.sock.getsockname()[1]
    return port


def test_one_connection_serves_many_requests() -> None:
    with running(SandboxConfig(users=2, meetings=4, enforce_rate_limits=False)) as (server, _):
        token = s2s_token(server)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        headers = {"Authorization": f"Bearer {token}"}
        ports = set()
        for _ in range(5):
            connection.request("GET", "/v2/users?page_size=300", headers=headers)
            answer = connection.getresponse()
            body = json.loads(answer.read())
            assert answer.status == 200
            assert answer.getheader("Connection") is None
            assert len(body["users"]) == 2
            ports.add(_connection_port(connection))
        assert len(ports) == 1  # the same TCP connection throughout
        connection.close()


def test_a_body_answered_unread_does_not_become_the_next_request() -> None:
    with running(SandboxConfig(users=1, meetings=1, enforce_rate_limits=False)) as (server, _):
        token = s2s_token(server)
        meeting_id = next(iter(server.state.meetings))
        # An unknown path is refused before the body is read. Both requests go in one write,
        # so the refused body and the next request wait together in the server's read buffer.
        patch = json.dumps({"settings": {"waiting_room": True}, "agenda": "x" * 5000}).encode()
        requests_sent = (
            "PATCH /elsewhere HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(patch)}\r\n\r\n"
        ).encode() + patch
        requests_sent += (
            f"GET /v2/meetings/{meeting_id} HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(requests_sent)
            refused = http.client.HTTPResponse(sock)
            refused.begin()
            refused.read()
            answer = http.client.HTTPResponse(sock)
            answer.begin()
            body = json.loads(answer.read())
        assert refused.status == 404
        assert answer.status == 200
        assert body["id"] == meeting_id


def test_a_client_that_asks_to_close_is_closed() -> None:
    with running(SandboxConfig(users=1, meetings=1, enforce_rate_limits=False)) as (server, _):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /v2/users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            received = b""
            while chunk := sock.recv(65536):  # ends only when the sandbox closes
                received += chunk
        assert received.startswith(b"HTTP/1.1 401")
        assert b"\r\nConnection: close\r\n" in received


def test_zoomguards_client_reuses_its_connection_for_reads_and_updates() -> None:
    config = SandboxConfig(users=1, meetings=3, enforce_rate_limits=False, seed=4)
    with running(config) as (server, _):
        before = server.connections_accepted
        client = ZoomClient(
            server.api_url,
            S2STokenProvider(
                server.oauth_url + "/oauth/token",
                config.account_id,
                config.client_id,
                config.client_secret,
            ),
        )
        with client:
            for meeting_id in list(server.state.meetings):
                assert client.get_meeting(meeting_id) is not None
                # A PATCH answers 204 with no body: its connection must go back to the pool.
                client.update_meeting(meeting_id, {"settings": {"waiting_room": True}})
                client.update_meeting(meeting_id, {"settings": {"join_before_host": False}})
        # One for the token, one for the nine API calls made one after another.
        assert server.connections_accepted - before <= 2
