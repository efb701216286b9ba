"""SandboxServer: the stand-in on 127.0.0.1, served by werkzeug's threaded server in a daemon
thread, with the webhook dispatcher beside it."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from zoomguard.sandbox.app import SandboxApp
from zoomguard.sandbox.config import SandboxConfig
from zoomguard.sandbox.state import SandboxState
from zoomguard.sandbox.webhooks import UrlValidation, WebhookDispatcher

HOST = "127.0.0.1"


class _Connections:
    """Open connections and the threads serving them, so stop() can end and join them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[threading.Thread, socket.socket] = {}
        self.accepted = 0

    def add(self, conn: socket.socket) -> None:
        with self._lock:
            self._open[threading.current_thread()] = conn
            self.accepted += 1

    def remove(self) -> None:
        with self._lock:
            self._open.pop(threading.current_thread(), None)

    def close_all(self, timeout: float) -> None:
        with self._lock:
            items = list(self._open.items())
        for _, conn in items:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RD)  # wake a thread waiting for a request line
        for thread, _ in items:
            thread.join(timeout)


class _OneBody(io.RawIOBase):
    """The current request's body and nothing after it, read from the connection's buffer.

    werkzeug closes every connection after one answer (``Connection: close``) because, after
    the answer, it reads and discards whatever else the client has sent, which on a kept-alive
    connection is the next request. Zoom keeps connections alive, and a client that must open
    a TCP connection per request spends CPU Zoom would not cost it. Handing werkzeug this
    reader, which ends where the request's Content-Length ends, leaves the next request in the
    buffer for the next ``handle_one_request``.
    """

    def __init__(self, source: io.BufferedIOBase, length: int) -> None:
        super().__init__()
        self._source = source
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: self._left]
        count = self._source.readinto(view)
        if not count:
            self._left = 0
            return 0
        self._left -= count
        return int(count)


def _handler_class(connections: _Connections) -> type[WSGIRequestHandler]:
    class QuietHandler(WSGIRequestHandler):
        def handle(self) -> None:
            # An answer goes out in two writes (head, then body). On a kept-alive connection
            # Nagle's algorithm would hold the body until the client's delayed ACK of the head
            # (40 ms on Linux); web servers switch it off for keep-alive, as nginx does.
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connections.add(self.connection)
            try:
                super().handle()
            finally:
                connections.remove()

        def run_wsgi(self) -> None:
            # Keep the connection only when the request's end is known from Content-Length
            # (zoomguard and Zoom's clients send no chunked bodies); otherwise close it, as
            # werkzeug does.
            self._keep_alive = (
                not self.close_connection
                and "Transfer-Encoding" not in self.headers
                and (self.headers.get("Content-Length") or "0").isdigit()
            )
            connection_stream = self.rfile
            if self._keep_alive:
                length = int(self.headers.get("Content-Length") or "0")
                self.rfile = io.BufferedReader(_OneBody(connection_stream, length))
            try:
                super().run_wsgi()
            finally:
                body, self.rfile = self.rfile, connection_stream
                if self._keep_alive:
                    self._discard_unread(body)

        def _discard_unread(self, body: io.BufferedIOBase) -> None:
            # An answer given without reading the body (a 401, a 429) leaves it in the
            # connection's buffer, where it would be read as the next request line.
            try:
                while body.read(64 * 1024):
                    pass
            except OSError:  # the connection was dropped (an injected fault)
                self.close_connection = True

        def send_header(self, keyword: str, value: str) -> None:
            if (
                keyword.lower() == "connection"
                and value.lower() == "close"
                and getattr(self, "_keep_alive", False)
            ):
                return  # werkzeug's blanket close, see _OneBody
            super().send_header(keyword, value)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # one line per request would drown a benchmark's output

    return QuietHandler


class SandboxServer:
    """``with SandboxServer(SandboxConfig(users=5, meetings=50)) as server: ...``

    ``server.state`` is the live state (scriptable from the test); ``server.env()`` gives the
    environment that points zoomguard at this server. A given ``state`` takes ``config``.
    """

    def __init__(
        self, config: SandboxConfig | None = None, state: SandboxState | None = None
    ) -> None:
        if config is None:
            config = state.config if state is not None else SandboxConfig()
        if state is None:
            state = SandboxState(config)
        else:
            state.config = config
        self.config = config
        self.state = state
        self.app = SandboxApp(state, base_url=lambda: self.base_url)
        self.webhooks = WebhookDispatcher(config, state.record_delivery)
        self.app.webhooks = self.webhooks
        self._connections = _Connections()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        if self._server is not None:
            return self
        server = make_server(
            HOST,
            self.config.port,
            self.app,
            threaded=True,
            request_handler=_handler_class(self._connections),
        )
        self._server = server
        self.webhooks.start()
        self.state.event_sink = self.webhooks.submit
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-server-{server.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, free the port, and join the server, request and webhook threads."""
        server, self._server = self._server, None
        if server is None:
            return
        self.state.event_sink = None
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._connections.close_all(timeout + self.config.latency_ms / 1000.0)
        self.webhooks.stop(timeout)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far: a client that reuses its connections opens few."""
        return self._connections.accepted

    # -- where it is -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._server.port)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/v2"

    @property
    def oauth_url(self) -> str:
        return self.base_url

    def env(self) -> dict[str, str]:
        """Environment variables that point zoomguard at this sandbox."""
        c = self.config
        return {
            "ZOOM_ACCOUNT_ID": c.account_id,
            "ZOOM_CLIENT_ID": c.client_id,
            "ZOOM_CLIENT_SECRET": c.client_secret,
            "ZOOM_API_URL": self.api_url,
            "ZOOM_OAUTH_URL": self.oauth_url,
            "ZOOM_WEBHOOK_SECRET_TOKEN": c.webhook_secret,
            "ZOOM_OAUTH_CLIENT_ID": c.oauth_client_id,
            "ZOOM_OAUTH_CLIENT_SECRET": c.oauth_client_secret,
        }

    # -- webhooks ----------------------------------------------------------------------------

    def set_webhook_url(self, url: str | None) -> None:
        self.config.webhook_url = url

    def validate_webhook_url(self, url: str | None = None) -> UrlValidation:
        return self.webhooks.validate_url(url)

    def wait_for_webhooks(self, timeout: float = 10.0, *, include_retries: bool = True) -> bool:
        return self.webhooks.wait_idle(timeout, include_retries=include_retries)

    def __repr__(self) -> str:
        where: Any = self.base_url if self._server is not None else "stopped"
        return f"<SandboxServer {where}>"
