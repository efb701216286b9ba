"""Fixtures for the dashboard tests; use with ``pytest_plugins = ("dashboard_fixtures",)``.

``sandbox`` (a small sandbox Zoom), ``sqlite_store`` (a migrated SQLite database of the test's
own, with a Vault) and ``fast_hashes`` (cheap scrypt for tests that sign in many times).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_helpers import SECRET_KEY

from zoomguard.crypto import Vault
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.store import Store, make_engine
from zoomguard.store import users as dashboard_users


@pytest.fixture
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap scrypt for tests that sign in many times (the format records the cost used)."""
    monkeypatch.setattr(dashboard_users, "SCRYPT_N", 2**10)


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
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(users=3, meetings=12, noncompliant_share=0.5, seed=11)
    with SandboxServer(config) as server:
        yield server
