"""The real-time half of `zoomguard demo`: the webhook receiver and an inbox worker against the
sandbox, a host who starts a cloud recording, and how long zoomguard took to stop it.

The pieces are the ones the Procfile runs, not look-alikes: the receiver is
``zoomguard.webhooks.create_app`` (the Flask app gunicorn serves) on werkzeug's threaded server on
a free loopback port, and the worker is ``zoomguard.runtime.worker.run_worker`` with the
service's ``EventDispatcher``, in a thread. The sandbox signs and delivers its webhooks to the
receiver over HTTP, as Zoom does. Imported only by the demo command, which is why it may import
the sandbox at the top.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from zoomguard.config import Settings
from zoomguard.errors import ZoomGuardError
from zoomguard.runtime.worker import default_worker_id, run_worker
from zoomguard.sandbox import SandboxServer
from zoomguard.service.events import EventDispatcher, on_dead
from zoomguard.store import Store
from zoomguard.webhooks import create_app
from zoomguard.zoom import webhook_events

# How long the demo waits for zoomguard to stop the recording before it calls the demo failed
# (the benchmark's p95 is about 0.1 s; this only guards against a hang).
STOP_TIMEOUT_SECONDS = 10.0
# How long, at the end, the worker gets to finish the events already delivered.
DRAIN_TIMEOUT_SECONDS = 10.0
_WATCH_SECONDS = 0.002


class _QuietRequests(WSGIRequestHandler):
    """No access-log line per webhook: the demo's output is what the reader follows."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass(frozen=True)
class LiveService:
    receiver_url: str
    url_validated: bool  # the receiver answered Zoom's endpoint.url_validation challenge


@dataclass(frozen=True)
class RecordingStopped:
    meeting_id: int
    topic: str
    host_email: str
    seconds: float  # the sandbox's clock: "recording started" emitted -> the stop received


@contextmanager
def live_service(settings: Settings, store: Store, sandbox: SandboxServer) -> Iterator[LiveService]:
    """The receiver and one worker, with the sandbox's webhooks pointed at the receiver.

    On the way out the sandbox stops sending, the worker finishes what was delivered (so its
    audit entries and alerts are in the store), then both are stopped.
    """
    app = create_app(settings, store)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietRequests)
    web = threading.Thread(target=server.serve_forever, name="zg-demo-web", daemon=True)
    stop = threading.Event()
    handler = EventDispatcher(settings, store)
    worker = threading.Thread(
        target=run_worker,
        args=(store, handler),
        kwargs={
            "worker_id": default_worker_id("demo"),
            "stop": stop,
            "on_dead": on_dead(settings, store),
        },
        name="zg-demo-worker",
        daemon=True,
    )
    web.start()
    worker.start()
    url = f"http://127.0.0.1:{server.server_port}/webhooks/zoom"
    try:
        validation = sandbox.validate_webhook_url(url)
        sandbox.set_webhook_url(url)
        yield LiveService(receiver_url=url, url_validated=validation.ok)
        sandbox.set_webhook_url(None)
        sandbox.wait_for_webhooks(DRAIN_TIMEOUT_SECONDS, include_retries=False)
        _wait_until_drained(store, DRAIN_TIMEOUT_SECONDS)
    finally:
        sandbox.set_webhook_url(None)
        stop.set()
        worker.join(DRAIN_TIMEOUT_SECONDS)
        handler.close()
        server.shutdown()
        web.join(DRAIN_TIMEOUT_SECONDS)
        server.server_close()


def _wait_until_drained(store: Store, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = store.inbox.count_by_status()
        if counts["pending"] == 0 and counts["processing"] == 0:
            return
        time.sleep(0.05)


def stop_a_live_recording(sandbox: SandboxServer, meeting_id: int) -> RecordingStopped:
    """The meeting's host starts it and a cloud recording; returns once zoomguard stopped it.

    Raises ZoomGuardError when no stop arrives within STOP_TIMEOUT_SECONDS: the demo then fails
    rather than print a number it did not measure.
    """
    state = sandbox.state
    state.start_meeting(meeting_id)
    state.start_recording(meeting_id)
    started_at = _recording_started_at(sandbox, meeting_id)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with state.lock:
            stops = [s for s in state.recording_stops if s.meeting_id == meeting_id]
            meeting: dict[str, Any] = dict(state.meetings[meeting_id])
            host = state.users.get(meeting["host_id"], {})
        if stops:
            return RecordingStopped(
                meeting_id=meeting_id,
                topic=str(meeting.get("topic", "")),
                host_email=str(host.get("email", "")),
                seconds=max(0.0, stops[0].received_at - started_at),
            )
        time.sleep(_WATCH_SECONDS)
    raise ZoomGuardError(
        f"zoomguard did not stop the recording of meeting {meeting_id} within "
        f"{STOP_TIMEOUT_SECONDS:.0f} s",
        reason="demo_recording_not_stopped",
    )


def _recording_started_at(sandbox: SandboxServer, meeting_id: int) -> float:
    """Unix seconds at which the sandbox emitted this meeting's "recording started" event."""
    for event in reversed(sandbox.state.events_snapshot(webhook_events.RECORDING_STARTED)):
        if event["payload"]["object"]["id"] == meeting_id:
            return float(event["event_ts"]) / 1000.0
    raise ZoomGuardError(
        f"the sandbox did not start a recording for meeting {meeting_id}",
        reason="demo_recording_not_started",
    )
