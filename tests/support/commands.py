"""End-to-end helpers: the sandbox on loopback and the `zoomguard` command as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from support.openapi import validate_request
from support.store import TEST_SECRET_KEY
from zoomguard.sandbox import SandboxServer


@dataclass
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


def zoomguard_env(sandbox: SandboxServer, db_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: only what points zoomguard at the sandbox and a scratch database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM", "DATABASE_URL"))}
    env.update(sandbox.env())
    env["ZOOMGUARD_DATABASE_URL"] = f"sqlite:///{db_path}"
    env["ZOOMGUARD_SECRET_KEY"] = TEST_SECRET_KEY
    env.update(extra)
    return env


def run_zoomguard(
    args: list[str], env: Mapping[str, str], *, timeout: float = 120
) -> CommandResult:
    proc = subprocess.run(
        [sys.executable, "-m", "zoomguard", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CommandResult(proc.returncode, proc.stdout, proc.stderr)


def assert_requests_follow_openapi(sandbox: SandboxServer, since: int = 0) -> int:
    """Every /v2 request the sandbox received validates against Zoom's OpenAPI documents."""
    checked = 0
    for record in sandbox.state.request_log(since):
        if not record.path.startswith("/v2/"):
            continue
        query = {k: v for k, v in parse_qs(record.query, keep_blank_values=True).items()}
        validate_request(record.method, record.path, query, record.body)
        checked += 1
    return checked
