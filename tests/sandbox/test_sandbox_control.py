"""Scripting the sandbox from another process (/_sandbox/*), the server's lifecycle, and the
`zoomguard sandbox` command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from support.sandbox import Api, WebhookReceiver, running, s2s_token

from zoomguard.sandbox import SandboxConfig, SandboxServer, SandboxState


@pytest.fixture(scope="module")
def controlled() -> Iterator[tuple[SandboxServer, Api]]:
    config = SandboxConfig(users=3, meetings=12, seed=2, enforce_rate_limits=False)
    with running(config) as pair:
        yield pair


def control(
    server: SandboxServer, method: str, path: str, body: object = None
) -> requests.Response:
    return requests.request(method, f"{server.base_url}/_sandbox/{path}", json=body, timeout=5)


def test_state_summary(controlled: tuple[SandboxServer, Api]) -> None:
    server, _ = controlled
    summary = control(server, "GET", "state").json()
    assert summary["users"] == 3
    assert summary["meetings"] == 12
    assert summary["rate_light"] == 30
    assert summary["account_id"] == server.config.account_id
    truth = control(server, "GET", "noncompliance").json()
    assert len(truth) == summary["noncompliant_generated"] == round(12 * 0.3)


def test_request_log_over_http(controlled: tuple[SandboxServer, Api]) -> None:
    server, api = controlled
    mark = control(server, "GET", "requests").json()["next"]
    api.get("/users", params={"page_size": 2})
    log = control(server, "GET", f"requests?since={mark}").json()
    (record,) = log["requests"]
    assert (record["method"], record["path"], record["query"], record["status"]) == (
        "GET",
        "/v2/users",
        "page_size=2",
        200,
    )
    assert record["category"] == "medium"
    assert log["next"] == mark + 1


def test_faults_over_http(controlled: tuple[SandboxServer, Api]) -> None:
    server, api = controlled
    meeting_id = next(iter(server.state.meetings))
    added = control(
        server, "POST", "faults", {"method": "GET", "target": str(meeting_id), "status": 429}
    )
    assert added.json()["code"] == 4001
    assert len(control(server, "GET", "faults").json()["faults"]) == 1
    assert api.get(f"/meetings/{meeting_id}").status_code == 429
    assert api.get(f"/meetings/{meeting_id}").status_code == 200
    control(server, "POST", "faults", {"delete_after_list": meeting_id})
    host = server.state.meetings[meeting_id]["host_id"]
    api.get(f"/users/{host}/meetings")
    assert meeting_id not in server.state.meetings
    bad = control(server, "POST", "faults", {"status": 500})
    assert bad.status_code == 400


def test_scenarios_over_http() -> None:
    with WebhookReceiver("s3cret") as receiver:
        config = SandboxConfig(users=2, meetings=4, seed=3, webhook_secret="s3cret")
        with SandboxServer(config) as server:
            meeting_id = next(iter(server.state.meetings))
            control(server, "POST", "config", {"webhook_url": receiver.url})
            assert control(server, "POST", "scenario/validate_webhook").json()["ok"] is True
            started = control(
                server, "POST", "scenario/start_recording", {"meeting_id": meeting_id}
            )
            assert started.json()["meeting_id"] == meeting_id
            assert server.state.live[meeting_id].recording_state == "recording"
            done = control(
                server, "POST", "scenario/complete_recording", {"meeting_id": meeting_id}
            )
            assert done.json()["uuid"] in server.state.recordings
            assert control(server, "POST", "scenario/wait_webhooks", {"timeout": 5}).json()["idle"]
            events = control(server, "GET", "events").json()["events"]
            assert [e["event"] for e in events] == [
                "meeting.started",
                "recording.started",
                "recording.stopped",
                "meeting.ended",
                "recording.completed",
            ]
            deliveries = control(server, "GET", "deliveries?event=recording.completed").json()
            assert [d["status"] for d in deliveries["deliveries"]] == [200]
            edited = control(
                server,
                "POST",
                "scenario/update_meeting",
                {"meeting_id": meeting_id, "patch": {"settings": {"join_before_host": True}}},
            )
            assert edited.json()["settings"]["join_before_host"] is True
            assert control(server, "POST", "scenario/nope").status_code == 404
            assert (
                control(server, "POST", "scenario/start_meeting", {"meeting_id": 1}).status_code
                == 404
            )
            control(server, "POST", "scenario/expire_tokens")
            assert control(server, "POST", "config", {"latency_ms": 5})
            assert server.config.latency_ms == 5
            assert control(server, "POST", "config", {"bogus": 1}).status_code == 400
            assert control(server, "POST", "config", {"drop_rate": 2}).status_code == 400


def test_env_points_zoomguard_at_the_server() -> None:
    config = SandboxConfig()
    with SandboxServer(config) as server:
        env = server.env()
        assert env["ZOOM_API_URL"] == server.api_url == server.base_url + "/v2"
        assert env["ZOOM_OAUTH_URL"] == server.oauth_url == server.base_url
        assert env["ZOOM_ACCOUNT_ID"] == config.account_id
        assert env["ZOOM_CLIENT_ID"] == config.client_id
        assert env["ZOOM_CLIENT_SECRET"] == config.client_secret
        assert env["ZOOM_WEBHOOK_SECRET_TOKEN"] == config.webhook_secret
        assert server.base_url.startswith("http://127.0.0.1:")
    assert SandboxConfig().client_secret != SandboxConfig().client_secret


def test_stop_frees_the_port_and_joins_threads() -> None:
    before = {t.name for t in threading.enumerate()}
    server = SandboxServer(SandboxConfig(latency_ms=50, users=1)).start()
    port = server.port
    api = Api(server, "unused")
    results: list[int] = []
    worker = threading.Thread(
        target=lambda: results.append(api.get("/users", check=False).status_code)
    )
    worker.start()
    time.sleep(0.02)
    server.stop()
    worker.join(5)
    api.close()
    assert results == [401]  # the in-flight request was answered before the server stopped
    after = {t.name for t in threading.enumerate()}
    assert not {n for n in after - before if n.startswith("sandbox")}
    with socket.socket() as probe:
        # Free again for a server: no listening socket holds it. (SO_REUSEADDR, as every
        # server sets: a kept-alive connection the stop closed waits out TIME_WAIT on it.)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
        probe.listen()
    with SandboxServer(SandboxConfig(port=port)) as again:
        assert again.port == port


def test_a_given_state_is_served() -> None:
    state = SandboxState(SandboxConfig(users=2, meetings=3, seed=8))
    meeting_id = next(iter(state.meetings))
    config = SandboxConfig(enforce_rate_limits=False)
    with SandboxServer(config, state) as server:
        assert server.state is state
        assert state.config is config
        api = Api(server, s2s_token(server))
        assert api.get(f"/meetings/{meeting_id}").status_code == 200
        api.close()


def test_cli_prints_exports_and_stops_cleanly_on_ctrl_c() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOOM")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoomguard", "sandbox", "--port", "0", "--users", "3",
         "--meetings", "9", "--plan", "business", "--seed", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        exports: dict[str, str] = {}
        deadline = time.monotonic() + 20
        while len(exports) < 8 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exports[name] = value
        api_url = exports["ZOOM_API_URL"]
        assert api_url.startswith("http://127.0.0.1:")
        assert api_url.endswith("/v2")
        base = api_url[: -len("/v2")]
        summary = requests.get(base + "/_sandbox/state", timeout=5).json()
        assert (summary["users"], summary["meetings"], summary["rate_light"]) == (3, 9, 80)
        token = requests.post(
            exports["ZOOM_OAUTH_URL"] + "/oauth/token",
            params={"grant_type": "account_credentials", "account_id": exports["ZOOM_ACCOUNT_ID"]},
            auth=(exports["ZOOM_CLIENT_ID"], exports["ZOOM_CLIENT_SECRET"]),
            timeout=5,
        )
        assert token.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "Traceback" not in stderr
