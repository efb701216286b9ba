"""The Procfile's web process (waitress serving zoomguard.webhooks:create_app) on a loopback port.

The command line is read from the Procfile and run by bash as a process manager would (honcho,
Heroku), so the benchmark measures exactly what is deployed; only PORT and WEB_HOST (and, when
asked, WEB_CONCURRENCY or WEB_THREADS) are set here. Its output goes to a file in the scratch
directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import requests

from zoomguard.webhooks.receiver.signature import sign

REPO_ROOT = Path(__file__).resolve().parent.parent
PROCFILE = REPO_ROOT / "Procfile"
RECEIVER_APP = "zoomguard.webhooks:create_app"
# The ingest benchmark's reference: same command line, a Flask hello-world in place of the app.
HELLO_APP = "benchmarks.hello:create_app"


def procfile_command(process: str = "web", procfile: Path = PROCFILE) -> str:
    for line in procfile.read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == process:
            return command.strip()
    raise LookupError(f"no {process!r} process in {procfile}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def signed_headers(body: bytes, secret: str, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or str(int(time.time()))
    return {
        "Content-Type": "application/json; charset=utf-8",
        "x-zm-request-timestamp": stamp,
        "x-zm-signature": sign(body, secret=secret, timestamp=stamp),
    }


def answers(url: str, secret: str) -> bool:
    """True once the receiver answers Zoom's url_validation challenge."""
    body = b'{"event":"endpoint.url_validation","event_ts":1,"payload":{"plainToken":"bench"}}'
    try:
        response = requests.post(url, data=body, headers=signed_headers(body, secret), timeout=2)
    except requests.RequestException:
        return False
    return response.status_code == 200


@contextlib.contextmanager
def procfile_process(
    process: str,
    env: Mapping[str, str],
    log_dir: Path,
    *,
    extra_args: str = "",
    app: str = RECEIVER_APP,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run one Procfile process (bash runs the line, as honcho would); stopped with SIGTERM.

    ``app`` replaces the receiver's application name in the command line (the hello-world
    reference runs under exactly the receiver's server options)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out = (log_dir / f"{process}-{time.monotonic_ns()}.log").open("wb")
    command = procfile_command(process).replace(RECEIVER_APP, app)
    child = subprocess.Popen(
        ["bash", "-c", f"exec {command} {extra_args}".rstrip()],
        cwd=REPO_ROOT,
        env=dict(env),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(5)
        out.close()


@contextlib.contextmanager
def web_process(
    env: Mapping[str, str],
    log_dir: Path,
    *,
    workers: int | None = None,
    timeout: float = 30.0,
    app: str = RECEIVER_APP,
    started: list[subprocess.Popen[bytes]] | None = None,
) -> Iterator[str]:
    """Run the Procfile's web process; yields the webhook URL once it answers. The process is
    appended to ``started`` when given (for reading its CPU time)."""
    port = free_port()
    run_env = dict(env)
    run_env["PORT"] = str(port)
    run_env["WEB_HOST"] = "127.0.0.1"
    if workers is not None:
        run_env["WEB_CONCURRENCY"] = str(workers)
    url = f"http://127.0.0.1:{port}/webhooks/zoom"
    secret = run_env["ZOOM_WEBHOOK_SECRET_TOKEN"]
    with procfile_process("web", run_env, log_dir, app=app) as child:
        if started is not None:
            started.append(child)
        deadline = time.monotonic() + timeout
        while not answers(url, secret):
            if child.poll() is not None:
                raise RuntimeError(f"the web process exited ({child.returncode}); see {log_dir}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the web process did not answer in {timeout:.0f} s")
            time.sleep(0.1)
        yield url
