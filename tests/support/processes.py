"""Helpers for the service-process tests: `zoomguard worker|clock|run` as real OS processes.

``recording_handler`` is the test handler a worker loads with its hidden ``--handler`` option
(``support.processes:recording_handler``, this directory on PYTHONPATH): for each event it handles
it appends "<event id> <pid>" to a file of its own in ``ZG_TEST_HANDLED_DIR``, with one unbuffered
``write`` (a process killed right after it still leaves the line), so a test can count how often
each event was handled and by whom. ``ZG_TEST_HANDLER_SLEEP`` (seconds) makes it slow, so a test
can kill a worker in the middle of its work. A file, not a table: the worker's own database work
is what the test measures, and the machine has two cores.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from support.store import TEST_SECRET_KEY
from zoomguard.config import Settings
from zoomguard.store import InboxItem, Store

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = TESTS_DIR.parent


# --- the test handler (runs inside the worker processes) ----------------------------------------


def recording_handler(settings: Settings, store: Store) -> Callable[[InboxItem], None]:
    pause = float(os.environ.get("ZG_TEST_HANDLER_SLEEP", "0") or 0)
    pid = os.getpid()
    path = Path(os.environ["ZG_TEST_HANDLED_DIR"]) / f"handled-{pid}.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def handle(item: InboxItem) -> None:
        os.write(fd, f"{item.id} {pid}\n".encode())
        if pause:
            time.sleep(pause)

    return handle


def handled_rows(directory: Path) -> list[tuple[int, int]]:
    """(event id, pid) for every time a recording handler handled an event."""
    rows: list[tuple[int, int]] = []
    for path in sorted(directory.glob("handled-*.txt")):
        for line in path.read_text(encoding="ascii").splitlines():
            event_id, pid = line.split()
            rows.append((int(event_id), int(pid)))
    return rows


# --- processes ----------------------------------------------------------------------------------


def service_env(database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment: no ZOOM_* from the caller, this tests directory importable."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ZOOM", "DATABASE_URL", "ZG_TEST_"))
    }
    env["ZOOMGUARD_DATABASE_URL"] = database_url
    env["ZOOMGUARD_SECRET_KEY"] = TEST_SECRET_KEY
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    if extra:
        env.update(extra)
    return env


class ServiceProcess:
    """One ``python -m zoomguard ...`` (or any command) with its output in a file."""

    def __init__(
        self,
        args: list[str],
        env: Mapping[str, str],
        log_path: Path,
        *,
        command: list[str] | None = None,
    ) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self._descendants: set[tuple[int, str]] = set()
        argv = command if command is not None else [sys.executable, "-m", "zoomguard", *args]
        self.proc = subprocess.Popen(
            argv,
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO_DIR,
            # A group of its own: a test can signal it and everything it started.
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_output(self, needle: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"process exited ({self.proc.returncode}) before {needle!r}:\n{self.output()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"no {needle!r} within {timeout} s:\n{self.output()}")

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            self._descendants.update(descendants(self.proc.pid))
            os.killpg(self.proc.pid, signum)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait for a clean exit; returns the exit status."""
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        """Kill whatever is left of the process group (after a failed test) and close the log.

        Also every descendant seen while the process ran: a supervisor such as honcho starts
        each child in a session of its own, so a child it failed to stop is in no group of ours
        and would outlive the test."""
        if self.proc.poll() is None:
            self._descendants.update(descendants(self.proc.pid))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        for pid, started in self._descendants:
            if _start_time(pid) == started:  # still the same process, not a reused pid
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._log.close()


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # After "pid (command) ": state, ppid, ... starttime is field 22 (1-based) of the line.
    return stat[stat.rindex(")") + 2 :].split()


def _start_time(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[19] if fields else None


def descendants(root: int) -> set[tuple[int, str]]:
    """(pid, start time) of every live descendant of ``root``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[tuple[int, str]] = set()
    pending = list(children.get(root, ()))
    while pending:
        pid = pending.pop()
        started = _start_time(pid)
        if started is not None:
            found.add((pid, started))
        pending.extend(children.get(pid, ()))
    return found


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)


# --- the Procfile --------------------------------------------------------------------------------

_PROCFILE_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def procfile_command(process: str, env: Mapping[str, str]) -> list[str]:
    """The Procfile's command for ``process`` (e.g. ``web``), as a shell would expand its
    ``${NAME:-default}`` from ``env``: what the supervisor runs, not a copy of it."""
    for line in (REPO_DIR / "Procfile").read_text(encoding="utf-8").splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            expanded = _PROCFILE_VARIABLE.sub(
                lambda m: env.get(m.group(1)) or (m.group(2) or ""), command
            )
            return shlex.split(expanded)
    raise KeyError(f"no {process!r} line in the Procfile")


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """(status, body) of a GET; status 0 when nothing answers (a process down or starting)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""
