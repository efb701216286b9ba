"""A throwaway PostgreSQL server for the test session (a pytest plugin, loaded by conftest.py).

``postgres_server`` (session scope) gives the server the PostgreSQL tests use, through its
``url()``:
- ``ZOOMGUARD_TEST_POSTGRES_URL`` when it is set (an explicit server always wins);
- otherwise a private server this session starts itself, when PostgreSQL's server binaries are
  installed (``initdb``/``pg_ctl`` on PATH, or Debian's /usr/lib/postgresql/<version>/bin): a new
  cluster in a temporary directory, listening on a free loopback port, stopped and deleted when
  the session ends. It starts on the first ``url()``, so a run without PostgreSQL tests never
  pays for it;
- otherwise the PostgreSQL tests are skipped, with one line that says what to install.

Why not pytest-postgresql: CI runs as root and initdb refuses to run as root. As root the
cluster is made and run by the ``postgres`` user (``runuser -u postgres --``), in a temporary
directory it owns, as Debian's own scripts do.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

POSTGRES_URL_ENV = "ZOOMGUARD_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "ZOOMGUARD_REQUIRE_POSTGRES"
DATABASE = "zoomguard_test"
SKIP_REASON = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install them "
    "(apt-get install postgresql) or set ZOOMGUARD_TEST_POSTGRES_URL"
)
# The cluster only lives for one test session: durability settings buy nothing but slowness.
SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c max_connections=200 "
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
)


def find_server_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: [int(part) for part in path.parent.name.split(".") if part.isdigit()],
    )
    for directory in reversed(versions):
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ThrowawayPostgres:
    """One PostgreSQL cluster in a temporary directory; ``start()`` gives its URL."""

    def __init__(self, binaries: Path) -> None:
        self._binaries = binaries
        self._directory = Path(tempfile.mkdtemp(prefix="zoomguard-test-pg-"))
        self._data = self._directory / "data"
        self._log = self._directory / "server.log"
        self._as_postgres_user = os.geteuid() == 0
        self._started = False
        self.port = 0

    def _run(self, program: str, arguments: Sequence[str]) -> None:
        command = [str(self._binaries / program), *arguments]
        if self._as_postgres_user:
            command = ["runuser", "-u", "postgres", "--", *command]
        # The postgres user may not be able to enter the caller's working directory.
        finished = subprocess.run(
            command, cwd=self._directory, capture_output=True, text=True, check=False
        )
        if finished.returncode != 0:
            log = self._log.read_text(errors="replace") if self._log.exists() else ""
            raise RuntimeError(
                f"{program} failed (exit {finished.returncode}): "
                f"{finished.stderr.strip() or finished.stdout.strip()}\n{log}"
            )

    def start(self) -> str:
        if self._as_postgres_user:
            shutil.chown(self._directory, user="postgres", group="postgres")
        self._run(
            "initdb",
            ["-D", str(self._data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
        )
        self.port = free_loopback_port()
        self.resume()
        server = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"
        self._create_database(self.port)
        return f"{server}/{DATABASE}"

    def pause(self, mode: str = "fast") -> None:
        """Stops the server, keeping its data: an outage, until ``resume()``. ``mode`` is
        pg_ctl's: fast (connections are cut, a clean shutdown) or immediate (as a crash)."""
        self._run("pg_ctl", ["-D", str(self._data), "-m", mode, "-w", "stop"])
        self._started = False

    def resume(self) -> None:
        """Starts the server (again) on its port and waits until it accepts connections."""
        self._run(
            "pg_ctl",
            [
                "-D",
                str(self._data),
                "-l",
                str(self._log),
                "-w",
                "-o",
                f"-p {self.port} -k {self._directory} {SERVER_OPTIONS}",
                "start",
            ],
        )
        self._started = True

    def _create_database(self, port: int) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")

    def stop(self) -> None:
        try:
            if self._started:
                self._run("pg_ctl", ["-D", str(self._data), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self._directory, ignore_errors=True)


class PostgresForTests:
    """The session's PostgreSQL database, made on the first ``url()`` (see the module docstring).

    Fixtures that may need PostgreSQL depend on this (cheap) object rather than on a URL, so that
    pytest tears them down before the server stops, yet SQLite-only runs start no server.
    """

    def __init__(self) -> None:
        self._url: str | None = None
        self._server: ThrowawayPostgres | None = None

    def url(self) -> str:
        """The database URL; skips the calling test where no PostgreSQL can be had."""
        if self._url is None:
            explicit = os.environ.get(POSTGRES_URL_ENV, "").strip()
            if explicit:
                self._url = explicit
            else:
                binaries = find_server_binaries()
                if binaries is None:
                    pytest.skip(SKIP_REASON)
                self._server = ThrowawayPostgres(binaries)
                self._url = self._server.start()
        return self._url

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
