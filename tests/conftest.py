"""The fixtures every test may ask for, by name: a database and a store (on SQLite and on
PostgreSQL), the app, a sandbox Zoom, an SMTP server, a webhook signer.

What they are built from lives in tests/support/ (the throwaway PostgreSQL server, the migrated
databases, the SMTP test server, the signing helpers, the sandbox account on a new store
that in-process e2e tests subclass). Tests are split by what they exercise:
tests/unit (in-process: rules, store, client, receiver through Flask's test client),
tests/sandbox (the Zoom stand-in itself, over HTTP), tests/e2e (zoomguard against the sandbox,
SMTP, a browser, or its own processes, over real sockets).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine
from support.dashboard import SECRET_KEY
from support.postgres import (
    POSTGRES_URL_ENV,
    REQUIRE_POSTGRES_ENV,
    SKIP_REASON,
    PostgresForTests,
    find_server_binaries,
)
from support.smtp import SmtpTestServer, TlsFiles, make_self_signed
from support.store import (
    BACKENDS,
    TEST_SECRET_KEY,
    MigratedDatabases,
    empty_all_tables,
    postgres_schema,
    sqlite_url,
)
from support.webhooks import SECRET as WEBHOOK_SECRET
from support.webhooks import signed_headers

from zoomguard.config import Settings
from zoomguard.crypto import Vault
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.store import Store, make_engine
from zoomguard.store import users as dashboard_users
from zoomguard.webhooks import create_app
from zoomguard.webhooks.context import EXTENSION_KEY


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sandbox_config(**fields): the SandboxConfig of the `sandbox` fixture for these tests",
    )
    # CI sets ZOOMGUARD_REQUIRE_POSTGRES=1: no server to test against must fail the run at once,
    # not skip the PostgreSQL tests.
    if (
        os.environ.get(REQUIRE_POSTGRES_ENV) == "1"
        and not os.environ.get(POSTGRES_URL_ENV)
        and find_server_binaries() is None
    ):
        raise pytest.UsageError(f"{REQUIRE_POSTGRES_ENV}=1 but {SKIP_REASON}")


# --- PostgreSQL and the store -----------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresForTests]:
    provider = PostgresForTests()
    yield provider
    provider.close()


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def empty_db_url(
    db_backend: str, tmp_path: Path, postgres_server: PostgresForTests
) -> Iterator[str]:
    """A clean, empty database of the parametrised backend (no tables, not migrated)."""
    if db_backend == "sqlite":
        yield sqlite_url(tmp_path / "db" / "zoomguard.db")
    else:
        with postgres_schema(postgres_server.url()) as url:
            yield url


@pytest.fixture(scope="session")
def migrated_databases(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresForTests
) -> Iterator[MigratedDatabases]:
    databases = MigratedDatabases(tmp_path_factory.mktemp("migrated"), postgres_server.url)
    yield databases
    databases.close()


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, migrated_databases: MigratedDatabases) -> str:
    """A clean database at head: no rows, ids starting at 1."""
    if db_backend == "sqlite":
        path = tmp_path / "db" / "zoomguard.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        # The engine that migrated it is disposed, so the WAL is checkpointed into the file.
        shutil.copyfile(migrated_databases.sqlite_file(), path)
        return sqlite_url(path)
    url = migrated_databases.postgres_url()
    empty_all_tables(url)
    return url


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(db_engine: Engine) -> Store:
    return Store(db_engine, Vault(TEST_SECRET_KEY))


@pytest.fixture
def store_without_key(db_engine: Engine) -> Store:
    return Store(db_engine, None)


@pytest.fixture
def sqlite_store(tmp_path: Path, migrated_databases: object) -> Iterator[Store]:
    """A migrated SQLite database of this test's own, with a Vault."""
    source = migrated_databases.sqlite_file()  # type: ignore[attr-defined]
    path = tmp_path / "db" / "dashboard.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)
    engine = make_engine(f"sqlite:///{path}")
    yield Store(engine, Vault(SECRET_KEY))
    engine.dispose()


@pytest.fixture
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap scrypt for tests that sign in many times (the format records the cost used)."""
    monkeypatch.setattr(dashboard_users, "SCRYPT_N", 2**10)


# --- the app and its webhooks ----------------------------------------------------------------


@pytest.fixture
def app(store: Store) -> Iterator[Flask]:
    """The web process's app (receiver, health, dashboard) over the test's store."""
    made = create_app(Settings(zoom_webhook_secret_token=WEBHOOK_SECRET), store)
    yield made
    # The receiver's writer thread holds a connection of the store's pool: give it back.
    made.extensions[EXTENSION_KEY].inbox_writer.close()


@pytest.fixture
def signer() -> Callable[[bytes], dict[str, str]]:
    """Signs a webhook body as Zoom would, with the app's secret: the headers to post it with."""
    return lambda body: signed_headers(body, secret=WEBHOOK_SECRET)


# --- servers: a sandbox Zoom and an SMTP server ----------------------------------------------


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    """A sandbox Zoom on a free loopback port; ``@pytest.mark.sandbox_config(...)`` sizes it."""
    marker = request.node.get_closest_marker("sandbox_config")
    config = SandboxConfig(**marker.kwargs) if marker is not None else SandboxConfig()
    with SandboxServer(config) as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    return make_self_signed(tmp_path)
